"""The beat schedule is declared once and synced idempotently (common/schedule.py)."""

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from common.schedule import BEAT_SCHEDULE, beat_schedule_sync
from tierhub.celery import app


@pytest.mark.django_db
def test_every_declared_job_exists_after_migrate_and_names_a_registered_task():
    app.loader.import_default_modules()
    tasks = dict(PeriodicTask.objects.values_list("name", "task"))
    for entry in BEAT_SCHEDULE:
        assert tasks[entry.name] == entry.task
        assert entry.task in app.tasks, entry.task
    assert "Check grades" in tasks


@pytest.mark.django_db
def test_sync_is_idempotent_and_keeps_what_ops_changed():
    job = PeriodicTask.objects.get(name="Check grades")
    job.enabled = False
    job.save()
    PeriodicTask.objects.filter(name="Run nudges").delete()

    assert beat_schedule_sync() == ["Run nudges"]
    assert beat_schedule_sync() == []
    assert PeriodicTask.objects.get(name="Check grades").enabled is False
    assert PeriodicTask.objects.filter(name__in=[e.name for e in BEAT_SCHEDULE]).count() == len(
        BEAT_SCHEDULE
    )


@pytest.mark.django_db
def test_the_command_resets_the_declared_times(capsys):
    job = PeriodicTask.objects.get(name="Check grades")
    job.enabled = False
    job.description = "changed"
    job.save()

    call_command("beat_schedule", "--reset")

    job.refresh_from_db()
    assert job.enabled is True
    assert job.description.startswith("01:45")
    assert "periodic jobs declared, 0 created, the others reset." in capsys.readouterr().out
