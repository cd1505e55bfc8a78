"""Indexes for the customer search and deep list pages (issue #19), PostgreSQL only.

Built `CONCURRENTLY` (the migration is not atomic), so a live table stays writable while a
million-row index is built. SQLite keeps plain scans (see `customers.search`).
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    # Case-insensitive prefix search on code and e-mail: UPPER(col) LIKE 'X%'.
    "customer_code_upper_like": "(UPPER(code) text_pattern_ops)",
    "customer_email_upper_like": "(UPPER(email) text_pattern_ops)",
    # Phone prefix: phone LIKE '+86%'.
    "customer_phone_like": "(phone varchar_pattern_ops)",
    # Name contains, any case: UPPER(name) LIKE '%X%' through trigrams.
    "customer_name_upper_trgm": "USING gin (UPPER(name) gin_trgm_ops)",
    # Deep pages of the list ordered by code read (code, id) only: an index-only scan.
    "customer_code_id": "(code) INCLUDE (id)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON customers_customer {definition}"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0005_sales_lines"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create, drop, elidable=False),
    ]
