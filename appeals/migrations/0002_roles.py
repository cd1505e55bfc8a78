"""Give the staff roles the appeals app's permissions (and Operations the portal accounts).

Operations: everything on appeals (review, decide, download evidence) and on customer portal
accounts (invite). Account managers: read appeals of their customers and keep the follow-up
log; they cannot download evidence (only the customer and Operations can).
"""

from django.db import migrations

from common.roles import ACCOUNT_MANAGERS, FULL, OPERATIONS, grant_permissions


def forwards(apps, schema_editor):
    grant_permissions(
        apps,
        {
            OPERATIONS: {
                "appeals.appeal": FULL,
                "appeals.evidence": FULL,
                "appeals.appealevent": ("view",),
                "appeals.followup": FULL,
                "customers.customeraccount": FULL,
            },
            ACCOUNT_MANAGERS: {
                "appeals.appeal": ("view",),
                "appeals.followup": ("add", "view"),
                "customers.customeraccount": ("view",),
            },
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("appeals", "0001_initial"),
        ("customers", "0003_customer_account"),
        ("customers", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
