# The pin moves onto the grade-state row it guards (issue #11): a run's guarded UPDATE that
# waits for the row re-checks the flag on its new version.

from django.db import migrations, models


def pinned_backfill(apps, schema_editor):
    CustomerGrade = apps.get_model("grading", "CustomerGrade")
    GradeOverride = apps.get_model("grading", "GradeOverride")
    active = GradeOverride.objects.filter(ended_at__isnull=True).values("customer_id")
    CustomerGrade.objects.filter(customer_id__in=active).update(pinned=True)


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0008_run_rows_customer_trigger"),
    ]

    operations = [
        migrations.AddField(
            model_name="customergrade",
            name="pinned",
            field=models.BooleanField(
                default=False,
                help_text="An override or appeal lock is active. Set and cleared with the override, on this row, so a run's guarded update is re-checked against it (docs/operations.md).",
                verbose_name="pinned",
            ),
        ),
        migrations.RunPython(pinned_backfill, migrations.RunPython.noop),
    ]
