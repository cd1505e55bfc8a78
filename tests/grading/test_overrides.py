"""Overrides pin a grade: one active per customer, one audit row per pin, runs keep the pin
(docs/grading-policy.md; docs/architecture.md, invariants 1 and 6)."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from grading.exceptions import InvalidOverride, OverrideConflict, ReasonRequired
from grading.models import (
    CustomerGrade,
    GradeAuditEntry,
    GradeChange,
    GradeOverride,
    ScoreSnapshot,
)
from grading.services.overrides import (
    grade_override_end,
    grade_override_set,
    grade_overrides_expire,
)
from grading.services.runs import grading_run_execute
from tests.customers.factories import CustomerFactory
from tests.grading.factories import (
    CustomerGradeFactory,
    GradeOverrideFactory,
    grade,
    proposal_for,
)
from tests.grading.test_runs import AS_OF, _population

#: The tests run at noon of a fixed day in the project's zone: a constant taken from the clock
#: at import went stale when the suite crossed local midnight (the pin's expiry "tomorrow" was
#: today by the time a test ran).
NOON = timezone.make_aware(dt.datetime(2026, 12, 4, 12, 0))
TOMORROW = NOON.date() + dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def _noon():
    with time_machine.travel(NOON, tick=True):
        yield


def _pin(customer, code, by, **kwargs):
    kwargs.setdefault("reason", "Strategic partner")
    kwargs.setdefault("expires_on", None)
    return grade_override_set(customer=customer, grade=grade(code), by=by, **kwargs)


@pytest.mark.django_db
def test_set_pins_the_grade_and_writes_one_audit_row(ops):
    state = CustomerGradeFactory(grade=grade("basic"))
    customer = state.customer

    override = _pin(customer, "key", ops, expires_on=TOMORROW)

    assert (override.grade.code, override.source, override.created_by) == ("key", "manual", ops)
    assert (override.expires_on, override.ended_at) == (TOMORROW, None)
    state.refresh_from_db()
    assert state.grade.code == "key"
    audit = GradeAuditEntry.objects.get(customer=customer)
    assert (audit.old_grade.code, audit.new_grade.code) == ("basic", "key")
    assert (audit.source, audit.actor, audit.reason) == ("override", ops, "Strategic partner")
    assert override.history.get().history_user == ops


@pytest.mark.django_db
def test_set_creates_the_grade_state_of_a_customer_never_graded(ops):
    customer = CustomerFactory()

    _pin(customer, "growth", ops)

    assert CustomerGrade.objects.get(customer=customer).grade.code == "growth"
    assert GradeAuditEntry.objects.get(customer=customer).old_grade is None


@pytest.mark.django_db
def test_set_replaces_the_active_override_and_writes_one_audit_row(ops, alice):
    customer = CustomerGradeFactory(grade=grade("basic")).customer
    first = _pin(customer, "key", alice)

    second = _pin(customer, "strategic", ops, reason="Board decision")

    first.refresh_from_db()
    assert (first.ended_by, first.end_reason) == (ops, "replaced")
    assert first.ended_at is not None
    assert list(GradeOverride.objects.filter(ended_at__isnull=True)) == [second]
    audit = GradeAuditEntry.objects.filter(customer=customer).order_by("id")
    assert [(a.old_grade.code, a.new_grade.code, a.actor) for a in audit] == [
        ("basic", "key", alice),
        ("key", "strategic", ops),
    ]
    assert CustomerGrade.objects.get(customer=customer).grade.code == "strategic"


@pytest.mark.django_db
def test_pinning_the_grade_the_customer_has_still_audits_the_pin(ops):
    state = CustomerGradeFactory(grade=grade("key"))
    since = state.since

    _pin(state.customer, "key", ops)

    audit = GradeAuditEntry.objects.get(customer=state.customer)
    assert audit.old_grade == audit.new_grade == grade("key")
    state.refresh_from_db()
    assert state.since == since  # the grade did not change, so neither did "since"


@pytest.mark.django_db
def test_set_supersedes_the_open_downgrade_proposal(ops):
    change = proposal_for(CustomerFactory())

    _pin(change.customer, "key", ops)

    change.refresh_from_db()
    assert change.status == GradeChange.Status.SUPERSEDED
    assert change.decided_by == ops
    assert "override" in change.decision_note


@pytest.mark.django_db
def test_an_appeal_lock_is_audited_as_an_appeal(ops):
    customer = CustomerGradeFactory(grade=grade("growth")).customer

    _pin(customer, "key", ops, source=GradeOverride.Source.APPEAL, expires_on=TOMORROW)

    assert GradeAuditEntry.objects.get(customer=customer).source == "appeal"
    assert GradeOverride.objects.get(customer=customer).source == "appeal"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"reason": "  "}, ReasonRequired, "reason"),
        ({"expires_on": NOON.date()}, InvalidOverride, "expires_on"),
        ({"expires_on": dt.date(2020, 1, 1)}, InvalidOverride, "expires_on"),
    ],
)
def test_set_refuses_bad_input_and_writes_nothing(ops, kwargs, error, field):
    customer = CustomerGradeFactory(grade=grade("basic")).customer

    with pytest.raises(error) as raised:
        _pin(customer, "key", ops, **kwargs)

    assert raised.value.field == field
    assert not GradeOverride.objects.exists()
    assert not GradeAuditEntry.objects.exists()


@pytest.mark.django_db
def test_a_concurrent_override_surfaces_as_a_conflict_and_writes_nothing(ops, monkeypatch):
    customer = CustomerGradeFactory(grade=grade("basic")).customer
    other = GradeOverrideFactory(customer=customer, created_by=ops)
    # Another transaction's override committed after our lock read: we do not see it.
    manager = GradeOverride.objects
    monkeypatch.setattr(manager, "select_for_update", lambda: manager.none())

    with pytest.raises(OverrideConflict):
        _pin(customer, "strategic", ops)

    assert list(GradeOverride.objects.all()) == [other]
    assert not GradeAuditEntry.objects.exists()
    assert CustomerGrade.objects.get(customer=customer).grade.code == "basic"


@pytest.mark.django_db
def test_end_is_idempotent_and_leaves_the_grade(ops, alice):
    customer = CustomerGradeFactory(grade=grade("basic")).customer
    override = _pin(customer, "key", ops)

    ended = grade_override_end(override=override, by=alice, reason="Partnership over")
    again = grade_override_end(override=override, by=ops, reason="Twice")

    assert (ended.ended_by, ended.end_reason) == (alice, "Partnership over")
    assert (again.ended_at, again.ended_by, again.end_reason) == (
        ended.ended_at,
        alice,
        "Partnership over",
    )
    assert CustomerGrade.objects.get(customer=customer).grade.code == "key"
    assert GradeAuditEntry.objects.filter(customer=customer).count() == 1


@pytest.mark.django_db
def test_end_requires_a_reason(ops):
    override = GradeOverrideFactory(customer=CustomerFactory(), created_by=ops)

    with pytest.raises(ReasonRequired):
        grade_override_end(override=override, by=ops, reason="")

    override.refresh_from_db()
    assert override.ended_at is None


@pytest.mark.django_db
def test_expire_ends_overrides_past_their_date_once(ops):
    today = dt.date(2026, 5, 1)
    past = GradeOverrideFactory(customer=CustomerFactory(), expires_on=dt.date(2026, 4, 30))
    last_day = GradeOverrideFactory(customer=CustomerFactory(), expires_on=today)
    open_ended = GradeOverrideFactory(customer=CustomerFactory(), expires_on=None)

    assert grade_overrides_expire(today=today) == 1
    assert grade_overrides_expire(today=today) == 0

    past.refresh_from_db()
    assert (past.end_reason, past.ended_by) == ("expired", None)
    assert past.ended_at is not None
    assert set(GradeOverride.objects.filter(ended_at__isnull=True)) == {last_day, open_ended}


@pytest.mark.django_db
def test_a_run_after_an_override_keeps_the_pinned_grade_until_it_ends(ops):
    customers = _population()
    grading_run_execute(as_of=AS_OF)
    best = customers[4]  # 5/5/5: the top of the population
    computed = CustomerGrade.objects.get(customer=best).grade
    override = _pin(best, "basic", ops)

    pinned_run = grading_run_execute(as_of=AS_OF + dt.timedelta(days=30))

    assert CustomerGrade.objects.get(customer=best).grade.code == "basic"
    assert ScoreSnapshot.objects.get(run=pinned_run, customer=best).action == "pinned"
    assert not GradeChange.objects.filter(run=pinned_run, customer=best).exists()

    grade_override_end(override=override, by=ops, reason="Back to normal")
    free_run = grading_run_execute(as_of=AS_OF + dt.timedelta(days=31))

    assert CustomerGrade.objects.get(customer=best).grade.rank > grade("basic").rank
    assert ScoreSnapshot.objects.get(run=free_run, customer=best).action == "upgrade"
    assert computed.rank > grade("basic").rank


@pytest.mark.django_db
def test_expire_task_delegates_to_the_service(monkeypatch):
    from grading import tasks

    seen = {}
    monkeypatch.setattr(
        tasks, "grade_overrides_expire", lambda today: seen.setdefault("t", today) and 3
    )

    assert tasks.expire_overrides_task() == 3
    assert seen["t"] is not None
