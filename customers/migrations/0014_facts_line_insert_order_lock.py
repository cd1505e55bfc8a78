"""The customer-facts sales-line-insert trigger locks the orders its lines name before it
reads them (issue 15): an order moved to another customer or month, counted or no longer
counted, or deleted by a concurrent transaction no longer leaves the new lines' categories
in the wrong bucket. The trigger functions are installed again from customers.facts. The
buckets stay as they are (`manage.py facts_rebuild` repairs any a past race left wrong), so
going back keeps the new functions."""

from django.db import migrations


def triggers_reinstall(apps, schema_editor):
    from customers import facts

    facts.triggers_install(schema_editor.connection)  # PostgreSQL only


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0013_facts_profit"),
    ]

    operations = [
        migrations.RunPython(triggers_reinstall, migrations.RunPython.noop),
    ]
