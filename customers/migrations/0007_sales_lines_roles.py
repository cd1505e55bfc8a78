"""Give Operations the sales-line models (mappings, returns, allocations, lines)."""

from django.db import migrations

from common.roles import ACCOUNT_MANAGERS, FULL, OPERATIONS, grant_permissions

MODELS = ("salesline", "returndocument", "refundallocation", "sourcemapping")


def forwards(apps, schema_editor):
    grant_permissions(
        apps,
        {
            OPERATIONS: {f"customers.{m}": FULL for m in MODELS},
            ACCOUNT_MANAGERS: {f"customers.{m}": ("view",) for m in MODELS[:3]},
        },
    )


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_search_indexes")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
