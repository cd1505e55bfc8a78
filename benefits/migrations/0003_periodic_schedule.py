"""The benefits app's daily jobs in the beat schedule (editable by ops in the admin)."""

from django.conf import settings
from django.db import migrations

SCHEDULE = (
    # (name, task, crontab minute, hour, description)
    (
        "Award growth points",
        "benefits.award_growth_tasks",
        "0",
        "3",
        "03:00 project time daily: credit growth points for tasks completed up to today.",
    ),
    (
        "Run nudges",
        "benefits.run_nudges",
        "30",
        "3",
        "03:30 project time daily: new-customer packs, no-order reminders, category "
        "recommendations (each once per trigger).",
    ),
)


def forwards(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minute, hour, description in SCHEDULE:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month="*",
            month_of_year="*",
            day_of_week="*",
            timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0002_catalog_and_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
