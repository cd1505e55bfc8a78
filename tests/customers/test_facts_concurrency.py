"""Concurrent writers of one customer's orders and sales lines keep the buckets exact.

PostgreSQL only; each race holds one transaction uncommitted while another writes, then
compares the buckets kept with the ones `facts_rebuild` builds from the orders.

Two appends to one customer-month: the first transaction appends day 10 to a bucket whose
last day is the 5th and holds its commit; the second appends day 7 meanwhile, so its order
lands before the first one's. The order-insert trigger locks the customers before it reads
the bucket (`customers.facts.APPEND_LOCK`): the second waits, then sees day 10 and rebuilds
the bucket. The mutant twin empties the lock, and the second transaction, having read the
last day as the 5th, appends across the first one's day: the test catches it
(docs/grading.md, "Customer facts").

Sales lines inserted while their order changes: one transaction moves the order to another
customer or month, counts it or no longer counts it, or deletes it, while another inserts a
line with a category for it, in either order. The sales-line-insert trigger locks the
orders its lines name before reading them (`customers.facts.LINE_ORDER_LOCK`): the line
insert waits for an uncommitted change and then reads the order as changed, and a change
waits for an uncommitted line insert and then rebuilds with its line. The mutant twin
installs the function as it was before migration 0014 (the orders read before any lock,
then the customers locked): the line's category lands in the bucket the order left, or is
missed when the order was just counted.

Engagement months: a complaint inserted, deleted or moved away by one transaction held
uncommitted while another inserts a complaint into the same month. The engagement triggers
only add deltas (INSERT ... ON CONFLICT DO UPDATE): the second waits on the month's row and
adds to what the first committed, or inserts it again after the first deleted it; no lock
is taken, so there is no mutant twin to remove one.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction

from common.dates import local_midnight
from customers import facts
from customers.models import (
    Complaint,
    Customer,
    CustomerEngagementMonth,
    CustomerMonth,
    Order,
    SalesLine,
)
from tests.customers.factories import CategoryFactory, SalesLineFactory

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


def _wait_for_a_lock_wait(timeout: float = 30, running: threading.Thread | None = None) -> bool:
    """True once another session waits for a lock (the second insert), False at timeout or
    once `running` has finished without waiting."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline and (running is None or running.is_alive()):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.005)
    return False


class Writer(threading.Thread):
    """Runs `write` in its own transaction on its own connection, holding the commit until
    `hold` is set."""

    def __init__(self, write: Callable[[], Any], hold: threading.Event | None = None) -> None:
        super().__init__(daemon=True)
        self.write = write
        self.hold = hold
        self.written = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                self.write()
                self.written.set()
                if self.hold is not None:
                    assert self.hold.wait(60)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connections.close_all()


def _interleave(
    first_write: Callable[[], Any], second_write: Callable[[], Any]
) -> tuple[bool, BaseException | None, BaseException | None]:
    """Run `first_write` and hold its commit until `second_write`, on another connection, is
    seen waiting for a lock (or has finished); then commit both. (waited, errors)."""
    release = threading.Event()
    first = Writer(first_write, hold=release)
    first.start()
    assert first.written.wait(60)
    second = Writer(second_write)
    second.start()
    waited = _wait_for_a_lock_wait(running=second)
    release.set()
    first.join(60)
    second.join(60)
    return waited, first.error, second.error


def _race() -> tuple[tuple, tuple]:
    """Day 5 stored; day 10 held uncommitted while day 7 is inserted. (kept, rebuilt)."""
    customer = Customer.objects.create(code="RACE", name="Race")
    Order.objects.bulk_create([_order(customer, "R5", 5)])
    waited, first_error, second_error = _interleave(
        lambda: Order.objects.bulk_create([_order(customer, "R10", 10)]),
        lambda: Order.objects.bulk_create([_order(customer, "R7", 7)]),
    )
    assert waited, "the second insert never waited for the first"
    assert first_error is None, first_error
    assert second_error is None, second_error

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


# --- Sales lines inserted while their order changes ---

JUNE = dt.date(2025, 6, 1)

#: The sales-line-insert trigger as it was before migration 0014: the orders read before any
#: lock, then the customers locked (the mutant twin installs it).
OLD_LINE_INSERT_SQL = f"""
CREATE OR REPLACE FUNCTION customers_facts_line_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    ids bigint[];
    months date[];
    cats integer[];
BEGIN
    SELECT time_zone, statuses INTO s FROM {facts.STATE} WHERE id = 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(o.customer_id),
        array_agg(date_trunc('month', o.placed_at AT TIME ZONE s.time_zone)::date),
        array_agg(l.category_id::integer) INTO ids, months, cats
    FROM new_rows l JOIN {facts.ORDERS} o ON o.order_no = l.document_no
    WHERE l.category_id IS NOT NULL AND o.status = ANY(s.statuses);
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    {facts.APPEND_LOCK.format(customers="SELECT unnest(ids)")}
    WITH n AS MATERIALIZED (
        SELECT customer_id, month, array_agg(DISTINCT category ORDER BY category) AS cats
        FROM unnest(ids, months, cats) AS u(customer_id, month, category) GROUP BY 1, 2
    ),
    added AS (
        UPDATE {facts.MONTHS} f
        SET categories = ARRAY(SELECT DISTINCT x FROM unnest(f.categories || n.cats) x
            ORDER BY x)
        FROM n WHERE f.customer_id = n.customer_id AND f.month = n.month
            AND NOT n.cats <@ f.categories
    )
    SELECT array_agg(n.customer_id), array_agg(n.month) INTO ids, months FROM n
    WHERE NOT EXISTS (
        SELECT 1 FROM {facts.MONTHS} f WHERE f.customer_id = n.customer_id AND f.month = n.month
    );
    PERFORM {facts.REFRESH}(s.time_zone, s.statuses::text[], ids, months);
    RETURN NULL;
END $$
"""

