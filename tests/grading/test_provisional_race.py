"""Provisional upgrades under concurrency, on PostgreSQL (issue #15; docs/architecture.md,
invariant 6: one audit row per grade change).

Two checks of the same customer at once (a redelivered task and its original, or two order
imports) upgrade once: the second waits for the first's row lock and re-reads the grade
under it. Each check pauses after reading the state, so without the lock both would read
the old grade. The mutant twin removes the lock and the guarded update
(`provisional._states_lock`, `provisional._grade_raise`) and must be caught in at least 4 of
5 repetitions: the test can fail.

A run whose extract read the old grade and whose write comes after the upgrade committed
leaves the upgrade alone (its guarded update names the grade it decided from) and records
the customer as changed during the run.

And end to end through a real Celery worker: an imported order's customer is upgraded in
under 5 seconds (the issue's target for a qualifying order to a visible upgrade).

Numbers as in tests/grading/test_provisional.py: H = 50 (growth) before the order, 58.33
(key) after.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import time_machine
from django.db import connection, connections

from grading.models import (
    ChangeSource,
    CustomerGrade,
    GradeAuditEntry,
    GradeChange,
    GradingRun,
)
from grading.pipeline import decide, extract
from grading.services import provisional
from grading.services.integrity import grades_check
from grading.services.runs import grading_run_execute
from grading.services.schemes import scheme_activate, scheme_provisional_upgrades_set
from tests.customers.factories import CustomerFactory
from tests.grading.factories import at, grade, orders_for

RUN_AS_OF = dt.date(2026, 12, 1)
ORDER_DAY = dt.date(2026, 12, 10)
REPETITIONS = 5
PAUSE = 0.4  # seconds each check waits after reading the state: both read it unlocked


def _skip_without_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's concurrent writers")


@pytest.fixture
def graded(scheme):
    """The hand-computable scheme active with provisional upgrades, five growth customers
    graded at Dec 1, each with the order of Dec 10 that earns key."""
    with time_machine.travel(at(dt.date(2026, 12, 2)), tick=False):
        active = scheme_activate(scheme=scheme, by=None)
        scheme_provisional_upgrades_set(scheme=active, enabled=True, by=None)
        customers = [CustomerFactory(code=f"RACE{i}") for i in range(REPETITIONS)]
        for customer in customers:
            orders_for(customer, (dt.date(2026, 11, 20), "6000"))
        run = grading_run_execute(as_of=RUN_AS_OF)
    assert run.status == GradingRun.Status.SUCCEEDED
    for customer in customers:
        assert CustomerGrade.objects.get(customer=customer).grade.code == "growth"
        orders_for(customer, (ORDER_DAY, "1000"))
    return customers


def _slow_state_read(monkeypatch):
    original = extract.extract_state

    def read_then_pause(**kwargs):
        state = original(**kwargs)
        time.sleep(PAUSE)
        return state

    monkeypatch.setattr(extract, "extract_state", read_then_pause)


def _two_checks_at_once(customer) -> int:
    """Run two checks of `customer` in two threads; return the provisional changes made."""
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def check() -> None:
        try:
            start.wait(10)
            provisional.grade_provisional_upgrade_check(
                customer_ids=[customer.pk], now=at(ORDER_DAY, 15)
            )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return GradeChange.objects.filter(customer=customer, source=ChangeSource.PROVISIONAL).count()


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_checks_at_once_upgrade_once(graded, monkeypatch):
    _skip_without_postgresql()
    _slow_state_read(monkeypatch)

    made = [_two_checks_at_once(customer) for customer in graded]

    assert made == [1] * REPETITIONS
    for customer in graded:
        assert CustomerGrade.objects.get(customer=customer).grade.code == "key"
        audits = GradeAuditEntry.objects.filter(customer=customer, source="provisional")
        assert audits.count() == 1
    assert grades_check() == []


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_mutant_without_the_lock_and_the_guard_is_caught(graded, monkeypatch):
    """The same race without the row locks and the guarded update: the test above fails."""
    _skip_without_postgresql()
    _slow_state_read(monkeypatch)
    monkeypatch.setattr(provisional, "_states_lock", lambda ids: None)

    def unguarded(*, customer_id, from_grade_id, to_grade_id, now):
        return bool(
            CustomerGrade.objects.filter(customer_id=customer_id).update(
                grade_id=to_grade_id, since=now, periods_under=0, updated_at=now
            )
        )

    monkeypatch.setattr(provisional, "_grade_raise", unguarded)

    made = [_two_checks_at_once(customer) for customer in graded]

    caught = sum(count > 1 for count in made)
    assert caught >= REPETITIONS - 1, f"the mutant was caught in only {caught} of {REPETITIONS}"


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_run_that_read_the_old_grade_leaves_the_upgrade_alone(graded, monkeypatch):
    _skip_without_postgresql()
    customer = graded[0]
    original = decide.decide
    done = threading.Event()

    def decide_then_upgrade(*args, **kwargs):
        decisions = original(*args, **kwargs)
        if threading.current_thread() is threading.main_thread() and not done.is_set():
            # The run has read growth and decided to upgrade; a check commits key first.
            def check() -> None:
                try:
                    provisional.grade_provisional_upgrade_check(
                        customer_ids=[customer.pk], now=at(ORDER_DAY, 15)
                    )
                finally:
                    connections.close_all()
                    done.set()

            threading.Thread(target=check).start()
            assert done.wait(60)
        return decisions

    monkeypatch.setattr(decide, "decide", decide_then_upgrade)
    # Dated the day after the order, so the run counts it too: key for every customer.
    with time_machine.travel(at(ORDER_DAY + dt.timedelta(days=1), 3), tick=False):
        run = grading_run_execute(as_of=ORDER_DAY + dt.timedelta(days=1))

    assert run.status == GradingRun.Status.SUCCEEDED
    assert CustomerGrade.objects.get(customer=customer).grade == grade("key")
    ups = GradeChange.objects.filter(customer=customer, direction="up")
    assert list(ups.values_list("source", flat=True)) == ["provisional"]
    snapshot = run.snapshots.get(customer=customer)
    assert (snapshot.action, snapshot.rule) == ("keep", "changed_during_run")
    # The other customers were upgraded by the run itself, once each.
    assert GradeChange.objects.filter(run=run, direction="up").count() == REPETITIONS - 1
    assert grades_check() == []


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_imported_order_upgrades_through_a_real_worker_within_seconds(
    scheme, celery_worker_process
):
    """End to end: the import commits, the check is queued in Redis, the worker upgrades.

    The worker runs on the real clock, so the dates are today's: graded at the first of
    this month with one order of 6,000 eleven days before it (growth, H = 50), then an
    order of 1,000 placed now (key, H = 58.33).
    """
    from django.utils import timezone

    from customers.services.imports import order_import
    from customers.tabular import Records

    today = timezone.localdate()
    as_of = today.replace(day=1)
    active = scheme_activate(scheme=scheme, by=None)
    scheme_provisional_upgrades_set(scheme=active, enabled=True, by=None)
    customer = CustomerFactory(code="LIVE")
    orders_for(customer, (as_of - dt.timedelta(days=11), "6000"))
    assert grading_run_execute(as_of=as_of).status == GradingRun.Status.SUCCEEDED
    assert CustomerGrade.objects.get(customer=customer).grade.code == "growth"

    started = time.monotonic()
    order_import(
        source=Records(
            [
                {
                    "order_no": "LIVE-1",
                    "customer_code": "LIVE",
                    "placed_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
                    "amount": "1000",
                }
            ]
        ),
        filename="api",
    )
    while time.monotonic() - started < 5:
        if CustomerGrade.objects.get(customer=customer).grade.code == "key":
            break
        time.sleep(0.05)

    assert CustomerGrade.objects.get(customer=customer).grade.code == "key"
    assert GradeAuditEntry.objects.filter(customer=customer, source="provisional").count() == 1
