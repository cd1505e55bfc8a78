"""A customer's grade over six monthly runs: assign, keep, warn, proposal, no duplicate
proposal; an override and an appeal lock that survive every run (docs/grading-policy.md)."""

import datetime as dt
from decimal import Decimal

import pytest

from grading.models import (
    CustomerGrade,
    Grade,
    GradeAuditEntry,
    GradeChange,
    GradeOverride,
    SchemeGrade,
    ScoreSnapshot,
)
from grading.services.runs import grading_run_execute
from tests.customers.factories import CustomerFactory
from tests.grading.factories import orders_for

MONTHS = [dt.date(2026, m, 1) for m in range(2, 8)]


def _eight_january_orders(customer):
    orders_for(customer, *[(dt.date(2026, 1, 10 + 2 * i), "300") for i in range(8)])


def _history(customer):
    return list(
        ScoreSnapshot.objects.filter(customer=customer)
        .order_by("run__as_of")
        .values_list("historical", "action", "grade_after__code")
    )


@pytest.mark.django_db
def test_a_quiet_customer_is_warned_then_proposed_once(scheme):
    customer = CustomerFactory()
    _eight_january_orders(customer)  # F = 8 -> f 4; M = 2,400 -> m 2

    for as_of in MONTHS:
        grading_run_execute(as_of=as_of, scheme=scheme)

    # R (days since Jan 24) grows: r = 5 (Feb), 4 (Mar, Apr), 3 (May, Jun, Jul).
    # H = 100 (r-1 + f-1 + m-1) / 12.
    assert _history(customer) == [
        (66.6667, "assign", "key"),
        (58.3333, "keep", "key"),
        (58.3333, "keep", "key"),
        (50.0, "warn", "key"),
        (50.0, "propose_downgrade", "key"),
        (50.0, "keep", "key"),  # pending review: never a second proposal
    ]
    proposal = GradeChange.objects.get(customer=customer, status="proposed")
    assert (proposal.from_grade.code, proposal.to_grade.code) == ("key", "growth")
    assert CustomerGrade.objects.get(customer=customer).grade.code == "key"
    # Only the first grade changed the customer's grade: one audit row.
    assert GradeAuditEntry.objects.filter(customer=customer).count() == 1


@pytest.mark.django_db
def test_an_upgrade_is_immediate_and_can_jump_grades(scheme):
    customer = CustomerFactory()
    orders_for(customer, (dt.date(2024, 12, 1), "300"))  # outside the window: F = 0 -> basic
    grading_run_execute(as_of=MONTHS[0], scheme=scheme)

    # A burst in February: R <= 30 -> r 5; F = 17 -> f 5; M = 5,100 -> m 3; H = 83.3333.
    orders_for(customer, *[(dt.date(2026, 2, 1 + i), "300") for i in range(17)])
    grading_run_execute(as_of=MONTHS[1], scheme=scheme)

    assert _history(customer) == [(0.0, "assign", "basic"), (83.3333, "upgrade", "key")]
    change = GradeChange.objects.get(customer=customer, run__as_of=MONTHS[1])
    assert (change.from_grade.code, change.to_grade.code, change.status) == (
        "basic",
        "key",
        "applied",
    )
    audit = GradeAuditEntry.objects.filter(customer=customer).order_by("created_at", "id")
    assert [(a.old_grade_id and a.old_grade.code, a.new_grade.code) for a in audit] == [
        (None, "basic"),
        ("basic", "key"),
    ]


@pytest.mark.django_db
def test_an_upgrade_supersedes_a_pending_downgrade_proposal(scheme):
    customer = CustomerFactory()
    _eight_january_orders(customer)
    growth = Grade.objects.get(code="growth")
    SchemeGrade.objects.filter(scheme=scheme, grade__code="key").update(min_score=Decimal(60))
    grading_run_execute(as_of=MONTHS[0], scheme=scheme)  # 66.67 -> key
    for as_of in MONTHS[1:3]:  # 58.33 < 60: warn, then propose key -> growth
        grading_run_execute(as_of=as_of, scheme=scheme)
    proposal = GradeChange.objects.get(customer=customer, status="proposed")
    assert proposal.to_grade == growth
    # Ops pins the customer to growth meanwhile and lifts the pin; the next run finds the
    # customer above growth again: an upgrade, which withdraws the open proposal.
    CustomerGrade.objects.filter(customer=customer).update(grade=growth)
    orders_for(customer, *[(dt.date(2026, 3, 20 + i), "300") for i in range(8)])

    grading_run_execute(as_of=MONTHS[3], scheme=scheme)

    proposal.refresh_from_db()
    assert proposal.status == "superseded"
    assert _history(customer)[-1][1:] == ("upgrade", "key")


@pytest.mark.django_db
def test_override_and_appeal_lock_survive_every_run(scheme, ops):
    pinned, locked = CustomerFactory(code="PINNED"), CustomerFactory(code="LOCKED")
    grading_run_execute(as_of=MONTHS[0], scheme=scheme)  # both prospects -> basic
    key = Grade.objects.get(code="key")
    for customer, source in ((pinned, "manual"), (locked, "appeal")):
        GradeOverride.objects.create(
            customer=customer, grade=key, source=source, reason="test", created_by=ops
        )
        CustomerGrade.objects.filter(customer=customer).update(grade=key)

    for as_of in MONTHS[1:]:
        grading_run_execute(as_of=as_of, scheme=scheme)

    for customer, action in ((pinned, "pinned"), (locked, "locked")):
        assert CustomerGrade.objects.get(customer=customer).grade == key
        actions = {a for _, a, _ in _history(customer)[1:]}
        assert actions == {action}
        assert not GradeChange.objects.filter(customer=customer, run__as_of__gt=MONTHS[0])
