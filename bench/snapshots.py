"""Measure a run's snapshot write and the retention of one period (issue #15, item 2).

    .venv/bin/python bench/run.py --customers 1000000 --orders 10000000 --keep ...
    .venv/bin/python bench/snapshots.py --dsn postgres://...   (the kept server's DSN)

On a database `bench/run.py` generated (its written tables are emptied first), runs the engine
at `--as-of` twice in this process, timing only the snapshot write of each
(`grading.pipeline.write._snapshots_insert`):

1. `partition`: the run loads a partition of its own, unindexed, then indexes and attaches it
   (what a single-process run does);
2. `through-table`: the rows go through the snapshot table with ON CONFLICT DO NOTHING into the
   run's empty attached partition, its three indexes kept up row by row (what a sharded or
   resumed run does, and what every run did before partitions).

Then times the retention of the period: writing its Parquet archive (`grading.archive`) and
detaching and dropping its partition (`grading.pipeline.partitions.partition_drop`). Prints
JSON with the load average before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 10, 1))
    parser.add_argument("--archive-dir", default="/tmp/tierhub-bench-snapshot-archive")
    args = parser.parse_args()

    import run as bench_run  # bench/run.py: its environment and its reset

    django_env, reset = bench_run.django_env, bench_run.reset

    os.environ.update(django_env(args.dsn))
    os.environ["GRADING_SNAPSHOT_ARCHIVE_DIR"] = args.archive_dir
    import django

    django.setup()
    from django.db import connection, transaction

    from grading.archive import archive_write
    from grading.models import GradingRun
    from grading.pipeline import partitions, write
    from grading.services.runs import grading_run_execute

    timings: dict[str, Any] = {"load_before": _loadavg()}
    original = write._snapshots_insert

    def timed(label: str) -> Any:
        def wrapper(**kwargs: Any) -> int:
            started = time.perf_counter()
            rows = original(**kwargs)
            timings[f"{label}_seconds"] = round(time.perf_counter() - started, 3)
            timings[f"{label}_rows"] = rows
            return rows

        return wrapper

    def run_once(label: str) -> GradingRun:
        connection.close()
        reset(args.dsn)
        setattr(write, "_snapshots_insert", timed(label))  # noqa: B010
        started = time.perf_counter()
        run = grading_run_execute(as_of=args.as_of, shards=1, triggered_by="bench")
        timings[f"{label}_run_seconds"] = round(time.perf_counter() - started, 3)
        timings[f"{label}_phases"] = run.phase_seconds
        if run.status != "succeeded":
            raise SystemExit(f"run {run.pk} ended {run.status}: {run.error}")
        return run

    # The old way first: the run's partition made (empty, attached, indexed) before it writes.
    fresh = partitions.partition_fresh
    save = GradingRun.save

    def save_and_partition(self: GradingRun, *a: Any, **k: Any) -> None:
        save(self, *a, **k)
        partitions.partition_ensure(self.pk)

    # Replaced for this run only (setattr: the bench patches what tests would monkeypatch).
    setattr(partitions, "partition_fresh", lambda run_id: None)  # noqa: B010
    setattr(GradingRun, "save", save_and_partition)  # noqa: B010
    run_once("through_table")
    setattr(partitions, "partition_fresh", fresh)  # noqa: B010
    setattr(GradingRun, "save", save)  # noqa: B010
    run = run_once("partition")

    started = time.perf_counter()
    path, rows = archive_write(run)
    timings["archive_seconds"] = round(time.perf_counter() - started, 3)
    timings["archive_rows"] = rows
    timings["archive_mb"] = round(path.stat().st_size / 1e6, 1)
    started = time.perf_counter()
    with transaction.atomic():
        partitions.partition_drop(run.pk)
    timings["drop_seconds"] = round(time.perf_counter() - started, 3)
    path.unlink()
    timings["load_after"] = _loadavg()
    print(json.dumps(timings, indent=1, default=str))


if __name__ == "__main__":
    main()
