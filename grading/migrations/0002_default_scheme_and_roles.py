"""Seed the five default grades and the active default scheme; grant grading permissions."""

from decimal import Decimal

from django.db import migrations

from common.roles import ACCOUNT_MANAGERS, FULL, OPERATIONS, grant_permissions

# code, name, rank, min_score, cadence, hysteresis, downgrade needs review, first response (min)
DEFAULT_LADDER = (
    ("strategic", "Strategic", 5, "70", "quarterly", "2", True, 60, "First response within 1 hour"),
    ("key", "Key", 4, "55", "quarterly", "2", True, 240, "First response within 4 hours"),
    ("growth", "Growth", 3, "40", "monthly", "1", True, 480, "First response within 8 hours"),
    ("standard", "Standard", 2, "25", "monthly", "0", False, 1440, "First response within 1 day"),
    ("basic", "Basic", 1, "0", "monthly", "0", False, 2880, "First response within 2 days"),
)


def forwards(apps, schema_editor):
    Grade = apps.get_model("grading", "Grade")
    GradingScheme = apps.get_model("grading", "GradingScheme")
    SchemeGrade = apps.get_model("grading", "SchemeGrade")

    scheme, created = GradingScheme.objects.get_or_create(
        name="default",
        version=1,
        defaults={
            "status": "active",
            "description": "TierHub default scheme v1 (DESIGN.md).",
            "r_thresholds": [30, 90, 180, 365],
            "f_thresholds": [2, 4, 8, 16],
            "m_thresholds": ["1000", "5000", "20000", "100000"],
        },
    )
    for code, name, rank, min_score, cadence, hysteresis, review, minutes, level in DEFAULT_LADDER:
        grade, _ = Grade.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "rank": rank,
                "review_cadence": cadence,
                "first_response_minutes": minutes,
                "service_level": level,
            },
        )
        if created:
            SchemeGrade.objects.create(
                scheme=scheme,
                grade=grade,
                min_score=Decimal(min_score),
                hysteresis=Decimal(hysteresis),
                cadence=cadence,
                warn_after=1,
                downgrade_after=2,
                downgrade_needs_review=review,
            )

    grant_permissions(
        apps,
        {
            OPERATIONS: {
                "grading.grade": FULL,
                "grading.gradingscheme": FULL,
                "grading.schemegrade": FULL,
                "grading.gradingrun": ("add", "view"),
                "grading.scoresnapshot": ("view",),
                "grading.gradechange": ("view", "change"),
                "grading.gradeoverride": FULL,
                "grading.gradeauditentry": ("view",),
                "grading.customergrade": ("view",),
                "django_celery_beat.periodictask": FULL,
                "django_celery_beat.crontabschedule": FULL,
                "django_celery_results.taskresult": ("view",),
            },
            ACCOUNT_MANAGERS: {
                "grading.grade": ("view",),
                "grading.scoresnapshot": ("view",),
                "grading.gradechange": ("view",),
                "grading.customergrade": ("view",),
                "grading.gradeauditentry": ("view",),
            },
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0001_initial"),
        ("customers", "0002_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("django_celery_results", "0014_alter_taskresult_status"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
