"""A run's facts read from the customer facts equal those read from the orders, exactly.

PostgreSQL only (the customer facts exist there alone): hand-made populations around the
window's edges, a leap day and a daylight-saving zone, and a property test applying random
writes of every kind before comparing both reads (docs/grading.md, "Customer facts").
"""

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.dates import local_midnight
from customers import facts
from customers.models import (
    CampaignInvitation,
    Complaint,
    CustomerEngagementMonth,
    CustomerMonth,
    Order,
    PointsEntry,
    ProductReview,
    Referral,
    SalesLine,
)
from grading.pipeline import extract
from grading.pipeline.backends import postgresql
from grading.scoring import ScoringParams
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

#: The window [2023-03-16, 2024-03-15) starts mid-month, holds 2024-02-29, and its halves
#: split in the middle of September 2023.
AS_OF = dt.date(2024, 3, 15)
PARAMS = ScoringParams(window_days=365)


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("customer facts are kept on PostgreSQL only")


def _both(as_of: dt.date = AS_OF, params: ScoringParams = PARAMS) -> tuple[pd.DataFrame, ...]:
    assert facts.facts_unusable_reason() is None
    kept = extract.extract_facts(as_of=as_of, params=params)
    orders = extract.extract_facts(as_of=as_of, params=params, from_orders=True)
    return kept, orders


