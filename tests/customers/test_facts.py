"""Customer facts kept as orders arrive: the triggers keep each (customer, month) bucket exact.

PostgreSQL only (the facts exist there alone); each case is computed by hand.
"""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from common.dates import local_midnight
from customers import facts
from customers.models import (
    CampaignInvitation,
    Complaint,
    Customer,
    CustomerEngagementMonth,
    CustomerMonth,
    Order,
    PointsEntry,
    ProductReview,
    Referral,
    SalesLine,
)
from tests.customers.factories import (
    CampaignInvitationFactory,
    CategoryFactory,
    ComplaintFactory,
    CustomerFactory,
    OrderFactory,
    ProductReviewFactory,
    ReferralFactory,
    SalesLineFactory,
)

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("customer facts are kept on PostgreSQL only")


def _at(day: dt.date, hour: int = 12) -> dt.datetime:
    return local_midnight(day) + dt.timedelta(hours=hour)


def _buckets(customer: Customer) -> dict[str, tuple]:
    return {
        f"{row.month:%Y-%m}": (
            row.orders,
            row.net_cents,
            row.rated,
            row.on_time,
            row.first_day.isoformat(),
            row.last_day.isoformat(),
            row.gap_squares,
            sorted(row.categories),
        )
        for row in CustomerMonth.objects.filter(customer=customer)
    }


def test_orders_fill_their_months_buckets():
    a, b = CategoryFactory(), CategoryFactory()
    customer = CustomerFactory()

    def order(no, day, amount, **fields):
        return OrderFactory(
            order_no=no, customer=customer, placed_at=_at(day), amount=Decimal(amount), **fields
        )

    order("A1", dt.date(2024, 2, 3), "10.00", category=a, on_time=True)
    order("A2", dt.date(2024, 2, 3), "5.25", category=None, on_time=False)  # same day
    order("A3", dt.date(2024, 2, 10), "1.00", category=b, on_time=None)
    order("A4", dt.date(2024, 2, 29), "2.00", category=a, refunded_amount=Decimal("0.50"))
    order("A5", dt.date(2024, 2, 20), "99.00", status=Order.Status.CANCELLED)  # not counted
    order("B1", dt.date(2024, 3, 1), "7.00", category=None)

    # Gaps 0, 7, 19: squares 0 + 49 + 361.
    assert _buckets(customer) == {
        "2024-02": (4, 1775, 2, 1, "2024-02-03", "2024-02-29", 410, sorted([a.pk, b.pk])),
        "2024-03": (1, 700, 0, 0, "2024-03-01", "2024-03-01", 0, []),
    }


def test_every_kind_of_write_keeps_the_buckets():
    a, b, c = CategoryFactory(), CategoryFactory(), CategoryFactory()
    customer = CustomerFactory()
    first = OrderFactory(
        order_no="E1", customer=customer, placed_at=_at(dt.date(2025, 5, 2)), amount=10, category=a
    )
    OrderFactory(
        order_no="E2", customer=customer, placed_at=_at(dt.date(2025, 5, 6)), amount=20, category=a
    )
    assert _buckets(customer)["2025-05"][:2] == (2, 3000)

    # A refund (QuerySet.update: no signal, the trigger still sees it).
    Order.objects.filter(order_no="E2").update(refunded_amount=Decimal("4.50"))
    assert _buckets(customer)["2025-05"][:2] == (2, 2550)

    # A sales line adds its category to its order's month; a line without one adds nothing.
    SalesLineFactory(document_no="E1", line_no=1, category=b)
    SalesLineFactory(document_no="E1", line_no=2, category=None)
    assert _buckets(customer)["2025-05"][7] == sorted([a.pk, b.pk])
    SalesLine.objects.filter(document_no="E1", line_no=1).update(category=c)
    assert _buckets(customer)["2025-05"][7] == sorted([a.pk, c.pk])
    SalesLine.objects.filter(document_no="E1").delete()
    assert _buckets(customer)["2025-05"][7] == [a.pk]

    # Back-dated: moving an order to another month moves it between buckets.
    first.placed_at = _at(dt.date(2025, 4, 30))
    first.save()
    assert _buckets(customer) == {
        "2025-04": (1, 1000, 0, 0, "2025-04-30", "2025-04-30", 0, [a.pk]),
        "2025-05": (1, 1550, 0, 0, "2025-05-06", "2025-05-06", 0, [a.pk]),
    }

    # A status change to cancelled takes the order out; back to paid puts it back.
    Order.objects.filter(order_no="E2").update(status=Order.Status.CANCELLED)
    assert set(_buckets(customer)) == {"2025-04"}
    Order.objects.filter(order_no="E2").update(status=Order.Status.COMPLETED)
    assert set(_buckets(customer)) == {"2025-04", "2025-05"}

    # An order given to another customer leaves this one's bucket for theirs.
    other = CustomerFactory()
    Order.objects.filter(order_no="E2").update(customer=other)
    assert set(_buckets(customer)) == {"2025-04"}
    assert _buckets(other)["2025-05"][:2] == (1, 1550)

    # Deleting the orders, then the customer, leaves no bucket.
    Order.objects.filter(customer=customer).delete()
    customer.delete()
    assert not CustomerMonth.objects.filter(customer_id=first.customer_id).exists()


