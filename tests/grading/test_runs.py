"""Grading runs end to end on the database: snapshots, changes, audit, idempotence."""

import datetime as dt

import pytest

from grading.models import (
    CustomerGrade,
    GradeAuditEntry,
    GradeChange,
    GradingRun,
    ScoreSnapshot,
)
from grading.services.runs import grading_run_execute
from tests.customers.factories import CustomerFactory
from tests.grading.factories import GradeOverrideFactory, grade, orders_for

AS_OF = dt.date(2026, 4, 1)


def _population():
    """Five buyers with distinct R, F and M plus one prospect."""
    customers = []
    for i in range(5):
        customer = CustomerFactory(code=f"P{i}")
        days = [
            (AS_OF - dt.timedelta(days=10 + 30 * j + (4 - i) * 3), str(100 * (i + 1)))
            for j in range(i + 1)
        ]
        orders_for(customer, *days)
        customers.append(customer)
    customers.append(CustomerFactory(code="PROSPECT"))
    return customers


@pytest.mark.django_db
def test_first_run_grades_everyone_and_writes_one_snapshot_each():
    customers = _population()

    run = grading_run_execute(as_of=AS_OF)

    assert run.status == GradingRun.Status.SUCCEEDED
    assert run.scored == len(customers) == ScoreSnapshot.objects.filter(run=run).count()
    assert run.assigned == len(customers)
    assert CustomerGrade.objects.count() == len(customers)
    # The best customer (i=4: most recent, most orders, most spend) scores 5/5/5.
    best = ScoreSnapshot.objects.get(run=run, customer__code="P4")
    assert (best.r_score, best.f_score, best.m_score) == (5, 5, 5)
    assert best.rfm_label == "champions"
    prospect = ScoreSnapshot.objects.get(run=run, customer__code="PROSPECT")
    assert (prospect.r_score, prospect.rfm_label, prospect.recency_days) == (1, "prospect", None)
    # One applied change and one audit row per first grade.
    assert GradeChange.objects.filter(run=run, status="applied").count() == len(customers)
    assert GradeAuditEntry.objects.filter(run=run).count() == len(customers)


@pytest.mark.django_db
def test_rerunning_a_period_changes_nothing():
    _population()
    first = grading_run_execute(as_of=AS_OF)
    counts = (
        ScoreSnapshot.objects.count(),
        GradeChange.objects.count(),
        GradeAuditEntry.objects.count(),
    )

    second = grading_run_execute(as_of=AS_OF)

    assert second.pk == first.pk
    assert counts == (
        ScoreSnapshot.objects.count(),
        GradeChange.objects.count(),
        GradeAuditEntry.objects.count(),
    )


@pytest.mark.django_db
def test_failed_run_resumes_and_converges_without_duplicates():
    _population()
    run = grading_run_execute(as_of=AS_OF)
    snapshot_ids = sorted(ScoreSnapshot.objects.values_list("customer_id", "r_score"))
    # Simulate a run killed after writing: mark it failed, drop half the snapshots.
    GradingRun.objects.filter(pk=run.pk).update(status=GradingRun.Status.FAILED)
    ScoreSnapshot.objects.filter(customer__code__in=["P0", "P1", "P2"]).delete()

    again = grading_run_execute(as_of=AS_OF)

    assert again.status == GradingRun.Status.SUCCEEDED
    assert sorted(ScoreSnapshot.objects.values_list("customer_id", "r_score")) == snapshot_ids
    assert GradeChange.objects.filter(run=run).count() == 6
    assert GradeAuditEntry.objects.filter(run=run).count() == 6


@pytest.mark.django_db
def test_override_survives_a_recompute():
    customers = _population()
    grading_run_execute(as_of=AS_OF)
    pinned = customers[0]
    GradeOverrideFactory(customer=pinned, grade=grade("strategic"))
    CustomerGrade.objects.filter(customer=pinned).update(grade=grade("strategic"))

    run = grading_run_execute(as_of=dt.date(2026, 5, 1))

    assert CustomerGrade.objects.get(customer=pinned).grade.code == "strategic"
    snapshot = ScoreSnapshot.objects.get(run=run, customer=pinned)
    assert snapshot.action == "pinned"
    assert not GradeChange.objects.filter(run=run, customer=pinned).exists()
