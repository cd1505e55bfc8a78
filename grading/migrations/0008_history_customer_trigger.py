"""History rows refer to their customer without a per-row foreign-key check.

Snapshots, changes and audit rows lose the database constraint on `customer_id`
(`grading.models.HISTORY_CUSTOMER`); a trigger on the customer table deletes them with the
customer instead, whoever deletes it (the ORM's cascade has already deleted them by then, but
a raw DELETE or a delete racing a grading run's write relies on the trigger).

On SQLite a trigger goes with its table: a later migration that rebuilds customers_customer
there must create it again (tests/grading/test_runs.py deletes a customer with raw SQL and
fails if it is missing).
"""

import django.db.models.deletion
from django.db import migrations, models

#: The history tables, children before the rows they point to.
HISTORY_TABLES = ("grading_gradeauditentry", "grading_scoresnapshot", "grading_gradechange")
TRIGGER = "grading_customer_history_delete"


def trigger_create(apps, schema_editor):
    deletes = " ".join(
        f"DELETE FROM {table} WHERE customer_id = OLD.id;" for table in HISTORY_TABLES
    )
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {deletes} RETURN OLD; END $$"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {TRIGGER} BEFORE DELETE ON customers_customer"
            f" FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()"
        )
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER {TRIGGER} BEFORE DELETE ON customers_customer"
            f" FOR EACH ROW BEGIN {deletes} END"
        )


def trigger_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON customers_customer")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_points_entry"),
        ("grading", "0007_history_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="gradeauditentry",
            name="customer",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="grade_audit",
                to="customers.customer",
                verbose_name="customer",
            ),
        ),
        migrations.AlterField(
            model_name="gradechange",
            name="customer",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="grade_changes",
                to="customers.customer",
                verbose_name="customer",
            ),
        ),
        migrations.AlterField(
            model_name="scoresnapshot",
            name="customer",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="snapshots",
                to="customers.customer",
                verbose_name="customer",
            ),
        ),
        migrations.RunPython(trigger_create, trigger_drop),
    ]
