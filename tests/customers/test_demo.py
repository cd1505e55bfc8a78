"""Demo data: `demo_seed` makes the promised mix, deterministically, in a bounded number of
queries; `seed_demo` skips with --if-empty and refuses to seed twice."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Max, Min, Q, Sum
from django.test import RequestFactory
from django.utils import timezone

from common.roles import ACCOUNT_MANAGERS, OPERATIONS
from customers.models import (
    Campaign,
    CampaignInvitation,
    Complaint,
    Customer,
    Order,
    ProductReview,
    Referral,
    ServiceTicket,
)
from customers.services.demo import (
    DEMO_PASSWORD,
    MANAGER_USERNAMES,
    DemoDataExists,
    demo_seed,
)
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 15)
COUNTED = (Order.Status.PAID, Order.Status.COMPLETED)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, timezone.get_default_timezone())


def _days_before_today(moment: dt.datetime) -> int:
    return (TODAY - timezone.localdate(moment, timezone.get_default_timezone())).days


def _orders_snapshot() -> list[tuple]:
    return list(
        Order.objects.order_by("order_no").values_list(
            "order_no", "customer__code", "placed_at", "amount", "refunded_amount", "status"
        )
    )


@pytest.fixture
def seeded():
    return demo_seed(customers=300, seed=7, today=TODAY)


def test_seeding_makes_the_promised_customer_mix(seeded):
    customers = list(
        Customer.objects.annotate(
            first=Min("orders__placed_at", filter=Q(orders__status__in=COUNTED)),
            last=Max("orders__placed_at", filter=Q(orders__status__in=COUNTED)),
        ).values("kind", "registered_at", "first", "last")
    )
    n = len(customers)
    kinds = Counter(c["kind"] for c in customers)
    last_days = [_days_before_today(c["last"]) for c in customers if c["last"]]
    first_days = [_days_before_today(c["first"]) for c in customers if c["first"]]
    prospects = sum(c["last"] is None for c in customers)

    assert n == seeded.customers == 300
    assert 0.02 <= kinds[Customer.Kind.CHANNEL_AGENT] / n <= 0.10
    assert 0.12 <= kinds[Customer.Kind.RESELLER] / n <= 0.30
    assert 0.60 <= kinds[Customer.Kind.END_CUSTOMER] / n <= 0.85
    assert 0.01 <= prospects / n <= 0.10
    assert 0.08 <= sum(181 <= d <= 365 for d in last_days) / n <= 0.25  # dormant
    assert 0.08 <= sum(d > 365 for d in last_days) / n <= 0.25  # churned
    assert sum(d < 90 for d in first_days) >= 0.03 * n  # new
    assert sum(d <= 30 for d in last_days) >= 0.15 * n  # recently active
    assert all(c["registered_at"] < c["first"] for c in customers if c["first"])
    assert all(c["registered_at"] < _midnight(TODAY) for c in customers)
    assert max(first_days) <= 4 * 365


def test_orders_are_skewed_refunded_within_amount_and_before_today(seeded):
    orders = list(Order.objects.values("amount", "refunded_amount", "profit", "status", "on_time"))
    statuses = Counter(o["status"] for o in orders)
    partial = [o for o in orders if 0 < o["refunded_amount"] < o["amount"]]
    per_customer = sorted(
        Customer.objects.annotate(n=Count("orders")).values_list("n", flat=True), reverse=True
    )
    revenue = sorted(
        Customer.objects.annotate(net=Sum(F("orders__amount") - F("orders__refunded_amount")))
        .exclude(net=None)
        .values_list("net", flat=True),
        reverse=True,
    )

    assert len(orders) == seeded.orders
    assert all(0 <= o["refunded_amount"] <= o["amount"] for o in orders)
    assert 0.01 <= len(partial) / len(orders) <= 0.06
    assert all(o["refunded_amount"] == o["amount"] for o in orders if o["status"] == "refunded")
    assert set(statuses) == set(Order.Status.values)
    assert all(
        o["amount"] * Decimal("0.05") - Decimal("0.01") <= o["profit"] <= o["amount"] / 4
        for o in orders
    )
    assert {o["on_time"] for o in orders} == {True, False, None}
    assert per_customer[0] >= 12  # channel agents and heavy buyers order dozens of times
    assert sum(1 <= c <= 3 for c in per_customer) >= 0.3 * len(per_customer)
    assert sum(revenue[: len(revenue) // 5]) >= Decimal("0.6") * sum(revenue)  # Pareto
    assert Order.objects.aggregate(last=Max("placed_at"))["last"] < _midnight(TODAY)


def test_managers_get_most_agents_and_resellers_and_some_end_customers(seeded):
    managed = Counter(
        Customer.objects.exclude(account_manager=None).values_list(
            "account_manager__username", flat=True
        )
    )
    share = {
        kind: Customer.objects.filter(kind=kind, account_manager__isnull=False).count()
        / max(Customer.objects.filter(kind=kind).count(), 1)
        for kind in Customer.Kind.values
    }

    assert set(managed) == set(MANAGER_USERNAMES)
    assert managed["manager"] == max(managed.values())
    assert managed["manager"] >= 20
    assert share[Customer.Kind.CHANNEL_AGENT] >= 0.7
    assert share[Customer.Kind.RESELLER] >= 0.7
    assert 0.15 <= share[Customer.Kind.END_CUSTOMER] <= 0.45
    assert seeded.managed_customers == sum(managed.values())


def test_engagement_data_respects_time_and_is_in_proportion(seeded):
    invitations = CampaignInvitation.objects.aggregate(
        n=Count("id"), joined=Count("id", filter=Q(joined_at__isnull=False))
    )
    tickets = list(ServiceTicket.objects.values("opened_at", "first_response_at", "closed_at"))
    answered = [t for t in tickets if t["first_response_at"]]
    before_today = _midnight(TODAY)

    assert 5 <= Campaign.objects.count() <= 7
    assert not Campaign.objects.filter(ends_on__gte=TODAY).exists()
    assert Campaign.objects.filter(starts_on__lt=TODAY - dt.timedelta(days=300)).exists()
    assert 0.3 <= invitations["joined"] / invitations["n"] <= 0.55
    assert 0.03 <= Complaint.objects.values("customer").distinct().count() / 300 <= 0.15
    assert 0.12 <= ServiceTicket.objects.values("customer").distinct().count() / 300 <= 0.30
    assert ProductReview.objects.exists()
    assert Referral.objects.filter(referred__isnull=False).exists()
    assert Referral.objects.filter(referred__isnull=True).exclude(referred_name="").exists()
    assert all(
        dt.timedelta(minutes=5) <= t["first_response_at"] - t["opened_at"] <= dt.timedelta(days=3)
        for t in answered
    )
    assert 0.6 <= len(answered) / len(tickets) < 1
    assert any(t["closed_at"] for t in tickets)
    for model, fields in [
        (CampaignInvitation, ("invited_at", "joined_at")),
        (Referral, ("created_at",)),
        (Complaint, ("created_at", "resolved_at")),
        (ProductReview, ("created_at",)),
        (ServiceTicket, ("opened_at", "first_response_at", "closed_at")),
    ]:
        latest = model.objects.aggregate(*(Max(f) for f in fields)).values()
        assert all(value < before_today for value in latest if value), model


def test_demo_logins_work_with_their_roles(seeded):
    request = RequestFactory().post("/admin/login/")

    ops = authenticate(request, username="ops", password=DEMO_PASSWORD)
    manager = authenticate(request, username="manager", password=DEMO_PASSWORD)

    assert ops is not None
    assert ops.is_staff
    assert ops.groups.filter(name=OPERATIONS).exists()
    assert manager is not None
    assert manager.is_staff
    assert manager.groups.filter(name=ACCOUNT_MANAGERS).exists()
    assert Group.objects.get(name=ACCOUNT_MANAGERS).user_set.count() == 5
    assert seeded.staff_users == 6


def test_the_same_seed_gives_the_same_data():
    demo_seed(customers=60, seed=3, today=TODAY)
    first = _orders_snapshot()
    Order.objects.all().delete()
    Customer.objects.all().delete()

    demo_seed(customers=60, seed=3, today=TODAY)
    again = _orders_snapshot()
    Order.objects.all().delete()
    Customer.objects.all().delete()
    demo_seed(customers=60, seed=4, today=TODAY)

    assert first
    assert again == first
    assert _orders_snapshot() != first


def test_a_second_run_refuses_and_writes_nothing():
    call_command(
        "seed_demo", "--customers=20", "--months=0", "--today=2026-03-15", stdout=StringIO()
    )
    orders = Order.objects.count()

    with pytest.raises(CommandError, match="already exist"):
        call_command("seed_demo", customers=20, seed=9, stdout=StringIO())
    with pytest.raises(DemoDataExists):
        demo_seed(customers=20, seed=9)

    assert Customer.objects.count() == 20
    assert Order.objects.count() == orders


def test_if_empty_skips_when_any_customer_exists():
    CustomerFactory(code="REAL-1")
    out = StringIO()

    call_command("seed_demo", customers=20, if_empty=True, stdout=out)

    assert "already exist" in out.getvalue()
    assert Customer.objects.count() == 1


def test_if_empty_seeds_an_empty_database_and_prints_the_counts():
    out = StringIO()

    call_command(
        "seed_demo", "--customers=20", "--months=0", "--if-empty", "--today=2026-03-15", stdout=out
    )

    assert Customer.objects.filter(code__startswith="DEMO").count() == 20
    assert "20 customers" in out.getvalue()
    assert f"{Order.objects.count()} orders" in out.getvalue()


# About 45 queries whatever the size (staff logins, groups, categories, campaigns), then one
# INSERT per batch: on SQLite ~100 orders per INSERT (999 parameters), on PostgreSQL 2,000.
# 500 customers measure ~80 on SQLite; one query per customer would need over 500.
QUERY_BOUND = 100


@pytest.mark.parametrize("customers", [50, 500])
def test_query_count_does_not_grow_per_customer(customers, django_assert_max_num_queries):
    with django_assert_max_num_queries(QUERY_BOUND):
        summary = demo_seed(customers=customers, seed=1, today=TODAY)

    assert summary.customers == customers
    assert summary.orders > customers
