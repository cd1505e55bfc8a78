"""The beat schedule, declared once: every periodic job of every app, by task name.

Kept in the database (django-celery-beat's DatabaseScheduler) so that Operations can change a
time or pause a job in the admin. `beat_schedule_sync` creates the entries that are missing
and leaves existing ones as ops edited them; it runs after every `migrate` (post_migrate) and
as `manage.py beat_schedule` (`--reset` puts the declared times back). Times are in the
project time zone. What each job does: docs/operations.md, "Periodic jobs".
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction


@dataclass(frozen=True, slots=True)
class BeatEntry:
    name: str
    task: str
    minute: str
    hour: str
    day_of_month: str
    description: str


BEAT_SCHEDULE: tuple[BeatEntry, ...] = (
    BeatEntry(
        "Monthly grading",
        "grading.periodic_grading",
        "0",
        "2",
        "1",
        "02:00 project time on the 1st: grade the month that ended (quarterly grades are "
        "reviewed in the runs of Jan/Apr/Jul/Oct 1).",
    ),
    BeatEntry(
        "Retain snapshots",
        "grading.retain_snapshots",
        "0",
        "5",
        "1",
        "05:00 project time on the 1st, after the month's grading run: archive (or drop) the "
        "snapshots of runs older than the last GRADING_SNAPSHOT_HOT_PERIODS periods.",
    ),
    BeatEntry(
        "Expire overrides",
        "grading.expire_overrides",
        "15",
        "1",
        "*",
        "01:15 project time daily: end overrides and appeal locks past expiry "
        "(before the 02:00 grading run on the 1st).",
    ),
    BeatEntry(
        "Check grades",
        "grading.check_grades",
        "45",
        "1",
        "*",
        "01:45 project time daily: mark runs whose process is gone as failed, check pins, "
        "the audit history and run counters; Operations are notified of any violation.",
    ),
    BeatEntry(
        "Award growth points",
        "benefits.award_growth_tasks",
        "0",
        "3",
        "*",
        "03:00 project time daily: credit growth points for tasks completed up to today.",
    ),
    BeatEntry(
        "Run nudges",
        "benefits.run_nudges",
        "30",
        "3",
        "*",
        "03:30 project time daily: new-customer packs, no-order reminders, category "
        "recommendations (each once per trigger).",
    ),
    BeatEntry(
        "Check the manager queue",
        "manager.check_queue_needs",
        "30",
        "4",
        "*",
        "04:30 project time daily, after the other nightly jobs: compare the manager queue's "
        "needs table with a recomputation, rebuild the customers that differ, and notify "
        "Operations when any did.",
    ),
    BeatEntry(
        "Send notification e-mails",
        "common.send_notification_emails",
        "*/5",
        "*",
        "*",
        "Every 5 minutes: e-mail notifications whose on-commit send did not go out.",
    ),
)


def beat_schedule_sync(*, reset: bool = False, using: str = "default") -> list[str]:
    """Create the declared entries that are missing; return their names.

    Idempotent. An entry that exists keeps what ops set (time, enabled), unless `reset`
    puts the declared task, time and description back.
    """
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    created = []
    with transaction.atomic(using=using):
        for entry in BEAT_SCHEDULE:
            crontab, _ = CrontabSchedule.objects.using(using).get_or_create(
                minute=entry.minute,
                hour=entry.hour,
                day_of_month=entry.day_of_month,
                month_of_year="*",
                day_of_week="*",
                timezone=settings.TIME_ZONE,
            )
            declared = {"task": entry.task, "crontab": crontab, "description": entry.description}
            task, was_created = PeriodicTask.objects.using(using).get_or_create(
                name=entry.name, defaults=declared
            )
            if was_created:
                created.append(entry.name)
            elif reset:
                for field, value in declared.items():
                    setattr(task, field, value)
                task.enabled = True
                task.save()  # save(), not update(): beat notices a changed schedule at once
    return created
