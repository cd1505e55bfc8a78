"""Benchmark a full grading run on PostgreSQL: the engine against a hand-written baseline.

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/run.py --customers 100000 --orders 1000000
    .venv/bin/python bench/run.py --customers 1000000 --orders 10000000

Starts a throwaway PostgreSQL on a free loopback port under a temporary directory (the test
harness's `Services`, tuned below), migrates, generates the population once
(`bench/generate.py`), then for each pipeline -- the engine (`grading_run_execute`, one
process, no shards) and the baseline (`bench/baseline.py`) -- empties the tables a run writes
and runs two periods, each in its own subprocess so peak RSS is per pipeline and period:

1. `as_of` (2026-10-01, a quarter start): the first run, every active customer gets a first
   grade, a change and an audit row;
2. `as_of` + 1 month: the steady state, where few grades change.

It prints wall seconds per phase, total, peak MB and the engine/baseline ratio, checks that
both pipelines wrote the same rows (fingerprints of every written table, ids and timestamps
left out) and writes everything as JSON under bench/results/. With `--repeat N` each
pipeline runs N times (alternating which goes first) and the median run is reported. The
server is stopped and its directory removed at the end (`--keep` leaves it running).

Phases: extract (orders, customers and engagement), score, decide (reading the grade states
included), write (temporary load, inserts and updates with their foreign-key checks, run
counters), commit, other (run row, lock, bookkeeping).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AS_OF = dt.date(2026, 10, 1)
PHASES = ("extract", "score", "decide", "write", "commit", "other")
#: Server settings for the benchmark cluster (both pipelines share them). Durability is off
#: as in the test harness (fsync, synchronous_commit, full_page_writes); memory and WAL sizes
#: are what a dedicated 24 GB machine would be given.
PG_SETTINGS = {
    "shared_buffers": "2GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "30min",
    "log_min_duration_statement": "1000",  # statements >= 1 s go into the results JSON
}
WRITTEN_TABLES = (
    "grading_gradeauditentry",
    "grading_gradechange",
    "grading_scoresnapshot",
    "grading_customergrade",
    "grading_gradingrun",
)


def months_later(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    return day.replace(year=day.year + index // 12, month=index % 12 + 1)


def django_env(dsn: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": dsn,
            "DJANGO_SETTINGS_MODULE": "tierhub.settings.local",
            "DEBUG": "false",
            "CELERY_BROKER_URL": "memory://",  # the run enqueues its notifications on commit
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


# ----------------------------------------------------------------------------- workers


def engine_worker(dsn: str, as_of: dt.date) -> dict[str, Any]:
    """Run the engine once in this process and return its timings (called in a subprocess)."""
    import resource

    sys.path.insert(0, os.getcwd())  # the engine under test: --engine-root
    os.environ.update(django_env(dsn))
    import django

    django.setup()
    from django.conf import settings

    from grading.services.runs import RUN_COUNTERS, grading_run_execute

    started = time.perf_counter()
    run = grading_run_execute(as_of=as_of, shards=1, triggered_by="bench")
    total = time.perf_counter() - started
    if run.status != "succeeded":
        raise SystemExit(f"run {run.pk} ended {run.status}: {run.error}")
    phases = {k: float(v) for k, v in run.phase_seconds.items()}
    phases["other"] = round(total - sum(phases.values()), 3)
    return {
        "pipeline": "engine",
        "as_of": as_of.isoformat(),
        "time_zone": settings.TIME_ZONE,
        "phases": phases,
        "total": round(total, 3),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "hwm_mb": vm_hwm_mb(),
        "counts": {name: getattr(run, name) for name in RUN_COUNTERS},
    }


def vm_hwm_mb() -> float | None:
    """Peak RSS from /proc (VmHWM): a cross-check of ru_maxrss, which survives exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