def test_local_months_follow_the_zone_the_facts_were_built_in(settings):
    """New York (daylight saving): the local day decides the month, around the switches."""
    settings.TIME_ZONE = "America/New_York"
    facts.facts_rebuild()
    customer = CustomerFactory()
    zone_day = dt.timezone(dt.timedelta(hours=-4))  # EDT
    # 2026-03-31 23:30 EDT is 2026-04-01 03:30 UTC: March locally.
    OrderFactory(customer=customer, placed_at=dt.datetime(2026, 3, 31, 23, 30, tzinfo=zone_day))
    # 2026-03-08, the switch to daylight saving: 01:30 EST and 03:30 EDT, one local day.
    OrderFactory(customer=customer, placed_at=dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC))
    OrderFactory(customer=customer, placed_at=dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC))
    # 2026-10-31 20:30 EDT is 2026-11-01 00:30 UTC: October locally.
    OrderFactory(customer=customer, placed_at=dt.datetime(2026, 11, 1, 0, 30, tzinfo=dt.UTC))

    buckets = _buckets(customer)
    assert set(buckets) == {"2026-03", "2026-10"}
    assert buckets["2026-03"][0] == 3
    assert buckets["2026-03"][4:7] == ("2026-03-08", "2026-03-31", 23**2)
    assert buckets["2026-10"][4:6] == ("2026-10-31", "2026-10-31")
    assert facts.facts_unusable_reason() is None
    settings.TIME_ZONE = "Asia/Shanghai"
    assert "America/New_York" in (facts.facts_unusable_reason() or "")


def test_rebuild_gives_the_buckets_the_triggers_kept():
    customer = CustomerFactory()
    category = CategoryFactory()
    for day in (dt.date(2024, 1, 31), dt.date(2024, 2, 1), dt.date(2024, 2, 9)):
        OrderFactory(customer=customer, placed_at=_at(day, 23), category=category, on_time=True)
    kept = _buckets(customer)

    assert facts.facts_rebuild(chunk=1) == 2

    assert _buckets(customer) == kept
    assert facts.facts_unusable_reason() is None


