"""Service levels: first-response breaches per the customer's grade, computed in the database."""

import datetime as dt

import pytest
from django.utils import timezone

from benefits.selectors import sla_breach_summary_by_grade, ticket_sla_breaches
from customers.selectors import user_sees_all_customers
from tests.benefits.factories import set_grade
from tests.customers.factories import CustomerFactory, ServiceTicketFactory

NOW = timezone.make_aware(dt.datetime(2026, 11, 23, 12, 0))
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def tickets(alice, bob):
    """Strategic (1 h target) and basic (2 days) customers with hand-made tickets."""
    top = CustomerFactory(code="TOP", account_manager=alice)
    set_grade(top, "strategic")
    small = CustomerFactory(code="SMALL", account_manager=bob)
    set_grade(small, "basic")
    ungraded = CustomerFactory(code="UNGRADED", account_manager=alice)

    def ticket(customer, subject, opened_ago, answered_after=None):
        opened = NOW - opened_ago
        return ServiceTicketFactory(
            customer=customer,
            subject=subject,
            opened_at=opened,
            first_response_at=opened + answered_after if answered_after is not None else None,
        )

    return {
        "late answer": ticket(top, "late answer", 5 * HOUR, answered_after=2 * HOUR),
        "on time": ticket(top, "on time", 5 * HOUR, answered_after=HOUR),
        "waiting too long": ticket(top, "waiting too long", 90 * dt.timedelta(minutes=1)),
        "still in time": ticket(top, "still in time", 30 * dt.timedelta(minutes=1)),
        "basic waiting": ticket(small, "basic waiting", 47 * HOUR),
        "basic overdue": ticket(small, "basic overdue", 49 * HOUR),
        "no grade": ticket(ungraded, "no grade", 100 * HOUR),
    }


@pytest.mark.django_db
def test_breaches_are_late_answers_and_overdue_waits(ops, tickets, django_assert_num_queries):
    user_sees_all_customers(ops)  # loads (and caches) the user's permissions
    with django_assert_num_queries(1):
        breaches = list(ticket_sla_breaches(user=ops, now=NOW))

    # Oldest deadline first: NOW - 4 h, NOW - 1 h, NOW - 30 min.
    assert [t.subject for t in breaches] == ["late answer", "basic overdue", "waiting too long"]
    late = breaches[0]
    assert late.sla_minutes == 60
    assert late.sla_deadline == late.opened_at + HOUR
    assert late.customer.code == "TOP"  # joined, no extra query


@pytest.mark.django_db
def test_a_manager_sees_only_their_customers_breaches(alice, bob, tickets):
    assert {t.subject for t in ticket_sla_breaches(user=alice, now=NOW)} == {
        "late answer",
        "waiting too long",
    }
    assert {t.subject for t in ticket_sla_breaches(user=bob, now=NOW)} == {"basic overdue"}


@pytest.mark.django_db
def test_the_summary_counts_tickets_and_breaches_per_grade(ops, tickets, django_assert_num_queries):
    user_sees_all_customers(ops)  # loads (and caches) the user's permissions
    with django_assert_num_queries(1):
        summary = sla_breach_summary_by_grade(user=ops, now=NOW)

    assert [
        (row["grade"], row["tickets"], row["breaches"], row["open_breaches"]) for row in summary
    ] == [("strategic", 4, 2, 1), ("basic", 2, 1, 1)]
    assert summary[0]["breach_rate"] == 0.5
    assert summary[0]["target_minutes"] == 60


@pytest.mark.django_db
def test_the_summary_can_be_limited_to_tickets_opened_in_a_period(ops, tickets):
    summary = sla_breach_summary_by_grade(user=ops, now=NOW, opened_after=NOW - 2 * HOUR)

    assert [(row["grade"], row["tickets"], row["breaches"]) for row in summary] == [
        ("strategic", 2, 1)
    ]


@pytest.mark.django_db
def test_overdue_tickets_are_the_open_unanswered_breaches(tickets):
    from benefits.selectors import ticket_list_overdue

    closed = tickets["basic overdue"]
    ServiceTicketFactory(
        customer=closed.customer,
        subject="closed unanswered",
        opened_at=NOW - 60 * HOUR,
        closed_at=NOW - HOUR,
    )

    overdue = sorted(ticket_list_overdue(now=NOW).values_list("subject", flat=True))

    # Late answers and closed tickets are history; ungraded customers have no target.
    assert overdue == ["basic overdue", "waiting too long"]


@pytest.mark.django_db
def test_the_managers_queue_flags_exactly_the_customers_with_overdue_tickets(alice, tickets):
    from manager.selectors import customer_queue_for_user

    flags = dict(customer_queue_for_user(user=alice, now=NOW).values_list("code", "flag_sla"))

    assert flags == {"TOP": True, "UNGRADED": False}  # SMALL is Bob's