PAID = Order.Status.PAID
CANCELLED = Order.Status.CANCELLED

#: The changes of order X (customer A, 10 May): its status before, and the change.
CHANGES: dict[str, tuple[str, Callable[[Customer], dict[str, Any]] | None]] = {
    "moved to another customer": (PAID, lambda other: {"customer": other}),
    "moved to another month": (
        PAID,
        lambda other: {"placed_at": local_midnight(JUNE.replace(day=10)) + dt.timedelta(hours=12)},
    ),
    "cancelled": (PAID, lambda other: {"status": CANCELLED}),
    "counted": (CANCELLED, lambda other: {"status": PAID}),
    "counted for another customer": (CANCELLED, lambda other: {"status": PAID, "customer": other}),
    "deleted": (PAID, None),
}


def _buckets() -> dict[tuple[str, int], tuple]:
    return {
        (row.customer.code, row.month.month): (
            row.orders,
            row.net_cents,
            row.first_day,
            row.last_day,
            row.gap_squares,
            tuple(row.categories),
        )
        for row in CustomerMonth.objects.select_related("customer")
    }


def _line_race(change: str, line_first: bool) -> tuple[bool, dict, dict]:
    """Order X (customer A, 10 May; A also has 5 May, B 7 May) changes while a line with a
    new category is inserted for it; the first writer holds its commit until the second has
    waited for a lock or finished. (the second waited, kept buckets, rebuilt buckets)."""
    status, values = CHANGES[change]
    a = Customer.objects.create(code="A", name="A")
    b = Customer.objects.create(code="B", name="B")
    category = CategoryFactory()
    Order.objects.bulk_create([_order(a, "A5", 5), _order(b, "B7", 7), _order(a, "X", 10)])
    Order.objects.filter(order_no="X").update(status=status)

    def write_order() -> None:
        orders = Order.objects.filter(order_no="X")
        if values is None:
            orders.delete()
        else:
            orders.update(**values(b))

    def write_line() -> None:
        SalesLine.objects.bulk_create(
            [SalesLineFactory.build(document_no="X", line_no=1, category=category)]
        )

    writes = (write_line, write_order) if line_first else (write_order, write_line)
    waited, first_error, second_error = _interleave(*writes)
    assert first_error is None, first_error
    assert second_error is None, second_error
    kept = _buckets()
    facts.facts_rebuild()
    return waited, kept, _buckets()


@pytest.mark.parametrize("line_first", [False, True], ids=["order first", "line first"])
@pytest.mark.parametrize("change", list(CHANGES))
def test_a_line_inserted_while_its_order_changes_lands_in_the_right_bucket(change, line_first):
    waited, kept, rebuilt = _line_race(change, line_first)
    assert waited, "the second writer never waited for the first"
    assert kept == rebuilt


#: The races the function as it was before migration 0014 loses: every change made first
#: (the line read the order before the change committed), and a count made second (the line
#: found no counted order, so it locked nothing and the change's rebuild did not see it).
OLD_LOSES = [(change, False) for change in CHANGES] + [
    ("counted", True),
    ("counted for another customer", True),
]


@pytest.mark.parametrize(
    ("change", "line_first"),
    OLD_LOSES,
    ids=[f"{change}, {'line' if first else 'order'} first" for change, first in OLD_LOSES],
)
def test_without_the_order_lock_the_line_lands_in_the_wrong_bucket(change, line_first):
    """The mutant twin: the orders read before the lock. The race test would fail."""
    with connection.cursor() as cursor:
        cursor.execute(OLD_LINE_INSERT_SQL)
    try:
        _, kept, rebuilt = _line_race(change, line_first)
    finally:
        facts.triggers_install()
    assert kept != rebuilt


