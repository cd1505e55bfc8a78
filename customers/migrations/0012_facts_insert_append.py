"""The customer-facts order-insert trigger appends to a bucket when the new orders come after
its last day instead of rebuilding it, and the sales-line-insert trigger adds the new lines'
categories to the buckets (issue 15): the trigger functions are installed again from
customers.facts. The buckets stay as they are (both ways give the same ones), so going
back keeps the new functions."""

from django.db import migrations


def triggers_reinstall(apps, schema_editor):
    from customers import facts

    facts.triggers_install(schema_editor.connection)  # PostgreSQL only


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0011_customer_facts"),
    ]

    operations = [
        migrations.RunPython(triggers_reinstall, migrations.RunPython.noop),
    ]