def test_inserts_append_to_the_bucket_or_rebuild_it():
    """The order-insert trigger's additive path and its rebuild, each step computed by hand."""
    a, b, c = CategoryFactory(), CategoryFactory(), CategoryFactory()
    customer, other = CustomerFactory(), CustomerFactory()

    def order(no, day, cents, who=customer, **fields):
        return OrderFactory.build(
            order_no=no, customer=who, placed_at=_at(day), amount=Decimal(cents) / 100, **fields
        )

    def insert(*orders):  # one INSERT statement
        Order.objects.bulk_create(orders)

    may = dt.date(2025, 5, 1)
    insert(order("F1", may.replace(day=2), 1000, category=a, on_time=True))
    assert _buckets(customer) == {"2025-05": (1, 1000, 1, 1, "2025-05-02", "2025-05-02", 0, [a.pk])}
    # A later day: the gap 4 from the last day adds 16.
    insert(order("F2", may.replace(day=6), 2000, on_time=False))
    assert _buckets(customer)["2025-05"] == (2, 3000, 2, 1, "2025-05-02", "2025-05-06", 16, [a.pk])
    # The last day again: a gap of 0; its category joins.
    insert(order("F3", may.replace(day=6), 500, category=b))
    assert _buckets(customer)["2025-05"] == (
        3,
        3500,
        2,
        1,
        "2025-05-02",
        "2025-05-06",
        16,
        sorted([a.pk, b.pk]),
    )
    # A cancelled order does not count: nothing changes.
    insert(order("F4", may.replace(day=20), 9900, status=Order.Status.CANCELLED))
    assert _buckets(customer)["2025-05"][:7] == (3, 3500, 2, 1, "2025-05-02", "2025-05-06", 16)
    # An order whose sales line was stored first: the line's category comes with it.
    SalesLineFactory(document_no="F5", line_no=1, category=c)
    insert(order("F5", may.replace(day=9), 100))
    assert _buckets(customer)["2025-05"] == (
        4,
        3600,
        2,
        1,
        "2025-05-02",
        "2025-05-09",
        25,
        sorted([a.pk, b.pk, c.pk]),
    )
    # Back-dated, between stored days (the rebuild): days 2, 4, 6, 6, 9, gaps 2, 2, 0, 3.
    insert(order("F6", may.replace(day=4), 200))
    assert _buckets(customer)["2025-05"] == (
        5,
        3800,
        2,
        1,
        "2025-05-02",
        "2025-05-09",
        17,
        sorted([a.pk, b.pk, c.pk]),
    )

    insert(order("G1", may.replace(day=10), 100, who=other))
    # One statement with every kind of key: May of `customer` before its first day (rebuilt:
    # days 1, 2, 4, 6, 6, 9), a new month for it (June 3 and 10, a gap of 7 between the new
    # days), and `other`'s May appended out of order within the statement (days 10, 12, 10:
    # sorted 10, 10, 12).
    insert(
        order("F7", may, 300),
        order("F8", dt.date(2025, 6, 10), 600),
        order("G2", may.replace(day=12), 100, who=other, category=b),
        order("F9", dt.date(2025, 6, 3), 400, category=a, on_time=True),
        order("G3", may.replace(day=10), 100, who=other),
    )
    assert _buckets(customer) == {
        "2025-05": (6, 4100, 2, 1, "2025-05-01", "2025-05-09", 18, sorted([a.pk, b.pk, c.pk])),
        "2025-06": (2, 1000, 1, 1, "2025-06-03", "2025-06-10", 49, [a.pk]),
    }
    assert _buckets(other) == {
        "2025-05": (3, 300, 0, 0, "2025-05-10", "2025-05-12", 4, [b.pk]),
    }

    # The rebuild from the orders agrees with what the inserts kept.
    kept = (_buckets(customer), _buckets(other))
    facts.facts_rebuild()
    assert (_buckets(customer), _buckets(other)) == kept


def test_sales_lines_inserted_together_add_their_categories():
    a, b, c, d = (CategoryFactory() for _ in range(4))
    customer = CustomerFactory()
    for no, day, fields in (
        ("L1", dt.date(2025, 5, 2), {"category": a}),
        ("L2", dt.date(2025, 6, 9), {}),
        ("L3", dt.date(2025, 6, 10), {"status": Order.Status.CANCELLED}),
    ):
        OrderFactory(order_no=no, customer=customer, placed_at=_at(day), amount=1, **fields)
    june = _buckets(customer)["2025-06"]
    # June's bucket lost behind the triggers' back: the next line rebuilds it from the orders.
    CustomerMonth.objects.filter(customer=customer, month=dt.date(2025, 6, 1)).delete()

    SalesLine.objects.bulk_create(
        SalesLineFactory.build(document_no=no, line_no=n, category=category)
        for no, n, category in (
            ("L1", 1, b),
            ("L1", 2, None),  # adds nothing
            ("L2", 1, c),
            ("L3", 1, d),  # a cancelled order's line counts nowhere
        )
    )

    buckets = _buckets(customer)
    assert buckets["2025-05"] == (1, 100, 0, 0, "2025-05-02", "2025-05-02", 0, sorted([a.pk, b.pk]))
    assert buckets["2025-06"] == (*june[:7], [c.pk])
    SalesLineFactory(document_no="L1", line_no=3, category=a)  # already there
    assert _buckets(customer) == buckets
    kept = buckets
    facts.facts_rebuild()
    assert _buckets(customer) == kept


def _profits(customer: Customer) -> dict[str, tuple[int, int]]:
    return {
        f"{row.month:%Y-%m}": (row.profit_cents, row.unknown_profit)
        for row in CustomerMonth.objects.filter(customer=customer)
    }


