"""Appeal services: the transition table, decisions once, the window, one open appeal per
change, and accept restoring the grade through an APPEAL lock the next run respects."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest
import time_machine
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from appeals import services
from appeals.exceptions import (
    AppealAlreadyDecided,
    AppealAlreadyOpen,
    AppealNotAllowed,
    AppealTransitionNotAllowed,
)
from appeals.models import Appeal, AppealEvent, AppendOnlyError
from common.exceptions import DomainError
from grading.models import (
    CustomerGrade,
    GradeAuditEntry,
    GradeChange,
    GradeOverride,
    SchemeGrade,
    ScoreSnapshot,
)
from grading.services.runs import grading_run_execute
from tests.appeals.factories import CustomerAccountFactory, file_appeal, portal_customer
from tests.customers.factories import CustomerFactory
from tests.grading.factories import grade, orders_for

S = Appeal.Status
ALLOWED = {
    (S.SUBMITTED, S.UNDER_REVIEW),
    (S.SUBMITTED, S.ACCEPTED),
    (S.SUBMITTED, S.REJECTED),
    (S.SUBMITTED, S.WITHDRAWN),
    (S.UNDER_REVIEW, S.ACCEPTED),
    (S.UNDER_REVIEW, S.REJECTED),
    (S.UNDER_REVIEW, S.WITHDRAWN),
}


def test_the_transition_table_is_the_one_documented():
    table = {(a, b) for a, targets in services.TRANSITIONS.items() for b in targets}
    assert table == ALLOWED
    assert set(services.TRANSITIONS) == set(S.values)


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "to"), list(itertools.product(S.values, S.values)))
def test_transition_moves_refuses_or_does_nothing(carol, carols_change, ops, start, to):
    appeal = file_appeal(carol, carols_change)
    Appeal.objects.filter(pk=appeal.pk).update(
        status=start, decided_at=timezone.now() if start in Appeal.DECIDED_STATUSES else None
    )
    events_before = AppealEvent.objects.count()

    with transaction.atomic():
        appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
        if start in Appeal.DECIDED_STATUSES:
            with pytest.raises(AppealAlreadyDecided):
                services.appeal_transition(appeal=appeal, to=to, by=ops)
            moved = None
        elif start == to:
            moved = services.appeal_transition(appeal=appeal, to=to, by=ops)
            assert moved is False
        elif (start, to) in ALLOWED:
            moved = services.appeal_transition(appeal=appeal, to=to, by=ops, note="n")
            assert moved is True
        else:
            with pytest.raises(AppealTransitionNotAllowed):
                services.appeal_transition(appeal=appeal, to=to, by=ops)
            moved = None

    appeal.refresh_from_db()
    assert appeal.status == (to if moved else start)
    assert AppealEvent.objects.count() == events_before + (1 if moved else 0)


@pytest.mark.django_db
def test_filing_records_the_first_event(carol, carols_change):
    appeal = file_appeal(carol, carols_change)

    assert appeal.status == S.SUBMITTED
    assert appeal.filed_by == carol.user
    event = AppealEvent.objects.get(appeal=appeal)
    assert (event.from_status, event.to_status, event.actor) == ("", S.SUBMITTED, carol.user)


@pytest.mark.django_db
def test_a_decision_cannot_be_made_twice(carol, carols_change, ops):
    appeal = file_appeal(carol, carols_change)
    services.appeal_accept(appeal_id=appeal.pk, by=ops, note="Confirmed the warehouse delay.")

    with pytest.raises(AppealAlreadyDecided):
        services.appeal_accept(appeal_id=appeal.pk, by=ops, note="again")
    with pytest.raises(AppealAlreadyDecided):
        services.appeal_reject(appeal_id=appeal.pk, by=ops, note="changed my mind")
    with pytest.raises(AppealAlreadyDecided):
        services.appeal_withdraw(appeal_id=appeal.pk, customer=carol.customer, by=carol.user)

    assert GradeOverride.objects.filter(customer=carol.customer).count() == 1
    assert AppealEvent.objects.filter(appeal=appeal, to_status=S.ACCEPTED).count() == 1


@pytest.mark.django_db
def test_start_review_twice_is_a_no_op(carol, carols_change, ops):
    appeal = file_appeal(carol, carols_change)

    services.appeal_start_review(appeal_id=appeal.pk, by=ops)
    services.appeal_start_review(appeal_id=appeal.pk, by=ops)

    assert AppealEvent.objects.filter(appeal=appeal, to_status=S.UNDER_REVIEW).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("service", [services.appeal_accept, services.appeal_reject])
def test_decisions_need_a_note_and_change_nothing_without_one(carol, carols_change, ops, service):
    appeal = file_appeal(carol, carols_change)

    with pytest.raises(DomainError) as refused:
        service(appeal_id=appeal.pk, by=ops, note="  ")

    assert refused.value.field == "note"
    appeal.refresh_from_db()
    assert appeal.status == S.SUBMITTED
    assert not GradeOverride.objects.exists()


@pytest.mark.django_db
def test_accepting_an_applied_downgrade_restores_and_locks_the_grade(carol, carols_change, ops):
    appeal = file_appeal(carol, carols_change)
    services.appeal_start_review(appeal_id=appeal.pk, by=ops)
    today = timezone.localdate()

    services.appeal_accept(appeal_id=appeal.pk, by=ops, note="Warehouse delay confirmed.")

    appeal.refresh_from_db()
    assert (appeal.status, appeal.decided_by, appeal.ops_note) == (
        S.ACCEPTED,
        ops,
        "Warehouse delay confirmed.",
    )
    assert CustomerGrade.objects.get(customer=carol.customer).grade.code == "key"
    lock = GradeOverride.objects.get(customer=carol.customer, ended_at__isnull=True)
    assert lock.source == GradeOverride.Source.APPEAL
    assert lock.grade.code == "key"
    # Key is reviewed quarterly in the default scheme: locked for one quarter.
    assert lock.expires_on == _months_after(today, 3)
    audit = GradeAuditEntry.objects.get(customer=carol.customer)
    assert (audit.old_grade.code, audit.new_grade.code, audit.source, audit.actor) == (
        "growth",
        "key",
        "appeal",
        ops,
    )
    carols_change.refresh_from_db()
    assert carols_change.status == GradeChange.Status.APPLIED  # history is not rewritten


@pytest.mark.django_db
def test_accepting_a_proposed_downgrade_rejects_the_proposal_and_locks(alice, ops):
    account, change = portal_customer(code="PROP", manager=alice, status="proposed")
    appeal = file_appeal(account, change)

    services.appeal_accept(appeal_id=appeal.pk, by=ops, note="Seasonal dip, agreed.")

    change.refresh_from_db()
    assert change.status == GradeChange.Status.REJECTED
    assert change.decided_by == ops
    assert "Seasonal dip" in change.decision_note
    assert CustomerGrade.objects.get(customer=account.customer).grade.code == "key"
    assert GradeOverride.objects.get(customer=account.customer).source == "appeal"


@pytest.mark.django_db
def test_rejecting_keeps_the_change(carol, carols_change, ops):
    appeal = file_appeal(carol, carols_change)

    services.appeal_reject(appeal_id=appeal.pk, by=ops, note="Purchases fell for 3 months.")

    appeal.refresh_from_db()
    assert (appeal.status, appeal.ops_note) == (S.REJECTED, "Purchases fell for 3 months.")
    assert CustomerGrade.objects.get(customer=carol.customer).grade.code == "growth"
    assert not GradeOverride.objects.exists()


@pytest.mark.django_db
def test_one_open_appeal_per_change(carol, carols_change, ops):
    first = file_appeal(carol, carols_change)

    with pytest.raises(AppealAlreadyOpen):
        file_appeal(carol, carols_change)

    # Withdrawn: a new appeal may be filed; decided: never again.
    services.appeal_withdraw(appeal_id=first.pk, customer=carol.customer, by=carol.user)
    second = file_appeal(carol, carols_change)
    services.appeal_reject(appeal_id=second.pk, by=ops, note="No.")
    with pytest.raises(AppealNotAllowed):
        file_appeal(carol, carols_change)


@pytest.mark.django_db
def test_the_database_refuses_a_second_open_appeal(carol, carols_change):
    Appeal.objects.create(customer=carol.customer, change=carols_change, reason="one")

    with pytest.raises(IntegrityError), transaction.atomic():
        Appeal.objects.create(
            customer=carol.customer, change=carols_change, reason="two", status=S.UNDER_REVIEW
        )


@pytest.mark.django_db
@pytest.mark.parametrize(("days", "allowed"), [(29, True), (31, False)])
def test_the_appeal_window_counts_from_the_change(carol, carols_change, settings, days, allowed):
    settings.APPEAL_WINDOW_DAYS = 30
    # An applied downgrade counts from its decision when it has one.
    GradeChange.objects.filter(pk=carols_change.pk).update(
        created_at=timezone.now() - dt.timedelta(days=90),
        decided_at=timezone.now() - dt.timedelta(days=days),
    )

    if allowed:
        assert file_appeal(carol, carols_change).status == S.SUBMITTED
    else:
        with pytest.raises(AppealNotAllowed):
            file_appeal(carol, carols_change)
        assert not Appeal.objects.exists()


@pytest.mark.django_db
def test_only_downgrades_of_the_customer_can_be_appealed(carol, dave, ops):
    daves_change = dave.customer.grade_changes.get()
    with pytest.raises(AppealNotAllowed):
        file_appeal(carol, daves_change)  # another customer's change

    upgrade = GradeChange.objects.create(
        customer=carol.customer,
        from_grade=grade("growth"),
        to_grade=grade("key"),
        direction=GradeChange.Direction.UP,
        status=GradeChange.Status.APPLIED,
        source="run",
    )
    with pytest.raises(AppealNotAllowed):
        file_appeal(carol, upgrade)


@pytest.mark.django_db
def test_filing_needs_a_reason(carol, carols_change):
    from appeals.services import appeal_file

    with pytest.raises(DomainError) as refused:
        appeal_file(customer=carol.customer, change_id=carols_change.pk, reason=" ", by=carol.user)
    assert refused.value.field == "reason"


@pytest.mark.django_db
def test_appeal_events_are_append_only(carol, carols_change):
    event = AppealEvent.objects.get(appeal=file_appeal(carol, carols_change))

    event.note = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


@pytest.mark.django_db
def test_follow_up_needs_an_outcome(carol, alice):
    with pytest.raises(DomainError):
        services.follow_up_create(customer=carol.customer, kind="call", outcome=" ", by=alice)

    note = services.follow_up_create(
        customer=carol.customer, kind="call", outcome="Will order", by=alice
    )
    assert (note.author, note.kind) == (alice, "call")


# ------------------------------------------------------------ survives the next grading run


def _months_after(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    return day.replace(year=day.year + index // 12, month=index % 12 + 1)


def _at(day: dt.date, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _actions(customer):
    return list(
        ScoreSnapshot.objects.filter(customer=customer)
        .order_by("run__as_of")
        .values_list("run__as_of", "action", "grade_after__code")
    )


@pytest.mark.django_db
@pytest.mark.parametrize("needs_review", [False, True], ids=["applied", "proposed"])
def test_an_accepted_appeal_survives_the_next_grading_run(scheme, ops, needs_review):
    """Key -> growth by the June run (applied, or proposed for review); the customer appeals,
    ops accept on June 10; the July run keeps Key ("locked"); the August run evaluates again."""
    SchemeGrade.objects.filter(scheme=scheme).update(downgrade_needs_review=needs_review)
    customer = CustomerFactory(code="RUNS")
    account = CustomerAccountFactory(customer=customer)
    # F = 8 -> f 4; M = 2,400 -> m 2 (as tests/grading/test_scenario.py).
    orders_for(customer, *[(dt.date(2026, 1, 10 + 2 * i), "300") for i in range(8)])
    for month in (2, 3, 4, 5, 6):
        as_of = dt.date(2026, month, 1)
        with time_machine.travel(_at(as_of), tick=False):
            grading_run_execute(as_of=as_of, scheme=scheme)
    change = GradeChange.objects.get(customer=customer, direction="down")
    assert change.status == ("proposed" if needs_review else "applied")

    with time_machine.travel(_at(dt.date(2026, 6, 10)), tick=False):
        appeal = file_appeal(account, change)
        services.appeal_accept(appeal_id=appeal.pk, by=ops, note="Delay on our side.")
    assert CustomerGrade.objects.get(customer=customer).grade.code == "key"
    assert GradeOverride.objects.get(customer=customer).expires_on == dt.date(2026, 7, 10)

    for month in (7, 8):
        as_of = dt.date(2026, month, 1)
        with time_machine.travel(_at(as_of), tick=False):
            grading_run_execute(as_of=as_of, scheme=scheme)

    history = _actions(customer)
    assert history[-2] == (dt.date(2026, 7, 1), "locked", "key")
    assert history[-1][0] == dt.date(2026, 8, 1)
    assert history[-1][1] != "locked"  # the lock lasted one review period
    assert CustomerGrade.objects.get(customer=customer).grade.code == "key"
    assert not GradeChange.objects.filter(customer=customer, run__as_of=dt.date(2026, 7, 1))


@pytest.mark.django_db
def test_the_lock_is_one_month_for_a_monthly_grade(alice, ops):
    account, change = portal_customer(code="MONTHLY", manager=alice)
    change.from_grade = grade("growth")
    change.to_grade = grade("standard")
    change.save(update_fields=["from_grade", "to_grade"])
    CustomerGrade.objects.filter(customer=account.customer).update(grade=grade("standard"))
    appeal = file_appeal(account, change)

    with time_machine.travel(_at(dt.date(2026, 11, 30)), tick=False):
        services.appeal_accept(appeal_id=appeal.pk, by=ops, note="ok")

    # Growth is monthly in the default scheme; the 30th + 1 month is clamped to Dec 30.
    assert GradeOverride.objects.get(customer=account.customer).expires_on == dt.date(2026, 12, 30)


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_reviewers_deciding_at_once_decide_once(alice, ops):
    """On PostgreSQL the appeal's row lock serialises the two decisions: one wins, the other
    sees the decision and is refused; one lock, one decision event."""
    account, change = portal_customer(code="RACE", manager=alice)
    appeal = file_appeal(account, change)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def decide(service):
        try:
            barrier.wait(timeout=10)
            service(appeal_id=appeal.pk, by=ops, note="decided")
            results.append("decided")
        except AppealAlreadyDecided:
            results.append("refused")
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=decide, args=(services.appeal_accept,)),
        threading.Thread(target=decide, args=(services.appeal_reject,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == ["decided", "refused"]
    appeal.refresh_from_db()
    decisions = AppealEvent.objects.filter(appeal=appeal).exclude(to_status=S.SUBMITTED)
    assert [e.to_status for e in decisions] == [appeal.status]
    assert GradeOverride.objects.filter(customer=account.customer).count() == (
        1 if appeal.status == S.ACCEPTED else 0
    )


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_filings_against_one_change_at_once_make_one_appeal(alice, tmp_path, settings):
    """On PostgreSQL the change's row lock (and, behind it, the partial unique constraint)
    let exactly one of two simultaneous filings through; the loser's files are removed."""
    from appeals.models import Evidence
    from tests.appeals.conftest import stored_files
    from tests.appeals.factories import pdf

    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "race")
    account, change = portal_customer(code="TWICE", manager=alice)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def submit(name):
        try:
            barrier.wait(timeout=10)
            file_appeal(account, change, files=[pdf(name)])
            results.append("filed")
        except AppealAlreadyOpen:
            results.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(f"{n}.pdf",)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == ["filed", "refused"]
    appeal = Appeal.objects.get(change=change)
    assert AppealEvent.objects.filter(appeal=appeal).count() == 1
    assert Evidence.objects.count() == 1
    assert len(stored_files(tmp_path / "race")) == 1
