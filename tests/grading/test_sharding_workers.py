"""A sharded run over two worker processes writes what a single-process run writes.

A population of 2,000 customers (bench/generate.py's set-based generator: Pareto buyers,
refunds, engagement, inactive customers, pinned grades) is graded for two periods (first
grades, then a steady month where hysteresis and held grades matter) twice:

1. in this process, unsharded (`grading_run_execute(shards=1)`);
2. through `grading.run_grading` on a prefork worker with two pool processes, which computes
   the population's cut points once and fans four customer-id ranges out to both processes.

Every row written (snapshots, changes, audit entries, grade states: every column but ids,
run ids and timestamps, the run named by its period) and the run counters must be
identical. The mutant twin lets each shard score its range with its own cut points
(`TIERHUB_TEST_SHARD_LOCAL_CUTS`, tests/celery_delivery_app.py): the rows differ.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model

from grading.models import (
    CustomerGrade,
    GradeAuditEntry,
    GradeChange,
    GradingRun,
    ScoreSnapshot,
)
from grading.selectors import scheme_get_active
from grading.services.runs import RUN_COUNTERS, grading_run_execute
from grading.tasks import run_grading_task
from tests.celery_worker import _database_url, prefork_worker, until

pytestmark = [
    pytest.mark.services,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROOT = Path(__file__).resolve().parents[2]
PERIODS = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
CUSTOMERS = 2_000
SHARD_SIZE = 500  # 1,960 active customers: four shards for two processes
#: What differs between two runs writing the same results: keys and moments.
VOLATILE = {
    *("id", "run_id", "last_run_id", "change_id"),
    *("created_at", "decided_at", "since", "updated_at"),
}
COMPARED = (ScoreSnapshot, GradeChange, GradeAuditEntry, CustomerGrade)


def _rows(model: type[Model]) -> list[tuple]:
    """Every row of `model`, its run named by its period, without keys and moments."""
    fields = [f.attname for f in model._meta.concrete_fields if f.attname not in VOLATILE]
    run = "last_run__as_of" if model is CustomerGrade else "run__as_of"
    return sorted(
        model.objects.values_list(run, *fields),  # type: ignore[attr-defined]
        key=lambda row: tuple("" if v is None else str(v) for v in row),
    )


def _written() -> dict[str, Any]:
    """The rows a run writes (the run rows differ by design: shards), and run counters."""
    written: dict[str, Any] = {model.__name__: _rows(model) for model in COMPARED}
    written["runs"] = list(GradingRun.objects.order_by("as_of").values_list(*RUN_COUNTERS))
    return written


def _generate(customers: int) -> None:
    """Fill the test database with bench/generate.py's population (a script, loaded by path)."""
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(_database_url(), customers=customers, orders=10 * customers, as_of=PERIODS[0])


def _reset() -> None:
    """Empty what a run writes, as bench/run.py does (no per-row delete signals to pay for)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE grading_gradeauditentry, grading_gradechange, grading_scoresnapshot,"
            " grading_customergrade, grading_gradingrun CASCADE"
        )


def _grade_both_ways(tmp_path: Path, *, mutant: bool) -> tuple[dict, dict, list[GradingRun], set]:
    """Grade PERIODS in this process, then again on two worker processes; return what each
    wrote, the sharded runs and the pids of the processes that ran their shards."""
    _generate(CUSTOMERS)
    scheme = scheme_get_active()
    for as_of in PERIODS:
        run = grading_run_execute(as_of=as_of, scheme=scheme, shards=1)
        assert run.status == GradingRun.Status.SUCCEEDED, run.error
    single = _written()
    _reset()

    env = {"GRADING_SHARD_THRESHOLD": "10", "GRADING_SHARD_SIZE": str(SHARD_SIZE)}
    if mutant:
        env["TIERHUB_TEST_SHARD_LOCAL_CUTS"] = "1"
    runs = []
    with prefork_worker(tmp_path, concurrency=2, env=env) as worker:
        for as_of in PERIODS:
            run_grading_task.apply_async(args=[as_of.isoformat(), scheme.pk], queue=worker.queue)
            finished = GradingRun.objects.filter(
                as_of=as_of, status__in=[GradingRun.Status.SUCCEEDED, GradingRun.Status.FAILED]
            )
            run = until(finished.first, timeout=120, what=f"the sharded run of {as_of} finishing")
            assert run.status == GradingRun.Status.SUCCEEDED, run.error
            runs.append(run)
        starts = worker.starts()
    pids = {s["pid"] for s in starts if s["name"] == "grading.grade_shard"}
    assert Counter(s["name"] for s in starts)["grading.grade_shard"] == 4 * len(PERIODS)
    return single, _written(), runs, pids


def test_sharded_over_two_worker_processes_writes_what_one_process_writes(tmp_path):
    single, sharded, runs, pids = _grade_both_ways(tmp_path, mutant=False)

    for what in single:
        assert sharded[what] == single[what], f"{what} differ"
    assert single["runs"][0][0] == CUSTOMERS - CUSTOMERS // 50  # every active customer
    assert len(pids) == 2  # both pool processes took shards
    for run in runs:
        assert run.shards == 4
        assert run.phase_seconds["cuts"] > 0
        shards = run.phase_seconds["shards"]
        assert len(shards) == 4
        assert sum(s["customers"] for s in shards) == run.scored
        assert {"extract", "score", "decide", "write", "commit"} <= set(shards[0])


def test_mutant_shards_scoring_with_their_own_cut_points_write_other_rows(tmp_path):
    single, sharded, _, _ = _grade_both_ways(tmp_path, mutant=True)

    assert sharded["ScoreSnapshot"] != single["ScoreSnapshot"]
    assert sharded != single
