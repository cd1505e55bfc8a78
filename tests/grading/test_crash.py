"""A real crash: `run_grading` is killed (SIGKILL) inside its write transaction, then run
again. Nothing half-written survives the kill and the second attempt converges with no
duplicates (docs/architecture.md, invariants 2 and 3)."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from grading.models import GradeAuditEntry, GradeChange, GradingRun, ScoreSnapshot
from grading.services.runs import grading_run_execute
from tests.celery_worker import _database_url
from tests.customers.factories import CustomerFactory
from tests.grading.factories import orders_for

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 4, 1)

pytestmark = pytest.mark.services


def _wait_until_blocked(conn, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND pid <> pg_backend_pid()"
        ).fetchone()
        if row[0]:
            return
        time.sleep(0.1)
    raise AssertionError("the run never reached its write transaction")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_killed_mid_write_leaves_nothing_and_the_rerun_converges():
    for i in range(30):
        orders_for(CustomerFactory(code=f"K{i:02d}"), (AS_OF - dt.timedelta(days=1 + i), "100"))
    url = _database_url()
    locker = psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=False)
    # EXCLUSIVE lets the run read grade states but blocks its first write to them, which
    # comes after the snapshots were inserted in the same transaction.
    locker.execute("LOCK TABLE grading_customergrade IN EXCLUSIVE MODE")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_grading", "--as-of", AS_OF.isoformat()],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tierhub.settings.test"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as spy:
            _wait_until_blocked(spy)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        locker.rollback()
        locker.close()

    run = GradingRun.objects.get(as_of=AS_OF)
    assert run.status == GradingRun.Status.RUNNING  # the dead process never finished it
    assert ScoreSnapshot.objects.count() == 0  # its transaction rolled back
    assert GradeChange.objects.count() == 0

    again = grading_run_execute(as_of=AS_OF)

    assert again.pk == run.pk
    assert again.status == GradingRun.Status.SUCCEEDED
    assert ScoreSnapshot.objects.count() == 30
    assert GradeChange.objects.count() == 30
    assert GradeAuditEntry.objects.count() == 30
