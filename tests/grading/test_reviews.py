"""Review decisions on proposed grade changes: approve applies and audits once, reject keeps
the grade and restarts the count; pins and moved grades supersede (docs/grading-policy.md,
invariants 1 and 6)."""

import datetime as dt
import threading
from unittest import mock

import pytest
from django.db import connections

from common.models import Notification
from grading.exceptions import ChangeAlreadyDecided, ReasonRequired
from grading.models import CustomerGrade, GradeAuditEntry, GradeChange, SchemeGrade
from grading.services.reviews import ReviewResult, grade_change_approve, grade_change_reject
from grading.services.runs import grading_run_execute
from tests.customers.factories import CustomerFactory
from tests.grading.factories import (
    GradeChangeFactory,
    GradeOverrideFactory,
    grade,
    orders_for,
    proposal_for,
)


def _state(customer):
    return CustomerGrade.objects.get(customer=customer)


@pytest.mark.django_db
def test_approve_applies_the_grade_and_writes_exactly_one_audit_row(ops, alice):
    customer = CustomerFactory(account_manager=alice)
    change = proposal_for(customer)
    before = _state(customer).since

    result = grade_change_approve(change_ids=[change.pk], by=ops, note="Confirmed with sales")

    assert result == ReviewResult(applied=1)
    change.refresh_from_db()
    assert change.status == GradeChange.Status.APPLIED
    assert (change.decided_by, change.decision_note) == (ops, "Confirmed with sales")
    assert change.decided_at is not None
    state = _state(customer)
    assert state.grade.code == "growth"
    assert state.periods_under == 0
    assert state.since > before
    audit = GradeAuditEntry.objects.get(customer=customer)
    assert (audit.old_grade.code, audit.new_grade.code) == ("key", "growth")
    assert (audit.source, audit.actor, audit.reason, audit.change) == (
        "review",
        ops,
        "Confirmed with sales",
        change,
    )


@pytest.mark.django_db
def test_approve_without_a_note_audits_the_change_reason(ops):
    change = proposal_for(CustomerFactory())

    grade_change_approve(change_ids=[change.pk], by=ops)

    assert GradeAuditEntry.objects.get(change=change).reason == change.reason


@pytest.mark.django_db
def test_approving_one_change_twice_raises_and_writes_no_second_audit_row(ops):
    change = proposal_for(CustomerFactory())
    grade_change_approve(change_ids=[change.pk], by=ops)

    with pytest.raises(ChangeAlreadyDecided):
        grade_change_approve(change_ids=[change.pk], by=ops)

    assert GradeAuditEntry.objects.filter(change=change).count() == 1
    assert _state(change.customer).grade.code == "growth"


@pytest.mark.django_db
def test_bulk_approve_applies_supersedes_and_skips_by_state(ops):
    ok = proposal_for(CustomerFactory(code="OK"))
    pinned = proposal_for(CustomerFactory(code="PINNED"))
    GradeOverrideFactory(customer=pinned.customer, grade=grade("key"), created_by=ops)
    moved = proposal_for(CustomerFactory(code="MOVED"))
    CustomerGrade.objects.filter(customer=moved.customer).update(grade=grade("strategic"))
    decided = proposal_for(CustomerFactory(code="DECIDED"))
    GradeChange.objects.filter(pk=decided.pk).update(status=GradeChange.Status.REJECTED)

    result = grade_change_approve(
        change_ids=[decided.pk, moved.pk, pinned.pk, ok.pk, ok.pk], by=ops, note="Batch"
    )

    assert result == ReviewResult(applied=1, superseded=2, already_decided=1)
    statuses = dict(GradeChange.objects.values_list("customer__code", "status"))
    assert statuses == {
        "OK": "applied",
        "PINNED": "superseded",
        "MOVED": "superseded",
        "DECIDED": "rejected",
    }
    assert _state(ok.customer).grade.code == "growth"
    assert _state(pinned.customer).grade.code == "key"  # the pin wins
    assert _state(moved.customer).grade.code == "strategic"  # never overwritten
    assert list(GradeAuditEntry.objects.values_list("change_id", flat=True)) == [ok.pk]
    pinned.refresh_from_db()
    moved.refresh_from_db()
    assert "pinned" in pinned.decision_note
    assert "changed" in moved.decision_note
    assert pinned.decided_by == moved.decided_by == ops


@pytest.mark.django_db
def test_approve_notifies_the_account_manager_once_on_commit(
    ops, alice, django_capture_on_commit_callbacks
):
    change = proposal_for(CustomerFactory(code="NOTE", account_manager=alice))
    unmanaged = proposal_for(CustomerFactory(code="NOBODY"))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        grade_change_approve(change_ids=[change.pk, unmanaged.pk], by=ops)

    note = Notification.objects.get()
    assert note.recipient == alice
    assert note.dedupe_key == f"change:{change.pk}:approved"
    assert "NOTE" in note.title
    assert "Growth" in note.title
    # The e-mail task goes out only after commit, once.
    with mock.patch("common.tasks.send_notification_emails_task.delay") as enqueued:
        assert not enqueued.called
        for callback in callbacks:
            callback()
    assert enqueued.call_count == 1