def _at(day: dt.date, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def test_the_plan_reads_whole_months_from_buckets_and_the_rest_from_orders():
    months, spans, before = postgresql.facts_plan(AS_OF, 365)

    # April 2023 .. February 2024 but September 2023 (the halves split on the 15th).
    assert months == [dt.date(2023, m, 1) for m in (4, 5, 6, 7, 8, 10, 11, 12)] + [
        dt.date(2024, 1, 1),
        dt.date(2024, 2, 1),
    ]
    assert spans == [
        (dt.date(2023, 3, 1), dt.date(2023, 4, 1)),
        (dt.date(2023, 9, 1), dt.date(2023, 10, 1)),
        (dt.date(2024, 3, 1), AS_OF),
    ]
    assert before == dt.date(2023, 3, 1)
    # A window starting on a month's first day: [2024-01-01, 2024-03-01) split on January 31.
    months, spans, _ = postgresql.facts_plan(dt.date(2024, 3, 1), 60)
    assert months == [dt.date(2024, 2, 1)]
    assert spans == [(dt.date(2024, 1, 1), dt.date(2024, 2, 1))]


def test_facts_from_buckets_equal_facts_from_orders_by_hand(monkeypatch):
    """Every fact and the window's profit (a bucket with two categories: May 2023)."""
    a, b, c = CategoryFactory(), CategoryFactory(), CategoryFactory()
    regular, lapsed, fresh, quiet = (CustomerFactory() for _ in range(4))
    days = [
        (regular, dt.date(2022, 12, 31), 30, a),  # earlier: an older bucket
        (regular, dt.date(2023, 3, 10), 10, a),  # earlier: the start's month, before it
        (regular, dt.date(2023, 3, 16), 20, b),  # the window's first day
        (regular, dt.date(2023, 5, 1), 5, None),
        (regular, dt.date(2023, 5, 1), 6, None),  # same day
        (regular, dt.date(2023, 5, 20), 4, a),  # a second category in May's bucket
        (regular, dt.date(2023, 5, 31), 7, c),
        (regular, dt.date(2023, 9, 14), 8, a),  # the split month, first half
        (regular, dt.date(2023, 9, 15), 9, a),  # second half
        (regular, dt.date(2024, 2, 29), 11, b),  # the leap day
        (regular, dt.date(2024, 3, 14), 12, None),  # the window's last day
        (regular, AS_OF, 99, c),  # not counted: the run's day
        (lapsed, dt.date(2021, 6, 1), 40, a),
        (lapsed, dt.date(2023, 3, 15), 40, a),  # the day before the window
        (fresh, dt.date(2024, 2, 1), 1, None),
    ]
    for number, (customer, day, amount, category) in enumerate(days):
        OrderFactory(
            order_no=f"H{number}",
            customer=customer,
            placed_at=_at(day, 23 if number % 2 else 0),
            amount=Decimal(amount),
            refunded_amount=Decimal("0.50") if number % 3 == 0 else Decimal(0),
            category=category,
            on_time=[True, False, None][number % 3],
        )
    SalesLineFactory(document_no="H3", line_no=1, category=c)
    SalesLineFactory(document_no="H0", line_no=1, category=b)  # before the window

    kept, orders = _both()

    pd.testing.assert_frame_equal(kept, orders, check_exact=True)
    assert kept.loc[regular.pk, "frequency"] == 9
    assert kept.loc[regular.pk, "categories"] == 3
    assert kept.loc[regular.pk, "first_order_date"] == pd.Timestamp("2022-12-31")
    assert kept.loc[lapsed.pk, "last_order_date"] == pd.Timestamp("2023-03-15")
    assert kept.loc[lapsed.pk, "frequency"] == 0
    assert kept.loc[fresh.pk, "frequency"] == 1
    assert kept.loc[quiet.pk, "first_order_date"] is pd.NaT


def test_the_run_reads_orders_when_the_facts_do_not_fit(settings, monkeypatch, caplog):
    customer = CustomerFactory()
    OrderFactory(customer=customer, placed_at=_at(dt.date(2023, 6, 1)))
    settings.TIME_ZONE = "America/New_York"

    def forbidden(*args, **kwargs):
        raise AssertionError("the buckets were read in the wrong zone")

    monkeypatch.setattr(postgresql, "read_facts", forbidden)
    with caplog.at_level("INFO", logger="grading.pipeline.extract"):
        frame = extract.extract_facts(as_of=AS_OF, params=PARAMS)

    assert frame.loc[customer.pk, "frequency"] == 1
    assert "Asia/Shanghai" in caplog.text


# ------------------------------------------------------------------------ property test

#: Days around every edge the read cares about: the window's start and the month before
#: it, the halves' split, the leap day, New York's daylight-saving switches, the run's day.
EDGE_DAYS = [
    dt.date(2023, 2, 28),
    dt.date(2023, 3, 1),
    dt.date(2023, 3, 15),
    dt.date(2023, 3, 16),
    dt.date(2023, 3, 31),
    dt.date(2023, 4, 1),
    dt.date(2023, 9, 14),
    dt.date(2023, 9, 15),
    dt.date(2023, 11, 5),
    dt.date(2024, 2, 28),
    dt.date(2024, 2, 29),
    dt.date(2024, 3, 1),
    dt.date(2024, 3, 10),
    dt.date(2024, 3, 14),
    AS_OF,
    dt.date(2024, 3, 16),
]
days = st.one_of(
    st.sampled_from(EDGE_DAYS),
    st.integers(-500, 3).map(lambda offset: AS_OF + dt.timedelta(days=offset)),
)
statuses = st.sampled_from(list(Order.Status))
#: A recorded profit in cents (a loss too), or none recorded.
profits = st.one_of(st.none(), st.integers(-5_000, 20_000))
inserts = st.tuples(
    st.just("insert"),
    st.integers(0, 2),
    days,
    st.integers(0, 23),
    st.integers(0, 50_000),
    st.one_of(st.none(), st.integers(0, 3)),
    statuses,
    st.one_of(st.none(), st.booleans()),
    profits,
)
#: One multi-row INSERT of orders placed a few days after (or, negative, before) the latest
#: order of their customer: mostly appends to the customer's last bucket or a new month (the
#: insert trigger's additive path), sometimes back-dated (its rebuild), in one statement.
appends = st.tuples(
    st.just("append"),
    st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(-4, 12),
            st.integers(0, 23),
            st.integers(0, 50_000),
            st.one_of(st.none(), st.integers(0, 3)),
            statuses,
            st.one_of(st.none(), st.booleans()),
            profits,
        ),
        min_size=1,
        max_size=6,
    ),
)
#: The engagement tables: model, customer field, date field (customers.facts).
ENGAGEMENT_KINDS = {
    "invitation": (CampaignInvitation, "customer", "invited_at"),
    "referral": (Referral, "referrer", "created_at"),
    "complaint": (Complaint, "customer", "created_at"),
    "review": (ProductReview, "customer", "created_at"),
    "points": (PointsEntry, "customer", "created_at"),
}
kinds = st.sampled_from(list(ENGAGEMENT_KINDS))
#: An invitation joined this many days after it was sent (or not joined); points credited.
joins = st.one_of(st.none(), st.integers(0, 40))
#: Engagement days: the order days, or the last 70 days (the 60-day window's whole month, its
#: partial ones and joins crossing its end).
recent = st.one_of(days, st.integers(-70, 3).map(lambda offset: AS_OF + dt.timedelta(days=offset)))
engagements = st.tuples(
    st.just("engage"), kinds, st.integers(0, 2), recent, st.integers(0, 23), joins
)
#: Writes to the engagement rows already there (an index picks one of the kind).
engagement_edits = st.one_of(
    engagements,
    st.tuples(st.just("engage_join"), st.integers(0, 30), joins, st.integers(0, 23)),
    st.tuples(st.just("engage_move"), kinds, st.integers(0, 30), recent, st.integers(0, 23)),
    st.tuples(st.just("engage_customer"), kinds, st.integers(0, 30), st.integers(0, 2)),
    st.tuples(st.just("engage_delete"), kinds, st.integers(0, 30)),
)
#: Writes to the orders already there (an index picks one), and late inserts among them.
edits = st.one_of(
    engagement_edits,
    inserts,
    appends,
    st.tuples(st.just("refund"), st.integers(0, 30), st.integers(0, 100)),
    st.tuples(st.just("status"), st.integers(0, 30), statuses),
    st.tuples(st.just("profit"), st.integers(0, 30), profits),
    st.tuples(st.just("move"), st.integers(0, 30), days, st.integers(0, 23)),
    st.tuples(st.just("customer"), st.integers(0, 30), st.integers(0, 2)),
    st.tuples(st.just("line"), st.integers(0, 30), st.one_of(st.none(), st.integers(0, 3))),
    st.tuples(st.just("delete"), st.integers(0, 30)),
)


