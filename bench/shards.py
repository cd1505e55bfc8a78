"""Benchmark a sharded grading run over N Celery worker processes against one PostgreSQL.

    .venv/bin/python bench/shards.py --customers 100000 --orders 1000000
    .venv/bin/python bench/shards.py --dsn postgresql://...  # a database bench/run.py kept

Reuses bench/run.py's server, generator and fingerprints, and starts a throwaway Redis and
one `celery worker --pool=prefork --concurrency=N` (`--workers`, default 2) on it. For each
mode -- the engine in one process (`grading_run_execute(shards=1)`, as bench/run.py runs it)
and sharded (`grading_run_execute(shards=K)` in a driver process: phase one computes the
population cut points, then the K customer-id ranges run as `grading.grade_shard` tasks on
the worker processes and a chord callback finishes the run) -- it empties what a run writes
and grades two periods (first grades, steady state).

It prints, per period, the single-process total and phases, the sharded run's cut-point
phase, each shard's extract / score / decide / write / commit seconds (kept by the run in
`phase_seconds["shards"]`), the wall total from the call to the run succeeding, the load
averages, and whether both modes wrote identical rows (bench/run.py's fingerprints of the
snapshots, changes, audit entries and grade states). Between periods it waits until the
worker is idle: a run's follow-ups (notifications, report warming) run on the same workers.
With `--sizes` it also writes the table and index sizes of the database. Results go to
bench/results/*-shards.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import run as bench_run  # noqa: E402  (bench/run.py: server, generator, engine, fingerprints)

COMPARED = (
    "grading_scoresnapshot",
    "grading_gradechange",
    "grading_gradeauditentry",
    "grading_customergrade",
)
SHARD_PHASES = ("extract", "score", "decide", "write", "commit")


def celery_env(dsn: str, redis_url: str) -> dict[str, str]:
    env = bench_run.django_env(dsn)
    env.update(
        {
            "CELERY_BROKER_URL": redis_url,
            "CELERY_RESULT_BACKEND": redis_url,
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


# ----------------------------------------------------------------------------- driver


def driver(dsn: str, as_of: dt.date, shards: int) -> dict[str, Any]:
    """Start a sharded run in this process and wait for the workers to finish it."""
    import resource

    import django

    django.setup()
    from grading.models import GradingRun
    from grading.services.runs import RUN_COUNTERS, grading_run_execute

    started = time.perf_counter()
    run = grading_run_execute(as_of=as_of, shards=shards, triggered_by="bench")
    enqueued = time.perf_counter() - started
    while run.status not in (GradingRun.Status.SUCCEEDED, GradingRun.Status.FAILED):
        time.sleep(0.1)
        run.refresh_from_db()
    total = time.perf_counter() - started
    if run.status != GradingRun.Status.SUCCEEDED:
        raise SystemExit(f"run {run.pk} ended {run.status}: {run.error}")
    return {
        "as_of": as_of.isoformat(),
        "shards": run.shards,
        "cuts": run.phase_seconds["cuts"],
        "phase_one": round(enqueued, 3),
        "shard_phases": run.phase_seconds["shards"],
        "total": round(total, 3),
        "driver_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "counts": {name: getattr(run, name) for name in RUN_COUNTERS},
    }


def run_sharded(dsn: str, redis_url: str, as_of: dt.date, shards: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--driver",
            "--dsn",
            dsn,
            "--as-of",
            as_of.isoformat(),
            "--shards",
            str(shards),
        ],
        cwd=ROOT,
        env=celery_env(dsn, redis_url),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"sharded run failed:\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_before"] = [round(x, 2) for x in load_before]
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


# ----------------------------------------------------------------------------- worker


class Workers:
    """`celery worker --pool=prefork --concurrency=N` on the bench's Redis and database."""

    def __init__(self, dsn: str, redis_url: str, processes: int, log: Path) -> None:
        self.env = celery_env(dsn, redis_url)
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tierhub",
                "worker",
                "--pool=prefork",
                f"--concurrency={processes}",
                "--loglevel=info",
                "--without-mingle",
                "--without-gossip",
                "-n",
                f"bench-{os.getpid()}@localhost",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._until(lambda: bool(self._inspect("ping")), 60, "the worker answering")

    def _inspect(self, what: str) -> Any:
        """Ask the worker (in a subprocess: this process has no Django settings)."""
        done = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "tierhub", "inspect", what, "-j", "-t", "2"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            return None
        return json.loads(done.stdout[done.stdout.index("{") :])

    def _until(self, condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the Celery worker exited; see {self.log.name}")
            if condition():
                return
            time.sleep(0.5)
        raise SystemExit(f"not seen within {timeout} s: {what}")

    def wait_idle(self) -> float:
        """Wait until no task runs or waits on the worker (the run's follow-ups); return s."""
        started = time.perf_counter()

        def idle() -> bool:
            busy = 0
            for what in ("active", "reserved"):
                answer = self._inspect(what) or {"?": [None]}
                busy += sum(len(tasks) for tasks in answer.values())
            return busy == 0

        self._until(idle, 1800, "the worker idle")
        return round(time.perf_counter() - started, 1)

    def peak_mb(self) -> dict[str, float]:
        """VmHWM of the worker's processes (the main one and its pool children)."""
        peaks = {}
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[str(pid)] = round(int(line.split()[1]) / 1024, 1)
            except OSError:
                continue
        return peaks

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


# ------------------------------------------------------------------------------ sizes


def sizes(dsn: str) -> dict[str, dict[str, int]]:
    """Return heap, index and total bytes of every table over 1 MB, largest first."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid),"
            " pg_total_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
            " AND pg_total_relation_size(c.oid) > 1048576"
            " ORDER BY pg_total_relation_size(c.oid) DESC"
        ).fetchall()
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    result = {name: {"table": t, "indexes": i, "total": s} for name, t, i, s in rows}
    result["(database)"] = {"table": 0, "indexes": 0, "total": int(database[0])}  # type: ignore[index]
    return result


# ------------------------------------------------------------------------------ report


def report(single: list[dict[str, Any]], sharded: list[dict[str, Any]], workers: int) -> str:
    lines = []
    for index, (one, many) in enumerate(zip(single, sharded, strict=True)):
        label = "first grades" if index == 0 else "steady state"
        lines += [
            "",
            f"period {index + 1}: as_of {one['as_of']} ({label})",
            f"single process   total {one['total']:7.2f} s  load {one['load_before'][0]:.2f}"
            f"  {one['phases']}",
            f"sharded          total {many['total']:7.2f} s  load {many['load_before'][0]:.2f}"
            f"  ({many['shards']} shards on {workers} worker processes;"
            f" cut points {many['cuts']:.2f} s, phase one {many['phase_one']:.2f} s)",
            f"  {'shard (ids)':<22}{'customers':>10}"
            + "".join(f"{p:>9}" for p in SHARD_PHASES)
            + f"{'sum':>9}",
        ]
        for shard in many["shard_phases"]:
            cells = "".join(f"{shard.get(p, 0.0):>9.2f}" for p in SHARD_PHASES)
            work = sum(shard.get(p, 0.0) for p in SHARD_PHASES)
            ids = f"[{shard['low']}, {shard['high']})"
            lines.append(f"  {ids:<22}{shard['customers']:>10,}{cells}{work:>9.2f}")
        lines.append(
            f"  sharded/single {many['total'] / one['total']:.2f}x;"
            f" counts equal: {many['counts'] == one['counts']}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=None, help="default: 10 per customer")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=bench_run.AS_OF)
    parser.add_argument("--periods", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--dsn", help="a migrated database (generated unless it has customers)")
    parser.add_argument("--sizes", action="store_true", help="record table and index sizes")
    parser.add_argument("--keep", action="store_true", help="leave the server running")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        print(json.dumps(driver(args.dsn, args.as_of, args.shards)))
        return

    from tests.harness import Services

    orders = args.orders if args.orders is not None else 10 * args.customers
    periods = [bench_run.months_later(args.as_of, i) for i in range(args.periods)]
    services = None
    redis = Services()
    workers = None
    started = time.perf_counter()
    try:
        if args.dsn:
            dsn = args.dsn
        else:
            services, dsn = bench_run.start_server()
            print(f"PostgreSQL at {dsn} ({services.run_dir})", flush=True)
            bench_run.migrate(dsn)
        counts = bench_run.generated_rows(dsn)
        if not counts["customers_customer"]:
            bench_run.generate(
                dsn, customers=args.customers, orders=orders, seed=args.seed, as_of=args.as_of
            )
            counts = bench_run.generated_rows(dsn)
        redis_url = redis.start_redis()
        workers = Workers(dsn, redis_url, args.workers, redis.run_dir / "worker.log")
        print(f"Redis at {redis_url}; {args.workers} worker processes", flush=True)

        single: list[dict[str, Any]] = []
        bench_run.reset(dsn)
        for as_of in periods:
            result = bench_run.run_worker("engine", dsn, as_of, engine_root=ROOT)
            single.append(result)
            print(f"single   {as_of}  {result['total']:7.2f} s  {result['phases']}", flush=True)
        single_prints = bench_run.fingerprints(dsn)
        database_sizes = sizes(dsn) if args.sizes else {}

        sharded: list[dict[str, Any]] = []
        bench_run.reset(dsn)
        workers.wait_idle()
        for as_of in periods:
            result = run_sharded(dsn, redis_url, as_of, args.shards)
            result["followups_idle_after"] = workers.wait_idle()
            sharded.append(result)
            print(
                f"sharded  {as_of}  {result['total']:7.2f} s  cuts {result['cuts']:.2f} s",
                flush=True,
            )
        sharded_prints = bench_run.fingerprints(dsn)
        worker_peaks = workers.peak_mb()

        same = all(single_prints[t] == sharded_prints[t] for t in COMPARED)
        text = report(single, sharded, args.workers)
        print(text)
        print(
            "\nwritten rows (snapshots, changes, audit entries, grade states): "
            + ("identical" if same else "DIFFER (see fingerprints in JSON)")
        )
        print(f"worker peak MB: {worker_peaks}")
        print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        customers = counts["customers_customer"]
        bench_run.results_write(
            f"{customers}c-{counts['customers_order']}o-shards",
            {
                "generated_rows": counts,
                "periods": [p.isoformat() for p in periods],
                "workers": args.workers,
                "shards": args.shards,
                "single": single,
                "sharded": sharded,
                "worker_peak_mb": worker_peaks,
                "fingerprints": {"single": single_prints, "sharded": sharded_prints},
                "identical": same,
                "sizes": database_sizes,
                "report": text,
                "wall_seconds": round(time.perf_counter() - started, 1),
            },
        )
    finally:
        if workers is not None:
            workers.stop()
        redis.stop()
        if services is not None:
            bench_run.stop_server(services, dsn, keep=args.keep)


if __name__ == "__main__":
    main()
