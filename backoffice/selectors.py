"""What the customer page of the admin (the "customer 360") reads, in a fixed number of queries.

One query per section, each bounded: the latest `SECTION_LIMIT` rows (one more is read to
know whether a "see all" link is needed, never a count), so the page costs the same for a
customer with ten rows of history as for one with ten thousand, and the same at a million
customers (every query is a probe of a per-customer index). Scoping is the caller's: the
admin only reaches here with a customer its scoped queryset returned (docs/architecture.md,
invariant 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from appeals.models import Appeal, FollowUp
from appeals.selectors import appeal_list_for_customer
from benefits.models import Redemption
from customers.models import Customer, CustomerAccount, ManagerAssignment, Order, PointsEntry
from customers.selectors import manager_assignment_latest, points_balance
from grading.models import (
    CustomerGrade,
    GradeAuditEntry,
    GradeChange,
    GradeOverride,
    ScoreSnapshot,
)
from grading.selectors import snapshot_latest_for_customer

#: Rows shown per section; the full list is one link away (the admin list, filtered).
SECTION_LIMIT = 10


@dataclass(frozen=True)
class Section[T]:
    """The latest rows of one section, and whether there are more than shown."""

    rows: list[T]
    more: bool


def _section[T](queryset: QuerySet[Any, T], limit: int = SECTION_LIMIT) -> Section[T]:
    rows = list(queryset[: limit + 1])
    return Section(rows=rows[:limit], more=len(rows) > limit)


@dataclass(frozen=True)
class Customer360:
    """Everything the customer page shows besides the customer's own fields."""

    customer: Customer
    grade_state: CustomerGrade | None
    pin: GradeOverride | None
    snapshot: ScoreSnapshot | None
    proposal: GradeChange | None
    history: Section[GradeAuditEntry]
    appeals: Section[Appeal]
    follow_ups: Section[FollowUp]
    redemptions: Section[Redemption]
    points_balance: int
    points: Section[PointsEntry]
    orders: Section[Order]
    portal_logins: int
    last_assignment: ManagerAssignment | None


def customer_360_get(*, customer: Customer) -> Customer360:
    """Return the customer page's sections for `customer` (thirteen bounded queries)."""
    grade_state = (
        CustomerGrade.objects.select_related("grade", "last_run__scheme")
        .filter(customer=customer)
        .first()
    )
    pin = (
        GradeOverride.objects.select_related("grade", "created_by")
        .filter(customer=customer, ended_at__isnull=True)
        .first()
    )
    proposal = (
        GradeChange.objects.select_related("from_grade", "to_grade", "run__scheme")
        .filter(customer=customer, status=GradeChange.Status.PROPOSED)
        .order_by("-created_at", "-id")
        .first()
    )
    history = GradeAuditEntry.objects.filter(customer=customer).select_related(
        "old_grade", "new_grade", "actor", "run__scheme"
    )
    follow_ups = FollowUp.objects.filter(customer=customer).select_related("author")
    redemptions = Redemption.objects.filter(customer=customer).select_related("benefit", "grade")
    return Customer360(
        customer=customer,
        grade_state=grade_state,
        pin=pin,
        snapshot=snapshot_latest_for_customer(customer=customer),
        proposal=proposal,
        history=_section(history.order_by("-created_at", "-id")),
        appeals=_section(appeal_list_for_customer(customer=customer)),
        follow_ups=_section(follow_ups.order_by("-created_at", "-id")),
        redemptions=_section(redemptions.order_by("-redeemed_at", "-id")),
        points_balance=points_balance(customer),
        points=_section(PointsEntry.objects.filter(customer=customer).order_by("-created_at")),
        orders=_section(customer.orders.select_related("category").order_by("-placed_at")),
        portal_logins=CustomerAccount.objects.filter(customer=customer).count(),
        last_assignment=manager_assignment_latest(customer=customer),
    )