def _apply_engagement(write: tuple, customers: list) -> None:
    """One engagement write: inserts by the ORM, the rest by QuerySet.update or delete."""
    kind = write[0]
    if kind == "engage":
        _, table, who, day, hour, extra = write
        model, customer_field, time_field = ENGAGEMENT_KINDS[table]
        at = _at(day, hour)
        fields = {customer_field: customers[who], time_field: at}
        if table == "invitation":
            joined = None if extra is None else at + dt.timedelta(days=extra, hours=extra % 5)
            CampaignInvitationFactory(**fields, joined_at=joined)
        elif table == "points":
            key = f"k{PointsEntry.objects.count()}-{who}-{at:%Y%m%d%H}-{extra}"
            PointsEntry.objects.create(**fields, points=(extra or 0) + 1, dedupe_key=key)
        else:
            {
                "referral": ReferralFactory,
                "complaint": ComplaintFactory,
                "review": ProductReviewFactory,
            }[table](**fields)
        return
    table = "invitation" if kind == "engage_join" else write[1]
    model, customer_field, time_field = ENGAGEMENT_KINDS[table]
    ids = list(model._default_manager.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return
    pk = ids[write[1 if kind == "engage_join" else 2] % len(ids)]
    rows = model._default_manager.filter(pk=pk)
    if kind == "engage_join":
        invited = rows.values_list("invited_at", flat=True).get()
        offset, hour = write[2], write[3]
        rows.update(
            joined_at=None if offset is None else invited + dt.timedelta(days=offset, hours=hour)
        )
    elif kind == "engage_move":
        at = _at(write[3], write[4])
        if table == "invitation":
            joined = rows.values_list("joined_at", flat=True).get()
            rows.update(invited_at=at, joined_at=None if joined is None else max(joined, at))
        else:
            rows.update(**{time_field: at})
    elif kind == "engage_customer":
        rows.update(**{customer_field: customers[write[3]]})
    else:
        rows._raw_delete(rows.db)  # points entries refuse the ORM's delete


def _apply(write: tuple, customers: list, categories: list) -> None:
    kind = write[0]
    if kind.startswith("engage"):
        _apply_engagement(write, customers)
        return
    if kind == "insert":
        _, who, day, hour, cents, category, status, on_time, profit = write
        OrderFactory(
            customer=customers[who],
            placed_at=_at(day, hour),
            amount=Decimal(cents) / 100,
            category=None if category is None else categories[category],
            status=status,
            on_time=on_time,
            profit=None if profit is None else Decimal(profit) / 100,
        )
        return
    if kind == "append":
        latest = dict(
            Order.objects.values("customer")
            .annotate(latest=Max("placed_at"))
            .values_list("customer", "latest")
        )
        new = []
        for who, offset, hour, cents, category, status, on_time, profit in write[1]:
            customer = customers[who]
            after = latest.get(customer.pk)
            base = AS_OF - dt.timedelta(days=40) if after is None else timezone.localdate(after)
            new.append(
                OrderFactory.build(
                    customer=customer,
                    placed_at=_at(base + dt.timedelta(days=offset), hour),
                    amount=Decimal(cents) / 100,
                    category=None if category is None else categories[category],
                    status=status,
                    on_time=on_time,
                    profit=None if profit is None else Decimal(profit) / 100,
                )
            )
        Order.objects.bulk_create(new)
        return
    ids = list(Order.objects.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return
    pk = ids[write[1] % len(ids)]
    orders = Order.objects.filter(pk=pk)  # QuerySet.update: no model save, no signal
    if kind == "refund":
        order = orders.get()
        orders.update(refunded_amount=(order.amount * write[2] / 100).quantize(Decimal("0.01")))
    elif kind == "status":
        orders.update(status=write[2])
    elif kind == "profit":
        orders.update(profit=None if write[2] is None else Decimal(write[2]) / 100)
    elif kind == "move":
        order = orders.get()
        order.placed_at = _at(write[2], write[3])
        order.save()
    elif kind == "customer":
        orders.update(customer=customers[write[2]])
    elif kind == "line":
        order_no = orders.get().order_no
        line_no = SalesLine.objects.filter(document_no=order_no).count() + 1
        category = None if write[2] is None else categories[write[2]]
        SalesLineFactory(document_no=order_no, line_no=line_no, category=category)
    else:
        orders.delete()


@pytest.fixture
def new_york(settings):
    """The property test runs in a daylight-saving zone: the facts are rebuilt in it."""
    settings.TIME_ZONE = "America/New_York"
    facts.facts_rebuild()
    yield
    settings.TIME_ZONE = "Asia/Shanghai"
    facts.facts_rebuild()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.lists(st.one_of(inserts, appends, engagements), min_size=2, max_size=10),
    then=st.lists(edits, min_size=1, max_size=12),
    window=st.sampled_from([365, 60]),
)
def test_random_writes_keep_the_facts_equal_to_the_orders(new_york, first, then, window):
    params = ScoringParams(window_days=window)
    with transaction.atomic():
        customers = [CustomerFactory() for _ in range(3)]
        categories = [CategoryFactory() for _ in range(4)]
        for write in first + then:
            _apply(write, customers, categories)
        kept, orders = _both(params=params)
        pd.testing.assert_frame_equal(kept, orders, check_exact=True)
        assert _bucket_profits() == _order_profits()
        assert _window_money(window) == _order_window_money(window)
        # The engagement counts: every month's bucket, and the window's read both ways.
        assert _engagement_buckets() == _engagement_by_hand()
        start = AS_OF - dt.timedelta(days=window)
        instants = (local_midnight(start), local_midnight(AS_OF))
        # All customers, and one shard's id range (the second and third customer).
        for id_range in (None, (customers[1].pk, customers[2].pk + 1)):
            pd.testing.assert_frame_equal(
                postgresql._customers(*instants, id_range, facts_window=(start, AS_OF)),
                postgresql._customers(*instants, id_range),
                check_exact=True,
            )
        transaction.set_rollback(True)


def _engagement_buckets() -> dict[tuple, tuple[int, ...]]:
    return {
        (row.customer_id, row.month): (
            row.invitations,
            row.joins,
            row.referrals,
            row.complaints,
            row.reviews,
            row.points,
        )
        for row in CustomerEngagementMonth.objects.all()
    }


def _engagement_by_hand() -> dict[tuple, tuple[int, ...]]:
    """Each (customer, local month)'s engagement counts from the five tables' rows."""
    sums: dict[tuple, list[int]] = {}
    for position, (table, (model, customer_field, time_field)) in enumerate(
        ENGAGEMENT_KINDS.items()
    ):
        extra = {"invitation": "joined_at", "points": "points"}.get(table, time_field)
        rows = model._default_manager.values_list(f"{customer_field}_id", time_field, extra)
        for customer_id, at, value in rows:
            counts = sums.setdefault((customer_id, timezone.localdate(at).replace(day=1)), [0] * 6)
            if table == "invitation":
                counts[0] += 1
                counts[1] += value is not None
            elif table == "points":
                counts[5] += value
            else:
                counts[position + 1] += 1
    return {key: tuple(counts) for key, counts in sums.items() if any(counts)}


def _bucket_profits() -> dict[tuple, tuple[int, int]]:
    return {
        (row.customer_id, row.month): (row.profit_cents, row.unknown_profit)
        for row in CustomerMonth.objects.all()
    }


def _counted_orders():
    return Order.objects.filter(status__in=[str(s) for s in Order.COUNTED_STATUSES])


def _order_profits() -> dict[tuple, tuple[int, int]]:
    """Each (customer, local month)'s recorded profit in cents and unknown orders, by hand."""
    sums: dict[tuple, tuple[int, int]] = {}
    for order in _counted_orders():
        key = (order.customer_id, timezone.localdate(order.placed_at).replace(day=1))
        profit, unknown = sums.get(key, (0, 0))
        if order.profit is None:
            sums[key] = (profit, unknown + 1)
        else:
            sums[key] = (profit + int(order.profit * 100), unknown)
    return sums


def _window_money(window: int) -> dict[int, tuple[int, int, int]]:
    money_sql = extract.window_money_sql(as_of=AS_OF, window_days=window)
    assert money_sql is not None
    sql, params = money_sql
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT customer_id, sum(net_cents), sum(profit_cents), sum(unknown_profit)"
            f" FROM ({sql}) w GROUP BY customer_id",
            params,
        )
        return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in cursor.fetchall()}