@pytest.mark.django_db
def test_reject_requires_a_reason_and_changes_nothing(ops):
    change = proposal_for(CustomerFactory())

    with pytest.raises(ReasonRequired) as error:
        grade_change_reject(change_ids=[change.pk], by=ops, reason="   ")

    assert error.value.field == "reason"
    change.refresh_from_db()
    assert change.status == GradeChange.Status.PROPOSED
    assert _state(change.customer).periods_under == 2


@pytest.mark.django_db
def test_reject_keeps_the_grade_restarts_the_count_and_writes_no_audit_row(ops, alice):
    change = proposal_for(CustomerFactory(account_manager=alice))

    result = grade_change_reject(change_ids=[change.pk], by=ops, reason="Seasonal dip")

    assert result == ReviewResult(rejected=1)
    change.refresh_from_db()
    assert change.status == GradeChange.Status.REJECTED
    assert (change.decided_by, change.decision_note) == (ops, "Seasonal dip")
    state = _state(change.customer)
    assert (state.grade.code, state.periods_under) == ("key", 0)
    assert not GradeAuditEntry.objects.exists()
    assert Notification.objects.get().dedupe_key == f"change:{change.pk}:rejected"


@pytest.mark.django_db
def test_rejecting_a_decided_change_raises_and_bulk_reject_skips_it(ops):
    decided = proposal_for(CustomerFactory())
    grade_change_approve(change_ids=[decided.pk], by=ops)
    open_change = proposal_for(CustomerFactory())

    with pytest.raises(ChangeAlreadyDecided):
        grade_change_reject(change_ids=[decided.pk], by=ops, reason="Too late")
    result = grade_change_reject(change_ids=[decided.pk, open_change.pk], by=ops, reason="No")

    assert result == ReviewResult(rejected=1, already_decided=1)
    decided.refresh_from_db()
    assert decided.status == GradeChange.Status.APPLIED


@pytest.mark.django_db
def test_a_change_without_a_grade_state_is_superseded(ops):
    change = GradeChangeFactory()  # the customer has no CustomerGrade row

    result = grade_change_approve(change_ids=[change.pk], by=ops)

    assert result == ReviewResult(superseded=1)
    assert not GradeAuditEntry.objects.exists()


@pytest.mark.django_db
def test_a_proposal_made_by_real_runs_is_applied_and_not_proposed_again(scheme, ops):
    customer = CustomerFactory()
    # Eight orders in January: key, then under target (see test_scenario).
    orders_for(customer, *[(dt.date(2026, 1, 10 + 2 * i), "300") for i in range(8)])
    SchemeGrade.objects.filter(scheme=scheme, grade__code="key").update(min_score=60)
    for month in (2, 3, 4):
        grading_run_execute(as_of=dt.date(2026, month, 1), scheme=scheme)
    proposal = GradeChange.objects.get(customer=customer, status="proposed")

    grade_change_approve(change_ids=[proposal.pk], by=ops)
    grading_run_execute(as_of=dt.date(2026, 5, 1), scheme=scheme)

    assert _state(customer).grade.code == "growth"
    assert not GradeChange.objects.filter(customer=customer, status="proposed").exists()
    audit = GradeAuditEntry.objects.filter(customer=customer).order_by("created_at", "id")
    assert [(a.source, a.new_grade.code) for a in audit] == [("run", "key"), ("review", "growth")]


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_reviewers_approving_the_same_change_at_once_audit_it_once(ops):
    change = proposal_for(CustomerFactory())
    barrier = threading.Barrier(2)
    results, errors = [], []

    def approve():
        try:
            barrier.wait()
            results.append(grade_change_approve(change_ids=[change.pk], by=ops))
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [ReviewResult(applied=1)]
    assert len(errors) == 1
    assert isinstance(errors[0], ChangeAlreadyDecided)
    assert GradeAuditEntry.objects.filter(change=change).count() == 1


@pytest.mark.django_db
def test_review_decisions_reach_the_customers_portal_login(ops):
    from customers.models import CustomerAccount
    from tests.customers.factories import UserFactory

    approved = proposal_for(CustomerFactory(code="YES"))
    rejected = proposal_for(CustomerFactory(code="NO"))
    yes_login, no_login = UserFactory(username="yes-portal"), UserFactory(username="no-portal")
    CustomerAccount.objects.create(user=yes_login, customer=approved.customer)
    CustomerAccount.objects.create(user=no_login, customer=rejected.customer)

    grade_change_approve(change_ids=[approved.pk], by=ops)
    grade_change_reject(change_ids=[rejected.pk], by=ops, reason="Seasonal dip")

    assert Notification.objects.get(recipient=yes_login).title == (
        f"Your grade changed from {approved.from_grade.name} to {approved.to_grade.name} "
        "after review"
    )
    assert Notification.objects.get(recipient=no_login).title == (
        f"Your grade {rejected.from_grade.name} stays after review"
    )
