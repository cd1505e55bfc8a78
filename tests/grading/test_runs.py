"""Grading runs end to end on the database: snapshots, changes, audit, idempotence."""

import datetime as dt

import pytest

from customers.models import Customer
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


def _lose_writes(codes):
    """Undo what one interrupted write transaction of these customers had done: it rolled
    back, so their snapshots, changes, audit rows and grade states are all missing."""
    for model in (ScoreSnapshot, GradeAuditEntry, GradeChange, CustomerGrade):
        model.objects.filter(customer__code__in=codes).delete()


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
    snapshot_ids = sorted(
        ScoreSnapshot.objects.values_list("customer_id", "r_score", "composite", "action")
    )
    # Simulate a run killed after writing: mark it failed, drop half the snapshots.
    GradingRun.objects.filter(pk=run.pk).update(status=GradingRun.Status.FAILED)
    _lose_writes(["P0", "P1", "P2"])

    again = grading_run_execute(as_of=AS_OF)

    assert again.status == GradingRun.Status.SUCCEEDED
    assert (
        sorted(ScoreSnapshot.objects.values_list("customer_id", "r_score", "composite", "action"))
        == snapshot_ids
    )
    assert GradeChange.objects.filter(run=run).count() == 6
    assert GradeAuditEntry.objects.filter(run=run).count() == 6


@pytest.mark.django_db
def test_a_customer_deleted_while_a_run_scores_leaves_no_rows_behind(monkeypatch):
    from grading.pipeline import decide

    customers = _population()
    original = decide.decide

    def decide_then_delete(*args, **kwargs):
        decisions = original(*args, **kwargs)
        Customer.objects.filter(code="PROSPECT").delete()  # read by the extract, gone now
        return decisions

    monkeypatch.setattr(decide, "decide", decide_then_delete)

    run = grading_run_execute(as_of=AS_OF)

    assert run.status == GradingRun.Status.SUCCEEDED
    assert run.scored == ScoreSnapshot.objects.filter(run=run).count() == len(customers) - 1
    assert run.assigned == len(customers) - 1
    prospect = customers[-1].pk
    for model in (ScoreSnapshot, GradeChange, GradeAuditEntry, CustomerGrade):
        assert not model.objects.filter(customer_id=prospect).exists(), model


@pytest.mark.django_db
def test_deleting_a_customer_outside_the_orm_deletes_its_history():
    from django.db import connection

    customers = _population()
    grading_run_execute(as_of=AS_OF)
    prospect = customers[-1].pk

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM customers_customer WHERE id = %s", [prospect])

    for model in (ScoreSnapshot, GradeChange, GradeAuditEntry, CustomerGrade):
        assert not model.objects.filter(customer_id=prospect).exists(), model
    assert ScoreSnapshot.objects.count() == len(customers) - 1


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


@pytest.mark.django_db
def test_run_left_running_by_a_killed_process_is_taken_over_and_converges():
    import datetime as _dt

    from django.db import connection
    from django.utils import timezone

    _population()
    run = grading_run_execute(as_of=AS_OF)
    expected = sorted(ScoreSnapshot.objects.values_list("customer_id", "composite", "action"))
    # The process died mid-run: status still "running", part of its work missing. On
    # PostgreSQL its advisory lock died with it; on SQLite the claim goes stale after 2 h.
    started = timezone.now() - (
        _dt.timedelta(minutes=1) if connection.vendor == "postgresql" else _dt.timedelta(hours=3)
    )
    GradingRun.objects.filter(pk=run.pk).update(status="running", started_at=started)
    _lose_writes(["P3", "PROSPECT"])

    again = grading_run_execute(as_of=AS_OF)

    assert again.status == GradingRun.Status.SUCCEEDED
    assert (
        sorted(ScoreSnapshot.objects.values_list("customer_id", "composite", "action")) == expected
    )
    assert GradeChange.objects.filter(run=run).count() == 6
    assert GradeAuditEntry.objects.filter(run=run).count() == 6


@pytest.mark.django_db
def test_a_run_claimed_recently_on_sqlite_is_not_taken_over():
    from django.db import connection
    from django.utils import timezone

    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL uses the advisory lock, not the claim age")
    _population()
    run = grading_run_execute(as_of=AS_OF)
    GradingRun.objects.filter(pk=run.pk).update(status="running", started_at=timezone.now())

    again = grading_run_execute(as_of=AS_OF)

    assert again.status == GradingRun.Status.RUNNING


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_customer_deleted_during_a_runs_write_takes_the_runs_rows_with_it(monkeypatch):
    import threading
    import time

    from django.db import connection

    from grading.pipeline.backends import postgresql

    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    customers = _population()
    prospect = customers[-1].pk
    hold = postgresql.customers_hold
    deleter = threading.Thread(target=_delete_customer, args=[prospect])

    def hold_then_let_a_delete_wait(table, rows):
        vanished = hold(table, rows)
        deleter.start()
        deadline = time.monotonic() + 10
        while not _sessions_waiting_on_a_lock():
            assert deleter.is_alive(), "the delete did not wait for the run"
            assert time.monotonic() < deadline, "the delete never waited for the run"
            time.sleep(0.05)
        return vanished

    monkeypatch.setattr(postgresql, "customers_hold", hold_then_let_a_delete_wait)

    run = grading_run_execute(as_of=AS_OF)
    deleter.join(timeout=10)

    assert run.status == GradingRun.Status.SUCCEEDED
    assert run.scored == len(customers)  # the prospect was written, then deleted with it
    assert not Customer.objects.filter(pk=prospect).exists()
    for model in (ScoreSnapshot, GradeChange, GradeAuditEntry, CustomerGrade):
        assert not model.objects.filter(customer_id=prospect).exists(), model
    assert ScoreSnapshot.objects.filter(run=run).count() == len(customers) - 1


def _delete_customer(pk):
    from django.db import connection

    try:
        Customer.objects.filter(pk=pk).delete()
    finally:
        connection.close()


def _sessions_waiting_on_a_lock():
    from django.db import connection

    with connection.cursor() as cursor:
        # Asked inside the run's transaction: drop the activity snapshot it would reuse.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_a_run_dated_after_today_is_refused_by_the_service_itself():
    """Every way to start a run (command, Celery task, beat) goes through this check."""
    import datetime as _dt

    from django.utils import timezone

    from grading.exceptions import AsOfInFuture

    tomorrow = timezone.localdate() + _dt.timedelta(days=1)
    with pytest.raises(AsOfInFuture, match="is after today"):
        grading_run_execute(as_of=tomorrow)
    assert not GradingRun.objects.filter(as_of=tomorrow).exists()