class SlowLog:
    """The server log's slow statements (log_min_duration_statement) since the last read."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.offset = path.stat().st_size if path is not None and path.exists() else 0

    def read(self) -> list[list[Any]]:
        if self.path is None or not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            text = handle.read().decode(errors="replace")
            self.offset = handle.tell()
        pattern = r"duration: ([0-9.]+) ms  (?:statement|execute [^:]*): (.*)"
        return [
            [round(float(match.group(1)) / 1000, 2), match.group(2)[:110]]
            for match in re.finditer(pattern, text)
        ]


def run_worker(
    pipeline: str, dsn: str, as_of: dt.date, *, engine_root: Path, slow: SlowLog | None = None
) -> dict[str, Any]:
    """Run one pipeline for one period in a fresh Python process; return its JSON result.

    Pipelines: engine, baseline (both read the customer facts), baseline-orders (the baseline
    reading the window's orders instead), and baseline-nofk, a diagnostic that is not a valid
    run: the baseline with the foreign-key triggers skipped, to show what the checks cost.
    """
    if pipeline == "engine":
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            "--dsn",
            dsn,
            "--as-of",
            as_of.isoformat(),
        ]
        cwd = engine_root
    else:
        command = [
            sys.executable,
            str(ROOT / "bench" / "baseline.py"),
            "--dsn",
            dsn,
            "--as-of",
            as_of.isoformat(),
            "--time-zone",
            time_zone(dsn),
        ]
        cwd = ROOT
    env = django_env(dsn)
    env["PYTHONPATH"] = str(cwd)
    if pipeline == "baseline-nofk":
        env["BENCH_FK"] = "off"
    if pipeline == "baseline-orders":
        command.append("--from-orders")
    load_before = os.getloadavg()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{pipeline} failed:\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    phases = result["phases"]
    if "setup" in phases:  # the baseline's run row and lock
        phases["other"] = round(phases.pop("setup") + phases.get("other", 0.0), 3)
    result["pipeline"] = pipeline
    if slow is not None:
        result["slow_statements"] = slow.read()
    result["load_before"] = [round(x, 2) for x in load_before]
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


_TIME_ZONE: dict[str, str] = {}


def time_zone(dsn: str) -> str:
    """Return the project's TIME_ZONE setting (the baseline dates orders in it too)."""
    if dsn not in _TIME_ZONE:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from django.conf import settings;"
                " print(settings.TIME_ZONE)",
            ],
            cwd=ROOT,
            env=django_env(dsn),
            capture_output=True,
            text=True,
            check=True,
        )
        _TIME_ZONE[dsn] = done.stdout.strip().splitlines()[-1]
    return _TIME_ZONE[dsn]


# ------------------------------------------------------------------------------ server


def start_server() -> tuple[Any, str]:
    """Start a throwaway PostgreSQL, tune it, create the database; return (services, dsn)."""
    import psycopg

    from tests.harness import Services

    services = Services()
    try:
        url = services.start_postgres()
        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            for name, value in PG_SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            conn.execute("CREATE DATABASE tierhub")
        # shared_buffers needs a restart; pg_ctl restart reuses the original options.
        log = services.run_dir / "pg" / "pg.log"
        services._pg(
            "pg_ctl", "-D", str(services.pg_data), "-l", str(log), "-w", "-m", "fast", "restart"
        )
    except BaseException:
        services.stop()
        raise
    return services, url


def stop_server(services: Any, dsn: str, *, keep: bool) -> None:
    """Stop the server `start_server` started, or leave it running and say how to stop it."""
    if keep:
        print(f"kept: {dsn} (stop: pg_ctl -D {services.pg_data} stop)")
    else:
        services.stop()


def results_write(name: str, payload: dict[str, Any]) -> Path:
    """Write `payload` and the machine's description to bench/results/<time>-<name>.json."""
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}.json"
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    path.write_text(json.dumps({**payload, "machine": machine}, indent=2))
    print(f"results: {path.relative_to(ROOT)}")
    return path


def migrate(dsn: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=django_env(dsn),
        check=True,
    )


