"""The customer-delete trigger is put back by the re-runnable post-migrate step, on both
databases (a table rebuild on SQLite drops it silently)."""

import pytest
from django.core.management import call_command
from django.db import connection

from grading.models import GradeAuditEntry, ScoreSnapshot
from grading.triggers import TRIGGER, customer_rows_trigger_ensure
from tests.grading.factories import ScoreSnapshotFactory


def _drop_trigger():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON customers_customer")
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")


def _delete_customer_raw(pk):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM customers_customer WHERE id = %s", [pk])


@pytest.mark.django_db
def test_the_trigger_exists_after_migrate_and_ensuring_it_again_changes_nothing():
    assert customer_rows_trigger_ensure() is False


@pytest.mark.django_db
def test_a_dropped_trigger_is_recreated_by_the_post_migrate_step():
    _drop_trigger()
    assert customer_rows_trigger_ensure() is True

    snapshot = ScoreSnapshotFactory()
    _delete_customer_raw(snapshot.customer_id)
    assert not ScoreSnapshot.objects.filter(customer_id=snapshot.customer_id).exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_migrate_puts_a_lost_trigger_back():
    _drop_trigger()
    call_command("migrate", verbosity=0)

    snapshot = ScoreSnapshotFactory()
    GradeAuditEntry.objects.create(
        customer_id=snapshot.customer_id, new_grade=snapshot.grade_after, source="manual"
    )
    _delete_customer_raw(snapshot.customer_id)
    assert not ScoreSnapshot.objects.filter(customer_id=snapshot.customer_id).exists()
    assert not GradeAuditEntry.objects.filter(customer_id=snapshot.customer_id).exists()