def test_buckets_keep_the_months_profit_and_its_unknown_orders():
    """Recorded profits summed in cents (losses too), orders without one counted, on every
    trigger path: the append, the rebuild of a back-dated insert, an update, a deletion and
    facts_rebuild; each step by hand."""
    customer = CustomerFactory()

    def order(no, day, profit, **fields):
        return OrderFactory.build(
            order_no=no,
            customer=customer,
            placed_at=_at(day),
            amount=Decimal("50.00"),
            profit=None if profit is None else Decimal(profit),
            **fields,
        )

    def insert(*orders):
        Order.objects.bulk_create(orders)

    insert(order("P1", dt.date(2025, 5, 2), "12.34"), order("P2", dt.date(2025, 5, 3), None))
    assert _profits(customer) == {"2025-05": (1234, 1)}
    # Appended after the last day: a loss and another unknown; a cancelled order adds nothing.
    insert(
        order("P3", dt.date(2025, 5, 9), "-2.50"),
        order("P4", dt.date(2025, 5, 9), None),
        order("P5", dt.date(2025, 5, 10), "99.99", status=Order.Status.CANCELLED),
    )
    assert _profits(customer) == {"2025-05": (984, 2)}
    # Back-dated before the last day (the rebuild) and a new month (an insert).
    insert(order("P6", dt.date(2025, 5, 1), "0.01"), order("P7", dt.date(2025, 6, 1), None))
    assert _profits(customer) == {"2025-05": (985, 2), "2025-06": (0, 1)}
    # A profit recorded later (QuerySet.update), and a deletion.
    Order.objects.filter(order_no="P2").update(profit=Decimal("1.00"))
    Order.objects.filter(order_no="P3").delete()
    assert _profits(customer) == {"2025-05": (1335, 1), "2025-06": (0, 1)}
    # A refund changes the net amount, never the recorded profit.
    Order.objects.filter(order_no="P1").update(refunded_amount=Decimal("10.00"))
    assert _profits(customer) == {"2025-05": (1335, 1), "2025-06": (0, 1)}

    kept = _profits(customer)
    facts.facts_rebuild()
    assert _profits(customer) == kept


# --- engagement months (customers.models.CustomerEngagementMonth) -------------------------


def _engagement(customer: Customer) -> dict[str, tuple]:
    return {
        f"{row.month:%Y-%m}": (
            row.invitations,
            row.joins,
            row.referrals,
            row.complaints,
            row.reviews,
            row.points,
        )
        for row in CustomerEngagementMonth.objects.filter(customer=customer)
    }


def test_engagement_rows_fill_their_months():
    customer = CustomerFactory()
    CampaignInvitationFactory(customer=customer, invited_at=_at(dt.date(2024, 2, 29)))
    CampaignInvitationFactory(
        customer=customer,
        invited_at=_at(dt.date(2024, 2, 1)),
        joined_at=_at(dt.date(2024, 3, 5)),  # counted in the invitation's month
    )
    ReferralFactory(referrer=customer, created_at=_at(dt.date(2024, 3, 1)))
    ComplaintFactory(customer=customer, created_at=_at(dt.date(2024, 3, 31), hour=23))
    ProductReviewFactory(customer=customer, created_at=_at(dt.date(2024, 2, 10)))
    PointsEntry.objects.bulk_create(
        [
            PointsEntry(
                customer=customer, points=5, dedupe_key="a", created_at=_at(dt.date(2024, 2, 3))
            ),
            PointsEntry(
                customer=customer, points=7, dedupe_key="b", created_at=_at(dt.date(2024, 2, 4))
            ),
            PointsEntry(
                customer=customer,
                points=1,
                dedupe_key="c",
                created_at=_at(dt.date(2024, 4, 1), hour=0),
            ),
        ]
    )
    assert _engagement(customer) == {
        "2024-02": (2, 1, 0, 0, 1, 12),
        "2024-03": (0, 0, 1, 1, 0, 0),
        "2024-04": (0, 0, 0, 0, 0, 1),
    }


