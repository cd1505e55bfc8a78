"""The rows a grading run writes per customer refer to it without a per-row foreign-key check.

Snapshots, changes, audit rows and grade states lose the database constraint on
`customer_id` (`grading.models.RUN_WRITTEN_CUSTOMER`), and grade states the one on `grade_id`
(grades are protected in the ORM and never deleted, as `HISTORY_GRADE`). A trigger on the
customer table deletes those rows with the customer instead, whoever deletes it (the ORM's
cascade has already deleted them by then, but a raw DELETE or a delete racing a grading
run's write relies on the trigger).

On SQLite a trigger goes with its table: a later migration that rebuilds customers_customer
there must create it again (tests/grading/test_runs.py deletes a customer with raw SQL and
fails if it is missing).
"""

import django.db.models.deletion
from django.db import migrations, models


#: The tables, children before the rows they point to.
RUN_TABLES = (
    "grading_gradeauditentry",
    "grading_scoresnapshot",
    "grading_gradechange",
    "grading_customergrade",
)
TRIGGER = "grading_customer_rows_delete"


def trigger_create(apps, schema_editor):
    deletes = " ".join(f"DELETE FROM {table} WHERE customer_id = OLD.id;" for table in RUN_TABLES)
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
            model_name="customergrade",
            name="customer",
            field=models.OneToOneField(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                primary_key=True,
                related_name="grade_state",
                serialize=False,
                to="customers.customer",
                verbose_name="customer",
            ),
        ),
        migrations.AlterField(
            model_name="customergrade",
            name="grade",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="customer_states",
                to="grading.grade",
                verbose_name="grade",
            ),
        ),
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
