"""Pins are never undone and history is what happened (issue #11; docs/architecture.md,
invariants 1, 6).

Overrides land while a run of 20,000 customers is writing, in three ways: committed between
the run's extract and its first write; holding the customer's grade-state row while the
run's guarded UPDATE waits for it (PostgreSQL re-checks the row's new version, the case
that once undid pins of the current grade); and committed while the run finishes. Half of
them pin the grade the customer already has, half a neighbouring grade. After every run:
each pinned customer has their pinned grade, every customer's latest audit row names their
current grade, and the run's counters equal its applied rows.

The mutant twin removes the guard (`write.PIN_GUARD`) and must be caught in at least 9 of
10 repetitions: the test can fail.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from customers.models import Customer, Order
from grading.models import (
    CustomerGrade,
    Grade,
    GradeChange,
    GradeOverride,
    GradingRun,
    ScoreSnapshot,
)
from grading.pipeline import decide, write
from grading.pipeline.backends import postgresql
from grading.pipeline.rules import SchemeRules, scheme_rules
from grading.services.integrity import grades_check
from grading.services.overrides import grade_override_set
from grading.services.runs import grading_run_execute
from tests.grading.factories import at, default_scheme

CUSTOMERS = 20_000
PINS = 50
REPETITIONS = 10
FIRST_AS_OF = dt.date(2026, 2, 1)


def _population() -> None:
    """20,000 customers with 1-6 orders each in the year before the runs, seeded."""
    rng = np.random.default_rng(11)
    Customer.objects.bulk_create(
        Customer(code=f"R{i:05d}", name=f"Race customer {i}") for i in range(CUSTOMERS)
    )
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    orders = [
        Order(
            order_no=f"RO{number:05d}-{k}",
            customer_id=pk,
            placed_at=at(FIRST_AS_OF - dt.timedelta(days=int(rng.integers(1, 300)))),
            amount=Decimal(int(rng.integers(10, 5000))),
        )
        for number, pk in enumerate(ids)
        for k in range(int(rng.integers(1, 7)))
    ]
    Order.objects.bulk_create(orders, batch_size=5000)


def _reset_states(lowest: Grade) -> None:
    """Everyone back on the lowest grade with no pin, so the next run upgrades most of them."""
    now = timezone.now()
    GradeOverride.objects.filter(ended_at__isnull=True).update(ended_at=now, end_reason="reset")
    GradeChange.objects.filter(status=GradeChange.Status.PROPOSED).update(
        status=GradeChange.Status.SUPERSEDED
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO grading_customergrade"
            " (customer_id, grade_id, since, periods_under, pinned, updated_at)"
            " SELECT id, %s, %s, 0, FALSE, %s FROM customers_customer ON CONFLICT DO NOTHING",
            [lowest.pk, now, now],
        )
        cursor.execute(
            "UPDATE grading_customergrade SET grade_id = %s, periods_under = 0, pinned = FALSE",
            [lowest.pk],
        )
        # The reset is an event of the history too (latest audit row = current grade).
        cursor.execute(
            "INSERT INTO grading_gradeauditentry"
            " (customer_id, new_grade_id, source, reason, created_at)"
            " SELECT customer_id, grade_id, 'import', 'Test reset', %s"
            " FROM grading_customergrade",
            [now],
        )


class Pinner(threading.Thread):
    """Sets the overrides on its own connection, in the three phases the run's hook asks for."""

    def __init__(self, targets: list[tuple[Customer, Grade]]) -> None:
        super().__init__(daemon=True)
        self.targets = targets
        self.committed_first = threading.Event()
        self.holding = threading.Event()
        self.start_first = threading.Event()
        self.start_holding = threading.Event()
        self.error: BaseException | None = None

    def _pin(self, customer: Customer, grade: Grade) -> None:
        grade_override_set(
            customer=customer, grade=grade, reason="Race test pin", expires_on=None, by=None
        )

    def run(self) -> None:
        try:
            first, held, rest = self.targets[:10], self.targets[10:20], self.targets[20:]
            self.start_first.wait(120)
            for customer, grade in first:  # committed after the extract, before any write
                self._pin(customer, grade)
            self.committed_first.set()
            self.start_holding.wait(120)
            with transaction.atomic():  # hold these rows while the run's UPDATE waits
                for customer, grade in held:
                    self._pin(customer, grade)
                self.holding.set()
                _wait_for_a_lock_wait(timeout=30)
            for customer, grade in rest:  # while the run writes history and commits
                self._pin(customer, grade)
                time.sleep(0.002)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connections.close_all()


