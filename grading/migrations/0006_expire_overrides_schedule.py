"""Daily beat entry ending expired overrides and appeal locks."""

from django.conf import settings
from django.db import migrations


def forwards(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="15",
        hour="1",
        day_of_month="*",
        month_of_year="*",
        day_of_week="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.get_or_create(
        name="Expire overrides",
        defaults={
            "task": "grading.expire_overrides",
            "crontab": crontab,
            "description": "01:15 project time daily: end overrides and appeal locks past expiry "
            "(before the 02:00 grading run on the 1st).",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("grading", "0005_run_population_cuts")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
