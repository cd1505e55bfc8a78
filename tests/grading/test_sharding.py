"""Sharded runs on PostgreSQL with a real Celery worker, and concurrent kick-offs."""

import datetime as dt
import threading
import time

import pytest
from django.db import connections

from grading.models import (
    CustomerGrade,
    GradeAuditEntry,
    GradeChange,
    GradingRun,
    ScoreSnapshot,
)
from grading.services.runs import grading_run_execute, run_shard_execute
from grading.services.schedule import grading_periodic_kickoff
from grading.services.sharding import shard_ranges
from tests.customers.factories import CustomerFactory
from tests.grading.factories import orders_for

AS_OF = dt.date(2026, 4, 1)
SNAPSHOT_FIELDS = [
    f.attname for f in ScoreSnapshot._meta.concrete_fields if f.attname not in ("id", "run_id")
]


def _population(n=40):
    for i in range(n):
        customer = CustomerFactory(code=f"S{i:03d}", industry=["retail", "gaming", ""][i % 3])
        count = i % 7  # some customers never ordered
        orders_for(
            customer,
            *[
                (AS_OF - dt.timedelta(days=5 + (i * 13 + 29 * j) % 500), str(50 + (i * 37) % 400))
                for j in range(count)
            ],
        )


def _written():
    snapshots = {row["customer_id"]: row for row in ScoreSnapshot.objects.values(*SNAPSHOT_FIELDS)}
    grades = dict(CustomerGrade.objects.values_list("customer_id", "grade_id"))
    return snapshots, grades


def _reset():
    GradeAuditEntry.objects.all().delete()
    GradeChange.objects.all().delete()
    ScoreSnapshot.objects.all().delete()
    CustomerGrade.objects.all().delete()
    GradingRun.objects.all().delete()


def _wait_for(run, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (GradingRun.Status.SUCCEEDED, GradingRun.Status.FAILED):
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run.pk} still {run.status} after {timeout} s")


@pytest.mark.django_db
def test_shard_ranges_cover_every_customer_once():
    customers = [CustomerFactory() for _ in range(10)]

    ranges = shard_ranges(shards=3)

    ids = sorted(c.pk for c in customers)
    covered = [i for i in ids for low, high in ranges if low <= i < high]
    assert covered == ids
    assert len(ranges) == 3


@pytest.mark.services
@pytest.mark.celery
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_sharded_run_is_identical_to_a_single_process_run(celery_worker_process):
    _population()
    single = grading_run_execute(as_of=AS_OF, shards=1)
    assert single.status == GradingRun.Status.SUCCEEDED
    expected = _written()
    _reset()

    sharded = grading_run_execute(as_of=AS_OF, shards=3)

    assert sharded.status == GradingRun.Status.RUNNING
    assert sharded.population_cuts["population"] > 0
    sharded = _wait_for(sharded)
    assert sharded.status == GradingRun.Status.SUCCEEDED, sharded.error
    assert sharded.shards == 3
    assert sharded.scored == single.scored == 40
    assert _written() == expected


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_beats_at_once_make_one_run():
    _population(20)
    results, errors = [], []

    def beat():
        try:
            results.append(grading_periodic_kickoff(today=dt.date(2026, 4, 15)))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert GradingRun.objects.count() == 1
    assert ScoreSnapshot.objects.count() == 20
    assert GradeChange.objects.count() == 20
    assert GradeAuditEntry.objects.count() == 20


@pytest.mark.django_db
def test_population_above_the_threshold_is_sharded(settings):
    from grading.services.sharding import shard_count_for_population

    for _ in range(5):
        CustomerFactory()
    settings.GRADING_SHARD_THRESHOLD = 4
    settings.GRADING_SHARD_SIZE = 2

    assert shard_count_for_population() == 3
    settings.GRADING_SHARD_THRESHOLD = 5
    assert shard_count_for_population() == 1


@pytest.mark.django_db
def test_each_shard_keeps_its_timings_on_the_run(django_capture_on_commit_callbacks):
    from django.contrib.admin.sites import site

    _population(12)
    with django_capture_on_commit_callbacks(execute=False):  # no worker: shards run below
        run = grading_run_execute(as_of=AS_OF, shards=2)
    ranges = shard_ranges(shards=2)

    for low, high in reversed(ranges):
        run_shard_execute(run_id=run.pk, low=low, high=high)
    run_shard_execute(run_id=run.pk, low=ranges[0][0], high=ranges[0][1])  # redelivered

    run.refresh_from_db()
    assert run.phase_seconds["cuts"] >= 0
    shards = run.phase_seconds["shards"]
    assert [(s["low"], s["high"]) for s in shards] == ranges  # one entry per range
    assert [s["customers"] for s in shards] == [0, 6]  # the second attempt wrote nothing
    assert {"extract", "score", "decide", "write", "commit"} <= set(shards[1])
    assert run.progress_done == 12
    # The admin shows the cut-point phase in words and leaves the per-shard list out.
    shown = site._registry[GradingRun].phase_durations(run)
    assert shown.startswith("Population cut points ")
    assert "shards" not in shown