def _wait_for_a_lock_wait(timeout: float) -> None:
    """Return once another session waits for a row lock (the run's UPDATE), or at timeout."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.005)


def _violations(run: GradingRun, pins: dict[int, int]) -> list[str]:
    found = []
    states = dict(
        CustomerGrade.objects.filter(customer_id__in=pins).values_list("customer_id", "grade_id")
    )
    undone = [pk for pk, grade_id in pins.items() if states.get(pk) != grade_id]
    if undone:
        found.append(f"{len(undone)} pins undone")
    found += [f"{v.check}: {v.message}" for v in grades_check(run_ids=[run.pk])]
    return found


def _repetition(number: int, lowest: Grade, rules: SchemeRules, up) -> list[str]:
    # A day apart: a new run each time, scoring (nearly) as the fixture's scores did.
    as_of = FIRST_AS_OF + dt.timedelta(days=number)
    _reset_states(lowest)
    ladder = list(Grade.objects.filter(code__in=rules.grade_ids).order_by("rank"))
    rng = np.random.default_rng(number)
    chosen = rng.choice(up.to_numpy(), size=PINS, replace=False)
    customers = Customer.objects.in_bulk([int(pk) for pk in chosen])
    targets = []
    for i, pk in enumerate(chosen):
        # Even: pin the grade they have (the lowest); odd: the neighbouring grade.
        targets.append((customers[int(pk)], lowest if i % 2 == 0 else ladder[1]))
    pins = {customer.pk: grade.pk for customer, grade in targets}

    pinner = Pinner(targets)
    pinner.start()
    original_hold = postgresql.customers_hold

    def hold_then_pin(table: str, rows: int) -> int:
        vanished = original_hold(table, rows)
        pinner.start_first.set()
        assert pinner.committed_first.wait(60)
        pinner.start_holding.set()
        assert pinner.holding.wait(60)
        return vanished

    postgresql.customers_hold = hold_then_pin
    try:
        run = grading_run_execute(as_of=as_of, scheme=default_scheme(), triggered_by="race")
    finally:
        postgresql.customers_hold = original_hold
    pinner.join(120)
    assert pinner.error is None, pinner.error
    assert run.status == GradingRun.Status.SUCCEEDED
    assert ScoreSnapshot.objects.filter(run=run).count() == CUSTOMERS
    return _violations(run, pins)


@pytest.fixture
def race_population(transactional_db):
    _population()
    rules = scheme_rules(default_scheme())
    lowest = Grade.objects.filter(code__in=rules.grade_ids).order_by("rank").first()
    scores = decide.score_period(rules=rules, as_of=FIRST_AS_OF)
    # The customers the runs will upgrade from the lowest grade: the pins' targets.
    up = scores.index[scores["grade"].astype(str) != lowest.code]
    return lowest, rules, up


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_pins_landing_throughout_a_run_are_never_undone(race_population):
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's concurrent writers")
    lowest, rules, up = race_population
    for number in range(REPETITIONS):
        assert _repetition(number, lowest, rules, up) == [], f"repetition {number}"


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_mutant_without_the_pin_guard_is_caught(race_population, monkeypatch):
    """The same race with the guard removed: the test above would fail in >= 9 of 10."""
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's concurrent writers")
    lowest, rules, up = race_population
    monkeypatch.setattr(write, "PIN_GUARD", "TRUE")
    caught = sum(bool(_repetition(n, lowest, rules, up)) for n in range(REPETITIONS))
    assert caught >= 9, f"the mutant was caught in only {caught} of {REPETITIONS} repetitions"
