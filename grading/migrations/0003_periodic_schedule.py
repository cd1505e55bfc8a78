"""The beat schedule, kept in the database so ops can edit it in the admin."""

from django.conf import settings
from django.db import migrations

SCHEDULE = (
    # (name, task, crontab minute, hour, day_of_month, description)
    (
        "Monthly grading",
        "grading.periodic_grading",
        "0",
        "2",
        "1",
        "02:00 project time on the 1st: grade the month that ended (quarterly grades are "
        "reviewed in the runs of Jan/Apr/Jul/Oct 1).",
    ),
    (
        "Send notification e-mails",
        "common.send_notification_emails",
        "*/5",
        "*",
        "*",
        "Every 5 minutes: e-mail notifications whose on-commit send did not go out.",
    ),
)


def forwards(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minute, hour, day, description in SCHEDULE:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day,
            month_of_year="*",
            day_of_week="*",
            timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0002_default_scheme_and_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
