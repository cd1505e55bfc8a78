"""Create the staff roles and give them the customers app's permissions."""

from django.db import migrations

from common.roles import ACCOUNT_MANAGERS, FULL, OPERATIONS, grant_permissions

CUSTOMER_DATA = (
    "category",
    "order",
    "campaign",
    "campaigninvitation",
    "referral",
    "complaint",
    "productreview",
    "serviceticket",
)


def forwards(apps, schema_editor):
    grant_permissions(
        apps,
        {
            OPERATIONS: {
                "customers.customer": (*FULL, "view_all_customers"),
                **{f"customers.{m}": FULL for m in CUSTOMER_DATA},
            },
            ACCOUNT_MANAGERS: {
                "customers.customer": ("view",),
                **{f"customers.{m}": ("view",) for m in CUSTOMER_DATA},
                "customers.serviceticket": ("view", "change"),
            },
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
