"""Two transactions appending to one customer-month at once keep its bucket exact.

PostgreSQL only. The first transaction appends day 10 to a bucket whose last day is the 5th
and holds its commit; the second appends day 7 meanwhile, so its order lands before the
first one's. The order-insert trigger locks the customers before it reads the bucket
(`customers.facts.APPEND_LOCK`): the second waits, then sees day 10 and rebuilds the bucket.
The mutant twin empties the lock, and the second transaction, having read the last day as
the 5th, appends across the first one's day: the test catches it (docs/grading.md,
"Customer facts").
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from common.dates import local_midnight
from customers import facts
from customers.models import Customer, CustomerMonth, Order

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]

MAY = dt.date(2025, 5, 1)


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("customer facts are kept on PostgreSQL only")
    facts.facts_rebuild()  # the state row (a transactional test database starts empty)


def _order(customer: Customer, no: str, day: int) -> Order:
    return Order(
        order_no=no,
        customer=customer,
        placed_at=local_midnight(MAY.replace(day=day)) + dt.timedelta(hours=12),
        amount=Decimal("1.00"),
    )


def _wait_for_a_lock_wait(timeout: float = 30) -> bool:
    """True once another session waits for a lock (the second insert), False at timeout."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.005)
    return False


class Appender(threading.Thread):
    """Inserts one order in its own transaction on its own connection."""

    def __init__(self, order: Order, hold: threading.Event | None = None) -> None:
        super().__init__(daemon=True)
        self.order = order
        self.hold = hold
        self.inserted = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                Order.objects.bulk_create([self.order])
                self.inserted.set()
                if self.hold is not None:
                    assert self.hold.wait(60)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connections.close_all()


def _race() -> tuple[tuple, tuple]:
    """Day 5 stored; day 10 held uncommitted while day 7 is inserted. (kept, rebuilt)."""
    customer = Customer.objects.create(code="RACE", name="Race")
    Order.objects.bulk_create([_order(customer, "R5", 5)])
    release = threading.Event()
    first = Appender(_order(customer, "R10", 10), hold=release)
    first.start()
    assert first.inserted.wait(60)
    second = Appender(_order(customer, "R7", 7))
    second.start()
    waited = _wait_for_a_lock_wait()
    release.set()
    first.join(60)
    second.join(60)
    assert waited, "the second insert never waited for the first"
    assert first.error is None, first.error
    assert second.error is None, second.error

    def bucket() -> tuple:
        row = CustomerMonth.objects.get(customer=customer, month=MAY)
        return (row.orders, row.first_day.day, row.last_day.day, row.gap_squares)

    kept = bucket()
    facts.facts_rebuild()
    return kept, bucket()


def test_two_appends_to_one_month_at_once_keep_it_exact():
    kept, rebuilt = _race()
    # Days 5, 7, 10: gaps 2 and 3.
    assert rebuilt == (3, 5, 10, 4 + 9)
    assert kept == rebuilt


def test_without_the_lock_the_second_append_goes_wrong(monkeypatch):
    """The mutant twin: no lock before the bucket is read. The race test would fail."""
    monkeypatch.setattr(facts, "APPEND_LOCK", "")
    facts.triggers_install()
    try:
        kept, rebuilt = _race()
    finally:
        monkeypatch.undo()
        facts.triggers_install()
    assert rebuilt == (3, 5, 10, 13)
    assert kept != rebuilt
