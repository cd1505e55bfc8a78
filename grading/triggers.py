"""The database trigger that deletes a run's rows with their customer, kept in place.

Snapshots, changes, audit rows and grade states refer to their customer without a per-row
foreign-key check (`grading.models.RUN_WRITTEN_CUSTOMER`); a trigger on the customer table
deletes them with the customer instead, however it is deleted. Migration 0008 created it;
on SQLite a trigger goes with its table, so a later migration that rebuilds the customer
table drops it silently. `customer_rows_trigger_ensure` (re)creates it and runs after every
`migrate` (post_migrate): the re-runnable step that keeps it there.
"""

from __future__ import annotations

from typing import Any

from django.db import connections

TRIGGER = "grading_customer_rows_delete"


def _tables() -> tuple[str, str]:
    from customers.models import Customer
    from grading.models import CustomerGrade, GradeAuditEntry, GradeChange, ScoreSnapshot

    # Children before the rows they point to.
    children = (GradeAuditEntry, ScoreSnapshot, GradeChange, CustomerGrade)
    deletes = " ".join(
        f"DELETE FROM {model._meta.db_table} WHERE customer_id = OLD.id;" for model in children
    )
    return Customer._meta.db_table, deletes


def customer_rows_trigger_ensure(using: str = "default") -> bool:
    """Create the trigger where it is missing; return True when it had to be created."""
    connection = connections[using]
    customers, deletes = _tables()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT 1 FROM pg_trigger WHERE tgname = %s AND NOT tgisinternal", [TRIGGER]
            )
            if cursor.fetchone():
                return False
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$"
                f" BEGIN {deletes} RETURN OLD; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER {TRIGGER} BEFORE DELETE ON {customers}"
                f" FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()"
            )
            return True
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = %s", [TRIGGER]
            )
            if cursor.fetchone():
                return False
            cursor.execute(
                f"CREATE TRIGGER {TRIGGER} BEFORE DELETE ON {customers}"
                f" FOR EACH ROW BEGIN {deletes} END"
            )
            return True
    return False


def post_migrate_trigger_ensure(sender: Any, using: str = "default", **kwargs: Any) -> None:
    customer_rows_trigger_ensure(using=using)