def test_every_kind_of_engagement_write_keeps_the_months():
    customer, other = CustomerFactory(), CustomerFactory()
    invitation = CampaignInvitationFactory(customer=customer, invited_at=_at(dt.date(2025, 5, 2)))
    assert _engagement(customer) == {"2025-05": (1, 0, 0, 0, 0, 0)}

    # Joining (save) and un-joining (QuerySet.update) change the joins only.
    invitation.joined_at = _at(dt.date(2025, 7, 1))
    invitation.save()
    assert _engagement(customer) == {"2025-05": (1, 1, 0, 0, 0, 0)}
    CampaignInvitation.objects.filter(pk=invitation.pk).update(joined_at=None)
    assert _engagement(customer) == {"2025-05": (1, 0, 0, 0, 0, 0)}

    # Moving to another month, then to another customer: the empty months go.
    CampaignInvitation.objects.filter(pk=invitation.pk).update(
        invited_at=_at(dt.date(2025, 4, 30)), joined_at=_at(dt.date(2025, 5, 1))
    )
    assert _engagement(customer) == {"2025-04": (1, 1, 0, 0, 0, 0)}
    CampaignInvitation.objects.filter(pk=invitation.pk).update(customer=other)
    assert _engagement(customer) == {}
    assert _engagement(other) == {"2025-04": (1, 1, 0, 0, 0, 0)}

    # Referrals, complaints, reviews: moved by update, deleted.
    referral = ReferralFactory(referrer=customer, created_at=_at(dt.date(2025, 6, 3)))
    complaint = ComplaintFactory(customer=customer, created_at=_at(dt.date(2025, 6, 4)))
    review = ProductReviewFactory(customer=customer, created_at=_at(dt.date(2025, 6, 5)))
    assert _engagement(customer) == {"2025-06": (0, 0, 1, 1, 1, 0)}
    Referral.objects.filter(pk=referral.pk).update(created_at=_at(dt.date(2025, 7, 1)))
    Complaint.objects.filter(pk=complaint.pk).update(customer=other)
    assert _engagement(customer) == {"2025-06": (0, 0, 0, 0, 1, 0), "2025-07": (0, 0, 1, 0, 0, 0)}
    assert _engagement(other)["2025-06"] == (0, 0, 0, 1, 0, 0)
    review.delete()
    Referral.objects.filter(pk=referral.pk).delete()
    assert _engagement(customer) == {}

    # Points: append-only through the ORM, but a raw update or delete is kept too.
    entry = PointsEntry.objects.create(
        customer=customer, points=10, dedupe_key="x", created_at=_at(dt.date(2025, 8, 9))
    )
    assert _engagement(customer) == {"2025-08": (0, 0, 0, 0, 0, 10)}
    PointsEntry.objects.filter(pk=entry.pk).update(points=3)
    assert _engagement(customer) == {"2025-08": (0, 0, 0, 0, 0, 3)}
    PointsEntry.objects.filter(pk=entry.pk)._raw_delete(PointsEntry.objects.db)
    assert _engagement(customer) == {}

    # Deleting the customer (its rows cascade) leaves no month.
    ComplaintFactory(customer=other, created_at=_at(dt.date(2025, 1, 1)))
    other_id = other.pk
    other.delete()
    assert not CustomerEngagementMonth.objects.filter(customer_id=other_id).exists()


def test_engagement_copy_and_truncate():
    customer = CustomerFactory()
    ComplaintFactory(customer=customer, created_at=_at(dt.date(2025, 3, 3)))
    ProductReviewFactory(customer=customer, created_at=_at(dt.date(2025, 3, 3)))
    with (
        connection.cursor() as cursor,
        cursor.copy(
            f"COPY {Complaint._meta.db_table} (customer_id, description, created_at, severity)"
            " FROM STDIN"
        ) as copy,
    ):
        for day in (3, 4):
            copy.write_row([customer.pk, "copied", _at(dt.date(2025, 3, day)), "low"])
    assert _engagement(customer) == {"2025-03": (0, 0, 0, 3, 1, 0)}
    with connection.cursor() as cursor:
        # The deferred foreign-key checks of the rows above first (TRUNCATE refuses pending ones).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {Complaint._meta.db_table}")
    assert _engagement(customer) == {"2025-03": (0, 0, 0, 0, 1, 0)}
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {ProductReview._meta.db_table}")
    assert _engagement(customer) == {}


def test_engagement_months_follow_the_zone_and_the_rebuild(settings):
    """New York (daylight saving): 2026-03-31 23:30 EDT is April in UTC, March locally."""
    settings.TIME_ZONE = "America/New_York"
    facts.facts_rebuild()
    customer = CustomerFactory()
    edt = dt.timezone(dt.timedelta(hours=-4))
    ComplaintFactory(customer=customer, created_at=dt.datetime(2026, 3, 31, 23, 30, tzinfo=edt))
    ComplaintFactory(customer=customer, created_at=dt.datetime(2026, 4, 1, 0, 30, tzinfo=edt))
    expected = {"2026-03": (0, 0, 0, 1, 0, 0), "2026-04": (0, 0, 0, 1, 0, 0)}
    assert _engagement(customer) == expected
    # The rebuild gives the same months; behind the triggers' back it repairs them.
    CustomerEngagementMonth.objects.filter(customer=customer).delete()
    out = io.StringIO()
    call_command("facts_rebuild", chunk=1, stdout=out, stderr=io.StringIO())
    assert _engagement(customer) == expected
    # Both kinds of month are counted: the customer's two, plus any other's.
    built = CustomerMonth.objects.count() + CustomerEngagementMonth.objects.count()
    assert f"Built {built:,} customer-month buckets (orders and engagement)." in out.getvalue()
