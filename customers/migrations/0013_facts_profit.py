"""The customer-facts buckets keep the month's recorded profit in cents and its orders without
a recorded profit (issue 15), so the reports and the what-if read the window's profit from
them instead of the orders. The columns are added, the trigger functions installed again from
customers.facts, and where facts were built (a state row exists) every bucket is built again
(`facts_rebuild`), so the new columns are exact from the start. Going back keeps the columns
(their default lets the earlier trigger functions insert buckets without them).
"""

from django.db import migrations, models

COLUMNS_SQL = """
ALTER TABLE customers_customermonth
    ADD COLUMN profit_cents bigint NOT NULL DEFAULT 0,
    ADD COLUMN unknown_profit integer NOT NULL DEFAULT 0
"""


def profit_add(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    from customers import facts

    schema_editor.execute(COLUMNS_SQL)
    facts.triggers_install(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {facts.STATE} WHERE id = 1")
        built = cursor.fetchone() is not None
    if built:
        facts.facts_rebuild(using=connection)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0012_facts_insert_append"),
    ]

    operations = [
        migrations.RunPython(profit_add, migrations.RunPython.noop),
        migrations.AddField(
            model_name="customermonth",
            name="profit_cents",
            field=models.BigIntegerField(
                default=0,
                help_text="Sum of the recorded profits of the month's counted orders.",
                verbose_name="recorded profit in cents",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="customermonth",
            name="unknown_profit",
            field=models.IntegerField(default=0, verbose_name="orders without a recorded profit"),
            preserve_default=False,
        ),
    ]
