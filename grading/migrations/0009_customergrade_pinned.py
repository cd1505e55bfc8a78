# The pin moves onto the grade-state row it guards (issue #11): a run's guarded UPDATE that
# waits for the row re-checks the flag on its new version.
#
# On SQLite the column is added in place: Django would rebuild the table for a NOT NULL
# column, and renaming the rebuilt table fails while the customer-delete trigger of 0008
# names it.

from django.db import migrations, models

FIELD = models.BooleanField(
    default=False,
    help_text="An override or appeal lock is active. Set and cleared with the override, on this row, so a run's guarded update is re-checked against it (docs/operations.md).",
    verbose_name="pinned",
)


def column_add(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            "ALTER TABLE grading_customergrade ADD COLUMN pinned bool NOT NULL DEFAULT 0"
        )
    else:
        field = FIELD.clone()
        field.set_attributes_from_name("pinned")
        schema_editor.add_field(apps.get_model("grading", "CustomerGrade"), field)


def pins_backfill(apps, schema_editor):
    CustomerGrade = apps.get_model("grading", "CustomerGrade")
    GradeOverride = apps.get_model("grading", "GradeOverride")
    active = GradeOverride.objects.filter(ended_at__isnull=True).values("customer_id")
    CustomerGrade.objects.filter(customer_id__in=active).update(pinned=True)


def column_remove(apps, schema_editor):
    schema_editor.execute("ALTER TABLE grading_customergrade DROP COLUMN pinned")


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0008_run_rows_customer_trigger"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name="customergrade", name="pinned", field=FIELD),
            ],
            database_operations=[migrations.RunPython(column_add, column_remove)],
        ),
        migrations.RunPython(pins_backfill, migrations.RunPython.noop),
    ]
