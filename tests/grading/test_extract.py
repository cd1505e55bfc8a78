"""The pipeline's extract: the PostgreSQL reads give the scores the plain ORM reads give."""

import datetime as dt
import time
from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection, transaction

from common.dates import local_midnight
from customers.models import Complaint, Order
from grading.pipeline import extract
from grading.pipeline.backends import sqlite
from grading.pipeline.rules import scheme_rules
from grading.scoring import ScoringParams, customer_facts, score_population
from tests.customers.factories import (
    CampaignInvitationFactory,
    CategoryFactory,
    ComplaintFactory,
    CustomerFactory,
    OrderFactory,
    SalesLineFactory,
)
from tests.grading.factories import default_scheme

AS_OF = dt.date(2026, 4, 1)
WINDOW_DAYS = 365


def _local(day: dt.date, hour: int) -> dt.datetime:
    return local_midnight(day) + dt.timedelta(hours=hour)


def _population():
    """Customers with orders before, inside and after the window, in every status."""
    categories = [CategoryFactory(), CategoryFactory()]
    start = AS_OF - dt.timedelta(days=WINDOW_DAYS)
    for i in range(12):
        customer = CustomerFactory(code=f"X{i:02d}", industry=["retail", "games", ""][i % 3])
        days = [
            start - dt.timedelta(days=400 - 37 * i),  # long before the window
            start - dt.timedelta(days=1 + i),  # just before it
            start,  # its first day
            AS_OF - dt.timedelta(days=1 + 11 * i),
            AS_OF - dt.timedelta(days=1 + 11 * i),  # the same day twice
            AS_OF,  # not counted: the run's day itself
        ]
        statuses = list(Order.Status)
        for j, day in enumerate(days[: 2 + i % 5] + days[5:]):
            OrderFactory(
                customer=customer,
                # Late evening and early morning: the local day differs from the UTC day.
                placed_at=_local(day, [0, 23][j % 2]),
                amount=Decimal(f"{40 + 13 * i + j}.{j:02d}"),
                refunded_amount=Decimal("5.50") if j % 3 == 0 else Decimal("0"),
                status=statuses[(i + j) % len(statuses)],
                category=categories[j % 2] if j % 4 else None,
                on_time=[True, False, None][(i + j) % 3],
            )
        if i % 2:
            CampaignInvitationFactory(customer=customer, invited_at=_local(AS_OF, -48))
        if i % 5 == 0:
            complaint = ComplaintFactory(customer=customer)  # created_at is set on save
            Complaint.objects.filter(pk=complaint.pk).update(created_at=_local(AS_OF, -72))
    CustomerFactory(code="PROSPECT")


def _scores(orders: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    rules = scheme_rules(default_scheme())
    return score_population(
        orders.drop(columns=["on_time"]),
        customers,
        as_of=AS_OF,
        params=rules.params,
        ladder=rules.ladder,
    ).sort_index()


def _orm_facts() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same facts read with the plain ORM (the SQLite backend's reads, on any database)."""
    start = local_midnight(AS_OF - dt.timedelta(days=WINDOW_DAYS))
    end = local_midnight(AS_OF)
    statuses = [str(s) for s in Order.COUNTED_STATUSES]
    orders, customers = sqlite.read_period(start, end, statuses, None)
    window_start = AS_OF - dt.timedelta(days=WINDOW_DAYS)
    return orders, extract._with_on_time(customers, orders, start=window_start)


def _sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])  # New York: with DST
def test_extract_in_a_transaction_scores_as_the_orm_reads(settings, zone):
    settings.TIME_ZONE = zone
    _population()

    orders, customers = extract.extract_period(as_of=AS_OF, window_days=WINDOW_DAYS)

    pd.testing.assert_frame_equal(_scores(orders, customers), _scores(*_orm_facts()))
    assert customers["on_time_orders"].sum() > 0
    assert customers["campaign_invitations"].sum() == 6
    assert customers["complaints"].sum() == 3


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_extract_on_two_postgres_connections_reads_what_one_reads():
    if connection.vendor != "postgresql":
        pytest.skip("the second connection is read only on PostgreSQL")
    _population()
    sessions = _sessions()

    assert not connection.in_atomic_block
    orders, customers = extract.extract_period(as_of=AS_OF, window_days=WINDOW_DAYS)
    with transaction.atomic():
        serial_orders, serial_customers = extract.extract_period(
            as_of=AS_OF, window_days=WINDOW_DAYS
        )

    pd.testing.assert_frame_equal(customers, serial_customers)
    pd.testing.assert_frame_equal(orders, serial_orders)
    pd.testing.assert_frame_equal(_scores(orders, customers), _scores(*_orm_facts()))
    # One customer id range reads that range only.
    low, high = sorted(customers["customer_id"])[3], sorted(customers["customer_id"])[8]
    part_orders, part_customers = extract.extract_period(
        as_of=AS_OF, window_days=WINDOW_DAYS, id_range=(low, high)
    )
    assert sorted(part_customers["customer_id"]) == sorted(customers["customer_id"])[3:8]
    assert part_orders["customer_id"].between(low, high - 1).all()
    # The worker thread closed its connection (a closed session leaves the server's list
    # a moment later).
    deadline = time.monotonic() + 5
    while _sessions() > sessions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sessions() <= sessions


@pytest.mark.django_db
def test_an_order_spanning_several_categories_counts_each_for_breadth():
    """Hand-computed: the window's counted orders give categories A, B, C (lines) and D."""
    a, b, c, d, e, f = (CategoryFactory(code=code) for code in "abcdef")
    customer = CustomerFactory(code="LINES")
    plain = CustomerFactory(code="PLAIN")
    inside = AS_OF - dt.timedelta(days=30)

    def order(no, who, day, category, status=Order.Status.PAID, lines=()):
        OrderFactory(
            order_no=no, customer=who, placed_at=_local(day, 12), category=category, status=status
        )
        for position, line_category in enumerate(lines, start=1):
            SalesLineFactory(document_no=no, line_no=position, category=line_category)

    order("INV1", customer, inside, a, lines=(a, b, None, c, b))  # A, B, C
    order("INV2", customer, inside - dt.timedelta(days=3), d)  # no lines: its own category
    order("INV0", customer, AS_OF - dt.timedelta(days=400), e, lines=(e, f))  # before the window
    order("INV3", customer, inside, None, Order.Status.REFUNDED, lines=(f,))  # not counted
    order("INV4", customer, AS_OF, None, lines=(e,))  # on as_of: not counted
    SalesLineFactory(document_no="R1", line_no=1, category=f)  # a return's line: no order
    order("P1", plain, inside, a)
    order("P2", plain, inside, None)

    orders, customers = extract.extract_period(as_of=AS_OF, window_days=WINDOW_DAYS)
    facts = customer_facts(
        orders.drop(columns=["on_time"]), customers, as_of=AS_OF, params=ScoringParams()
    )

    assert facts.loc[customer.pk, "categories"] == 4
    assert facts.loc[customer.pk, "frequency"] == 2  # the line rows are no orders
    assert facts.loc[plain.pk, "categories"] == 1
    assert facts.loc[plain.pk, "frequency"] == 2
    pd.testing.assert_frame_equal(_scores(orders, customers), _scores(*_orm_facts()))