def _order_window_money(window: int) -> dict[int, tuple[int, int, int]]:
    """Each customer's window net cents, profit cents and unknown orders, from the orders."""
    start = local_midnight(AS_OF - dt.timedelta(days=window))
    sums: dict[int, tuple[int, int, int]] = {}
    for order in _counted_orders().filter(
        placed_at__gte=start, placed_at__lt=local_midnight(AS_OF)
    ):
        net, profit, unknown = sums.get(order.customer_id, (0, 0, 0))
        net += int((order.amount - order.refunded_amount) * 100)
        if order.profit is None:
            unknown += 1
        else:
            profit += int(order.profit * 100)
        sums[order.customer_id] = (net, profit, unknown)
    return sums


def test_facts_check_finds_a_bucket_that_went_wrong(capsys):
    from django.core.management import call_command

    from customers.models import CustomerMonth
    from tests.grading.factories import default_scheme

    default_scheme()
    customer = CustomerFactory()
    OrderFactory(customer=customer, placed_at=_at(dt.date(2023, 6, 1)), amount=Decimal(10))
    call_command("facts_check", as_of=AS_OF)
    assert "the same facts both ways" in capsys.readouterr().out

    # A bucket changed behind the triggers' back: the check names the customer and the fact.
    CustomerMonth.objects.filter(customer=customer).update(net_cents=999)
    with pytest.raises(SystemExit) as exit_status:
        call_command("facts_check", as_of=AS_OF)
    assert exit_status.value.code == 1
    out = capsys.readouterr().out
    assert f"customer {customer.pk}: monetary_cents is 999 from the customer facts" in out
