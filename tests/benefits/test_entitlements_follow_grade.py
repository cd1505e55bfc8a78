"""Entitlements follow the CURRENT grade through every real grade-change path: a run's
upgrade and applied downgrade, an approved downgrade proposal, an override and an accepted
appeal. Nothing is granted or revoked by hand: each path changes the grade row and the next
redemption reads it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from benefits.exceptions import BenefitNotEntitled
from benefits.selectors import entitlement_list_for_customer
from benefits.services.redemptions import benefit_redeem
from grading.models import CustomerGrade, Grade
from grading.services.overrides import grade_override_set
from grading.services.reviews import grade_change_approve
from grading.services.runs import grading_run_execute
from tests.appeals.factories import downgrade, file_appeal, portal_customer
from tests.benefits.factories import BenefitFactory, set_grade
from tests.customers.factories import CustomerFactory
from tests.grading.factories import at, orders_for, threshold_scheme


@pytest.fixture
def key_coupon(db):
    """A single-use coupon only the key grade carries."""
    return BenefitFactory(code="key-coupon", name="Key coupon", grades=["key"])


@pytest.fixture
def scheme(db):
    """Historical value only, fixed thresholds, monthly, downgrades applied without review."""
    return threshold_scheme("entitlements", downgrade_needs_review=False)


def _entitled(customer, day) -> set[str]:
    return {e.benefit.code for e in entitlement_list_for_customer(customer=customer, today=day)}


def _grade(customer) -> str:
    return CustomerGrade.objects.get(customer=customer).grade.code


def _run(scheme, as_of):
    with time_machine.travel(at(as_of), tick=False):
        grading_run_execute(as_of=as_of, scheme=scheme)


@pytest.mark.django_db
def test_a_runs_upgrade_grants_and_its_applied_downgrade_removes(scheme, key_coupon):
    customer = CustomerFactory(code="RUNS")
    _run(scheme, dt.date(2026, 2, 1))  # no orders yet: basic
    assert _grade(customer) == "basic"
    assert "key-coupon" not in _entitled(customer, dt.date(2026, 2, 15))

    # 17 orders of 300 in February: F 17 (f 5), M 5,100 (m 3), fresh (r 5) -> key.
    orders_for(customer, *[(dt.date(2026, 2, 1 + i), "300") for i in range(17)])
    _run(scheme, dt.date(2026, 3, 1))
    assert _grade(customer) == "key"
    assert "key-coupon" in _entitled(customer, dt.date(2026, 3, 2))

    # No more orders: recency decays until a run applies a downgrade (no review needed).
    as_of = dt.date(2026, 4, 1)
    while _grade(customer) == "key":
        _run(scheme, as_of)
        as_of = (as_of + dt.timedelta(days=31)).replace(day=1)
        assert as_of < dt.date(2027, 6, 1), "the run never downgraded"
    assert "key-coupon" not in _entitled(customer, as_of)
    with pytest.raises(BenefitNotEntitled):
        benefit_redeem(
            customer_id=customer.pk,
            benefit_code="key-coupon",
            idempotency_key="after-downgrade",
            channel="api",
            today=as_of,
        )


@pytest.mark.django_db
def test_an_approved_downgrade_proposal_removes_the_unused_benefit(ops, key_coupon):
    customer = CustomerFactory(code="PROPOSED")
    change = downgrade(customer, status="proposed")  # key, proposed -> growth
    assert "key-coupon" in _entitled(customer, dt.date(2026, 11, 2))

    grade_change_approve(change_ids=[change.pk], by=ops)

    assert _grade(customer) == "growth"
    assert "key-coupon" not in _entitled(customer, dt.date(2026, 11, 2))


@pytest.mark.django_db
def test_an_override_grants_the_pinned_grades_benefits(ops, key_coupon):
    customer = CustomerFactory(code="PINNED")
    set_grade(customer, "growth")
    assert "key-coupon" not in _entitled(customer, dt.date(2026, 11, 2))

    grade_override_set(
        customer=customer,
        grade=Grade.objects.get(code="key"),
        reason="Strategic partner, contract signed",
        expires_on=None,
        by=ops,
    )

    assert "key-coupon" in _entitled(customer, dt.date(2026, 11, 2))
    redemption = benefit_redeem(
        customer_id=customer.pk, benefit_code="key-coupon", idempotency_key="pin", channel="api"
    )
    assert redemption.grade.code == "key"


@pytest.mark.django_db
def test_an_accepted_appeal_gives_the_restored_grades_benefits_back(alice, ops, key_coupon):
    from appeals.services import appeal_accept

    account, change = portal_customer(code="APPEAL", manager=alice)  # key -> growth applied
    customer = account.customer
    assert "key-coupon" not in _entitled(customer, dt.date(2026, 11, 2))

    appeal = file_appeal(account, change)
    appeal_accept(appeal_id=appeal.pk, by=ops, note="Delay on our side.")

    assert _grade(customer) == "key"
    assert "key-coupon" in _entitled(customer, dt.date(2026, 11, 2))


@pytest.mark.django_db
def test_the_grade_the_caller_read_gives_the_same_entitlements(key_coupon):
    """The portal home passes the grade its explanation read: one query fewer, same list."""
    graded = CustomerFactory(code="GRADED")
    set_grade(graded, "key")
    ungraded = CustomerFactory(code="UNGRADED")
    day = dt.date(2026, 11, 2)

    assert entitlement_list_for_customer(
        customer=graded, today=day, grade=Grade.objects.get(code="key")
    ) == entitlement_list_for_customer(customer=graded, today=day)
    assert entitlement_list_for_customer(customer=ungraded, today=day, grade=None) == []