def reset(dsn: str) -> None:
    """Empty what a run writes so the next pipeline does the same first-run work."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(WRITTEN_TABLES)} CASCADE")
        # The runs' snapshot partitions go too: the next pipeline loads its own (issue #15).
        for (name,) in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'grading_scoresnapshot'::regclass"
        ).fetchall():
            conn.execute(f"DROP TABLE {name}")
        # Statistics as on a fresh install (empty tables), then a clean checkpoint.
        conn.execute(f"ANALYZE {', '.join(WRITTEN_TABLES)}")
        conn.execute("CHECKPOINT")


def generate(dsn: str, *, customers: int, orders: int, seed: int, as_of: dt.date) -> None:
    """Fill the migrated database with `bench/generate.py`.

    In a subprocess: a child forked from a big parent would inherit its peak RSS.
    """
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "generate.py"),
            "--dsn",
            dsn,
            "--customers",
            str(customers),
            "--orders",
            str(orders),
            "--seed",
            str(seed),
            "--as-of",
            as_of.isoformat(),
        ],
        cwd=ROOT,
        check=True,
    )
    # The generator loads with the triggers off (session_replication_role = replica), so the
    # customer facts the runs read are built after it, set-based, as an operator would after
    # such a load (issue #15; docs/grading.md, "Customer facts").
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "facts_rebuild"],
        cwd=ROOT,
        env=django_env(dsn),
        check=True,
        stderr=subprocess.DEVNULL,
    )
    print(f"customer facts rebuilt in {time.perf_counter() - started:.1f} s", flush=True)


def generated_rows(dsn: str) -> dict[str, int]:
    """Return the row counts of the generated tables."""
    import psycopg

    tables = (
        "customers_customer",
        "customers_order",
        "customers_campaigninvitation",
        "customers_referral",
        "customers_complaint",
        "customers_productreview",
        "grading_gradeoverride",
    )
    with psycopg.connect(dsn) as conn:
        return {t: _count(conn, t) for t in tables}


def _count(conn: Any, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None  # count(*) always answers one row
    return int(row[0])


def fingerprints(dsn: str) -> dict[str, list[Any]]:
    """Return (rows, hash sum) per written table and period, ids and timestamps left out."""
    import psycopg

    volatile = {
        "id",
        "run_id",
        "last_run_id",
        "change_id",
        "created_at",
        "decided_at",
        "since",
        "updated_at",
        "started_at",
        "finished_at",
        "duration_seconds",
        "phase_seconds",
        "progress_at",
        "phase",  # progress bookkeeping for the run's page, not a result
        "progress_done",
        "progress_total",
        "triggered_by",
        # The engine keeps its run's cut points for provisional upgrades; the baseline does
        # not compute them (the scores they reproduce are compared in the snapshots).
        "population_cuts",
    }
    result: dict[str, list[Any]] = {}
    with psycopg.connect(dsn) as conn:
        for table, run_column in (
            ("grading_scoresnapshot", "run_id"),
            ("grading_gradechange", "run_id"),
            ("grading_gradeauditentry", "run_id"),
            ("grading_customergrade", "last_run_id"),
            ("grading_gradingrun", "id"),
        ):
            columns = [
                row[0]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                    " ORDER BY ordinal_position",
                    [table],
                ).fetchall()
                if row[0] not in volatile
            ]
            content = ", ".join(f"t.{c}" for c in columns)
            rows = conn.execute(
                f"SELECT r.as_of, count(*), sum(hashtext(concat_ws('|', {content}))::bigint)"
                f" FROM {table} t LEFT JOIN grading_gradingrun r ON r.id = t.{run_column}"
                " GROUP BY r.as_of ORDER BY r.as_of"
            ).fetchall()
            result[table] = [[str(a), n, int(h or 0)] for a, n, h in rows]
    return result


# ------------------------------------------------------------------------------ report


def table(results: dict[str, list[dict[str, Any]]], periods: list[dt.date]) -> str:
    """Return the printed comparison: one block per period, engine, baseline and ratio."""
    lines = []
    header = f"{'':<16}" + "".join(f"{p:>9}" for p in PHASES) + f"{'total':>9}{'peak MB':>9}"
    for index, as_of in enumerate(periods):
        label = "first grades" if index == 0 else "steady state"
        lines += ["", f"period {index + 1}: as_of {as_of} ({label})", header]
        row = {}
        for pipeline, runs in results.items():
            result = runs[index]
            row[pipeline] = result
            cells = "".join(f"{result['phases'].get(p, 0.0):>9.2f}" for p in PHASES)
            lines.append(f"{pipeline:<16}{cells}{result['total']:>9.2f}{result['peak_mb']:>9.0f}")
        if "engine" in row and "baseline" in row:
            e, b = row["engine"], row["baseline"]
            ratios = "".join(
                f"{_ratio(e['phases'].get(p, 0.0), b['phases'].get(p, 0.0)):>9}" for p in PHASES
            )
            lines.append(
                f"{'engine/baseline':<16}{ratios}{_ratio(e['total'], b['total']):>9}"
                f"{_ratio(e['peak_mb'], b['peak_mb']):>9}"
            )
        counts = next(iter(row.values()))["counts"]
        lines.append("counts: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b >= 0.05 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=None, help="default: 10 per customer")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF)
    parser.add_argument("--periods", type=int, default=2)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per pipeline; the median run is reported"
    )
    parser.add_argument(
        "--pipelines", default="engine,baseline", help="comma-separated, run in this order"
    )
    parser.add_argument(
        "--engine-root",
        type=Path,
        default=ROOT,
        help="run the engine from another checkout (e.g. an older commit, for a before figure)",
    )
    parser.add_argument("--dsn", help="use this migrated, empty database instead of a new server")
    parser.add_argument("--keep", action="store_true", help="leave the server running")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(engine_worker(args.dsn, args.as_of)))
        return

    orders = args.orders if args.orders is not None else 10 * args.customers
    periods = [months_later(args.as_of, i) for i in range(args.periods)]
    pipelines = [p.strip() for p in args.pipelines.split(",") if p.strip()]
    services = None
    started = time.perf_counter()
    try:
        if args.dsn:
            dsn = args.dsn
        else:
            services, dsn = start_server()
            print(f"PostgreSQL at {dsn} ({services.run_dir})", flush=True)
            migrate(dsn)
        generate(dsn, customers=args.customers, orders=orders, seed=args.seed, as_of=args.as_of)
        counts = generated_rows(dsn)
        slow = SlowLog(services.run_dir / "pg" / "pg.log" if services is not None else None)
        attempts: dict[str, list[list[dict[str, Any]]]] = {p: [] for p in pipelines}
        prints: dict[str, dict[str, list[Any]]] = {}
        for repeat in range(args.repeat):
            # Alternate the order so neither pipeline always runs on a warmer cache.
            for pipeline in pipelines if repeat % 2 == 0 else pipelines[::-1]:
                reset(dsn)
                runs = []
                for as_of in periods:
                    slow.read()  # skip what reset and fingerprints logged
                    result = run_worker(
                        pipeline, dsn, as_of, engine_root=args.engine_root, slow=slow
                    )
                    runs.append(result)
                    print(
                        f"{pipeline:<9} {as_of}  {result['total']:7.2f} s"
                        f"  {result['peak_mb']:6.0f} MB  load {result['load_before'][0]:.2f}"
                        f"  {result['phases']}",
                        flush=True,
                    )
                attempts[pipeline].append(runs)
                prints[f"{pipeline}#{repeat + 1}"] = fingerprints(dsn)
        # Per pipeline and period, the attempt with the median total (its phases with it).
        results = {
            pipeline: [
                sorted((runs[i] for runs in tries), key=lambda r: r["total"])[(len(tries) - 1) // 2]
                for i in range(len(periods))
            ]
            for pipeline, tries in attempts.items()
        }
        report = table(results, periods)
        print(report)
        same = len({json.dumps(p, sort_keys=True) for p in prints.values()}) == 1
        if len(prints) > 1:
            print(
                "\nwritten rows: "
                + ("identical in every table" if same else "DIFFER (see fingerprints in JSON)")
            )
        print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        results_write(
            f"{args.customers}c-{orders}o",
            {
                "customers": args.customers,
                "orders": orders,
                "seed": args.seed,
                "periods": [p.isoformat() for p in periods],
                "generated_rows": counts,
                "pg_settings": PG_SETTINGS,
                "engine_root": str(args.engine_root),
                "repeat": args.repeat,
                "results": results,
                "attempts": attempts,
                "fingerprints": prints,
                "identical": same,
                "report": report,
                "wall_seconds": round(time.perf_counter() - started, 1),
            },
        )
    finally:
        if services is not None:
            stop_server(services, dsn, keep=args.keep)


if __name__ == "__main__":
    main()
