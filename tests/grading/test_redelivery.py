"""A real worker is killed in the middle of a task; the redelivered task converges.

A sharded run on a prefork worker with one pool child (`tests/celery_delivery_app.py`, its
own queue). The test holds row locks (FOR UPDATE) on the second shard's customers, so that
shard blocks inside its write transaction (`postgresql.customers_hold`) after the first shard
has committed. SIGKILLing the pool child then loses the task in flight:

- with `acks_late` + `reject_on_worker_lost` (the project's setting) the message goes back to
  Redis, the worker runs it again, and the run converges: one snapshot per customer, one
  change and one notification per upgrade, each e-mailed, every other task run once;
- the mutant twin acknowledges `grading.grade_shard` on receipt: the killed shard is marked
  failed, nothing is left in Redis to redeliver, and the run never finishes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
from collections import Counter
from contextlib import AbstractContextManager
from pathlib import Path

import psycopg
import pytest
import redis
from celery.result import AsyncResult
from django.db.models import Count

from common.models import Notification
from common.tasks import healthcheck_task
from grading.models import GradeChange, GradingRun, ScoreSnapshot
from grading.services.sharding import shard_ranges
from grading.tasks import run_grading_task
from tests.celery_worker import Worker, _database_url, prefork_worker, until
from tests.customers.factories import CustomerFactory
from tests.grading.factories import CustomerGradeFactory, grade, orders_for
from tierhub.celery import app

AS_OF = dt.date(2026, 3, 1)
CUSTOMERS = 40  # two shards of 20 (GRADING_SHARD_SIZE below)

pytestmark = [
    pytest.mark.services,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _pg_url() -> str:
    return _database_url().replace("postgres://", "postgresql://")


def _prefork_worker(tmp_path: Path, *, early_ack: str = "") -> AbstractContextManager[Worker]:
    """A `--pool=prefork --concurrency=1` worker on its own queue, two shards per run."""
    return prefork_worker(
        tmp_path,
        env={
            "TIERHUB_TEST_EARLY_ACK": early_ack,
            "GRADING_SHARD_THRESHOLD": "10",
            "GRADING_SHARD_SIZE": str(CUSTOMERS // 2),
        },
    )


def _population(alice) -> list[int]:
    """Customers all graded Basic; every other one bought enough in February to be Key."""
    ids = []
    for i in range(CUSTOMERS):
        customer = CustomerFactory.create(code=f"R{i:02d}", account_manager=alice)
        CustomerGradeFactory(customer=customer, grade=grade("basic"))
        if i % 2 == 0:
            orders_for(customer, *[(dt.date(2026, 2, 1 + d), "300") for d in range(17)])
        ids.append(customer.pk)
    return ids


def _active_shard(worker: Worker, low: int) -> dict | None:
    """The running `grade_shard` task of the range starting at `low`, if any."""
    active = app.control.inspect(destination=[worker.node], timeout=1, limit=1).active() or {}
    for task in active.get(worker.node, []):
        if task["name"] == "grading.grade_shard" and list(task["args"])[1] == low:
            return task
    return None


def _lock_waits(spy: psycopg.Connection) -> int:
    row = spy.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND pid <> pg_backend_pid()"
    ).fetchone()
    assert row is not None
    return int(row[0])


def _kill_second_shard_mid_write(worker: Worker, scheme) -> tuple[dict, tuple[int, int]]:
    """Run the grading on `worker`, SIGKILL its pool child while the second shard is blocked
    in its write transaction (the first one committed), then let the database go."""
    second = shard_ranges(shards=2)[1]
    locker = psycopg.connect(_pg_url(), autocommit=False)
    try:
        locker.execute(
            "SELECT id FROM customers_customer WHERE id >= %s AND id < %s FOR UPDATE", second
        )
        run_grading_task.apply_async(args=[AS_OF.isoformat(), scheme.pk], queue=worker.queue)
        with psycopg.connect(_pg_url(), autocommit=True) as spy:
            shard = until(
                lambda: _lock_waits(spy) and _active_shard(worker, second[0]),
                timeout=30,
                what="the second shard waiting for the customers' lock",
            )
        committed = ScoreSnapshot.objects.filter(customer_id__lt=second[0]).count()
        assert committed == CUSTOMERS // 2  # the first shard is done and committed
        assert ScoreSnapshot.objects.count() == committed  # the second one is not
        os.kill(shard["worker_pid"], signal.SIGKILL)
    finally:
        locker.rollback()
        locker.close()
    return shard, second


def test_a_shard_killed_mid_write_is_redelivered_and_the_run_converges(tmp_path, scheme, alice):
    # Given a graded population and a worker that acknowledges tasks late (the project's way)
    ids = _population(alice)
    upgraded = ids[::2]
    with _prefork_worker(tmp_path) as worker:
        # When its pool child dies in the middle of the second shard
        shard, _ = _kill_second_shard_mid_write(worker, scheme)

        # Then the shard runs again, the run finishes and every follow-up is done once
        run = until(
            lambda: GradingRun.objects.filter(
                as_of=AS_OF, status=GradingRun.Status.SUCCEEDED
            ).first(),
            timeout=30,
            what="the run succeeding after the redelivery",
        )
        until(
            lambda: Notification.objects.filter(emailed_at__isnull=False).count() == len(upgraded),
            timeout=20,
            what="every notification e-mailed",
        )
        assert AsyncResult(shard["id"]).get(timeout=10) == CUSTOMERS // 2
        # A task sent now runs after anything still queued (one queue, one child, FIFO).
        healthcheck_task.apply_async(queue=worker.queue).get(timeout=10)
        starts = [s for s in worker.starts() if s["name"] != "common.healthcheck"]

    shard_starts = [s for s in starts if s["id"] == shard["id"]]
    assert [s["redelivered"] for s in shard_starts] == [False, True]
    assert Counter(s["name"] for s in starts) == {
        "grading.run_grading": 1,
        "grading.grade_shard": 3,  # the first shard once, the killed one twice
        "grading.finish_run": 1,
        "grading.notify_run": 1,
        "grading.reports_warm": 1,
        "common.send_notification_emails": 1,
    }
    # Nothing lost, nothing twice.
    snapshots = ScoreSnapshot.objects.filter(run=run)
    assert sorted(snapshots.values_list("customer_id", flat=True)) == ids
    assert run.scored == CUSTOMERS
    assert run.upgraded == len(upgraded)
    changes = GradeChange.objects.filter(run=run)
    assert sorted(changes.values_list("customer_id", flat=True)) == upgraded
    notes = Notification.objects.filter(recipient=alice)
    assert sorted(notes.values_list("dedupe_key", flat=True)) == sorted(
        f"run:{run.pk}:upgrade:{pk}" for pk in upgraded
    )
    assert not notes.filter(emailed_at__isnull=True).exists()
    assert not notes.values("dedupe_key").annotate(n=Count("id")).filter(n__gt=1).exists()


def test_mutant_acknowledged_on_receipt_the_killed_shard_is_lost(tmp_path, scheme, alice):
    # Given the same, but a worker that acknowledges `grade_shard` as soon as it starts it
    ids = _population(alice)
    with _prefork_worker(tmp_path, early_ack="grading.grade_shard") as worker:
        # When its pool child dies in the middle of the second shard
        shard, second = _kill_second_shard_mid_write(worker, scheme)

        # Then the worker records the loss and has nothing left to run
        result = AsyncResult(shard["id"])
        until(lambda: result.state == "FAILURE", timeout=20, what="the shard marked failed")
        assert type(result.result).__name__ == "WorkerLostError"
        until(
            lambda: (
                not any(
                    (
                        app.control.inspect(destination=[worker.node], timeout=1, limit=1).active()
                        or {}
                    ).get(worker.node, [])
                )
            ),
            timeout=10,
            what="the worker idle",
        )
        broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
        assert broker.llen(worker.queue) == 0
        unacked = [json.loads(v)[0] for v in broker.hvals("unacked")]
        assert shard["id"] not in {m["headers"].get("id") for m in unacked}
        starts = worker.starts()

    # ... so the run never finishes and the second shard's customers are never graded.
    assert [s["redelivered"] for s in starts if s["id"] == shard["id"]] == [False]
    run = GradingRun.objects.get(as_of=AS_OF)
    assert run.status == GradingRun.Status.RUNNING
    graded = ScoreSnapshot.objects.filter(run=run).values_list("customer_id", flat=True)
    assert sorted(graded) == [pk for pk in ids if pk < second[0]]
    assert not Notification.objects.exists()
