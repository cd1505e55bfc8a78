"""A customer with a history in every section of the customer page (issue #13)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from appeals.models import Appeal, FollowUp
from benefits.models import Redemption
from customers.models import Customer, PointsEntry
from grading.models import ChangeSource, GradeAuditEntry, GradeChange, GradeOverride
from tests.appeals.factories import FollowUpFactory, downgrade, run_for, snapshot
from tests.benefits.factories import BenefitFactory
from tests.customers.factories import CategoryFactory, CustomerFactory, OrderFactory
from tests.grading.factories import grade


@dataclass
class History:
    customer: Customer
    proposal: GradeChange
    appeal: Appeal


def customer_with_history(*, code: str = "LIU-1", manager=None, orders: int = 3) -> History:
    """A Key customer with a pending Key → Growth proposal, and a row in every other section.

    Upgraded to Key by the run of 2026-10-01 (audit row with its reason), a decided appeal
    against an older downgrade, two follow-ups, a redemption, points, and `orders` orders.
    """
    customer = CustomerFactory.create(code=code, name="Liu Jing Trading", account_manager=manager)
    old = downgrade(customer, as_of=dt.date(2026, 9, 1), from_code="growth", to_code="standard")
    appeal = Appeal.objects.create(
        customer=customer,
        change=old,
        status=Appeal.Status.REJECTED,
        reason="Our orders were delayed by the warehouse move.",
        decided_at=timezone.now() - dt.timedelta(days=60),
    )
    GradeAuditEntry.objects.create(
        customer=customer,
        old_grade=grade("standard"),
        new_grade=grade("key"),
        source=ChangeSource.RUN,
        reason="Composite 72.5 earns Key",
        run=run_for(dt.date(2026, 10, 1)),
    )
    proposal = downgrade(customer, status=GradeChange.Status.PROPOSED)
    proposal.reason = "Two quarterly reviews under target"
    proposal.save(update_fields=["reason"])
    snapshot(
        customer,
        run_for(dt.date(2026, 12, 1)),
        grade_code="key",
        composite=48.25,
        action="propose_downgrade",
        rule="downgrade_after",
        grade_before=grade("key"),
        monetary=Decimal("1234567.80"),
    )
    FollowUpFactory(customer=customer, author=manager, outcome="Called the buyer: order coming")
    FollowUpFactory(
        customer=customer, author=manager, kind=FollowUp.Kind.MEETING, outcome="Met at the fair"
    )
    benefit = BenefitFactory.create(name="Free shipping")
    Redemption.objects.create(
        customer=customer,
        benefit=benefit,
        grade=grade("key"),
        period_key="2026-11",
        slot=1,
        idempotency_key=f"{code}-1",
        channel=Redemption.Channel.PORTAL,
        cost=Decimal("1250.50"),
    )
    PointsEntry.objects.create(
        customer=customer, points=1200, task_code="review", reason="Product review", dedupe_key="r1"
    )
    category = CategoryFactory(code="tea", name="Tea")
    for n in range(orders):
        OrderFactory(
            customer=customer,
            order_no=f"{code}-O{n:03d}",
            amount=Decimal("12345.60"),
            category=category,
            placed_at=timezone.now() - dt.timedelta(days=n + 1),
        )
    return History(customer=customer, proposal=proposal, appeal=appeal)


def pin(customer: Customer, *, code: str = "key", expires_on: dt.date | None = None) -> None:
    """Pin the customer's grade by hand (the row only; the page reads it)."""
    GradeOverride.objects.create(
        customer=customer, grade=grade(code), reason="Strategic account", expires_on=expires_on
    )