def _two_lines_race(bucket: str) -> tuple[bool, BaseException | None, dict, dict]:
    """Two transactions insert lines with different categories for two orders of one bucket
    (A, May), the first holding its commit until the second waits for a lock or finishes;
    the bucket `kept`, or `missing` (deleted behind the triggers' back, so both rebuild it).
    (the second waited, its error, kept buckets, rebuilt buckets)."""
    a = Customer.objects.create(code="A", name="A")
    first_category, second_category = CategoryFactory(), CategoryFactory()
    Order.objects.bulk_create([_order(a, "A5", 5), _order(a, "A10", 10)])
    if bucket == "missing":
        CustomerMonth.objects.filter(customer=a).delete()

    def line(no: str, category: Any) -> Callable[[], Any]:
        return lambda: SalesLine.objects.bulk_create(
            [SalesLineFactory.build(document_no=no, line_no=1, category=category)]
        )

    waited, first_error, second_error = _interleave(
        line("A5", first_category), line("A10", second_category)
    )
    assert first_error is None, first_error
    kept = _buckets()
    facts.facts_rebuild()
    return waited, second_error, kept, _buckets()


@pytest.mark.parametrize("bucket", ["kept", "missing"])
def test_two_line_inserts_for_one_bucket_at_once_keep_both_categories(bucket):
    """Safe: the second waits for the first's customer lock, then reads the bucket (or
    rebuilds it) in a new snapshot that sees the first's committed category. Where the bucket
    is kept, PostgreSQL's row lock would also do it alone: an UPDATE waiting for a row is
    evaluated again on the committed version. Where it is missing, both rebuild it, and the
    refresh's lock (`customers.facts.REFRESH_LOCK`) keeps the second's insert from colliding
    with the first's (its mutant twin below)."""
    waited, error, kept, rebuilt = _two_lines_race(bucket)
    assert waited, "the second line insert never waited for the first"
    assert error is None, error
    assert len(rebuilt[("A", 5)][-1]) == 2
    assert kept == rebuilt


def test_without_the_customer_locks_two_rebuilds_of_one_bucket_collide(monkeypatch):
    """The mutant twin: no customer lock in the line trigger nor in the refresh. The second
    rebuild does not see the first's uncommitted bucket, inserts its own, and fails on the
    primary key once the first commits."""
    monkeypatch.setattr(facts, "APPEND_LOCK", "")
    monkeypatch.setattr(facts, "REFRESH_LOCK", "")
    facts.triggers_install()
    try:
        _, error, _, _ = _two_lines_race("missing")
    finally:
        monkeypatch.undo()
        facts.triggers_install()
    assert isinstance(error, IntegrityError), error


@pytest.mark.xfail(
    strict=True,
    reason="known gap (docs/grading.md, Customer facts): a line and its order inserted by two"
    " transactions at once do not see each other; facts_rebuild repairs it",
)
@pytest.mark.parametrize("line_first", [False, True], ids=["order first", "line first"])
def test_a_line_inserted_with_its_order_at_once_is_missed(line_first):
    """Neither trigger sees the other's uncommitted row (no row of the other exists to lock
    yet): the order's bucket misses the line's category. Strict: it fails once fixed."""
    a = Customer.objects.create(code="A", name="A")
    category = CategoryFactory()
    Order.objects.bulk_create([_order(a, "A5", 5)])

    def write_order() -> None:
        Order.objects.bulk_create([_order(a, "X", 10)])

    def write_line() -> None:
        SalesLine.objects.bulk_create(
            [SalesLineFactory.build(document_no="X", line_no=1, category=category)]
        )

    writes = (write_line, write_order) if line_first else (write_order, write_line)
    _, first_error, second_error = _interleave(*writes)
    assert first_error is None, first_error
    assert second_error is None, second_error
    kept = _buckets()
    facts.facts_rebuild()
    assert kept == _buckets()


# --- engagement months: additions commute, no customer lock ---------------------------


def _engagement_months() -> dict[tuple, tuple]:
    return {
        (row.customer_id, row.month): (row.complaints, row.reviews)
        for row in CustomerEngagementMonth.objects.order_by("customer_id", "month")
    }


@pytest.mark.parametrize("first_write", ["insert", "delete", "move"])
def test_two_writers_of_one_engagement_month_keep_it_exact(first_write):
    """A complaint inserted, the month's only complaint deleted (its bucket with it), or
    moved to June, held uncommitted while another transaction inserts a complaint into the
    same May bucket: the second waits on the bucket's row, then adds to what the first
    committed (or inserts the bucket again), and both months are the rebuild's."""
    customer = Customer.objects.create(code="ENGAGE", name="Engage")
    may = local_midnight(MAY) + dt.timedelta(hours=12)
    stored = Complaint.objects.create(customer=customer, created_at=may)
    rows = Complaint.objects.filter(pk=stored.pk)
    first = {
        "insert": lambda: Complaint.objects.create(customer=customer, created_at=may),
        "delete": rows.delete,
        "move": lambda: rows.update(created_at=may + dt.timedelta(days=40)),
    }[first_write]
    waited, first_error, second_error = _interleave(
        first, lambda: Complaint.objects.create(customer=customer, created_at=may)
    )
    assert waited, "the second insert never waited for the first"
    assert first_error is None, first_error
    assert second_error is None, second_error
    kept = _engagement_months()
    facts.facts_rebuild()
    assert kept == _engagement_months()
    assert kept[(customer.pk, MAY)] == ({"insert": 3, "delete": 1, "move": 1}[first_write], 0)
