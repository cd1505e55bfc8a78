"""Benchmark the grading reports and the /reports/ page on PostgreSQL at scale.

    .venv/bin/python bench/bench_reports.py --customers 100000 --orders 1000000   # ~5 min
    .venv/bin/python bench/bench_reports.py                                       # 1M / 10M

Reuses `bench/run.py`: a throwaway PostgreSQL (the test harness's `Services`, tuned as for
the grading benchmark), `migrate`, the seeded population of `bench/generate.py` (run as a
subprocess, as run.py does) and one grading run through the engine
(`grading_run_execute` in a fresh process: run.py's `run_worker("engine", ...)`). Then adds,
with set-based SQL, what generate.py does not make:

- redemptions: for each graded customer and each benefit their grade carries (the seeded
  catalog), with a 6% chance, two uses inside the run's window, at the benefit's cost;
- service tickets: up to three per customer (each with a 20% chance) opened in the window;
- appeals: against 0.5% of the run's grade changes, filed over the twelve months before now,
  40% accepted, 30% rejected, 10% withdrawn, 20% open, decided 1-200 hours after filing.

"Random" is a hash of ids, so the rows are a function of the population. It then times, in
this process, each report function and the full page (`django.test.Client`, logged in as a
superuser): the median of `--repeat` (3) calls each, plus the page's query count, and the
what-if of the active scheme once (`--no-what-if` skips it). Prints a table and writes JSON
under bench/results/. The server is stopped at the end (`--keep` leaves it running;
`--dsn URL` then measures again on it, skipping everything before the timings).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import run as grading_bench  # noqa: E402  (bench/run.py: server, migrate, engine worker)

ACTIVITY_SQL = {
    "benefits_redemption": """
        INSERT INTO benefits_redemption (customer_id, benefit_id, grade_id, period_key, slot,
            idempotency_key, channel, cost, redeemed_at, redeemed_by_id)
        SELECT s.customer_id, gb.benefit_id, s.grade_after_id, 'bench', n.slot,
            'bench-' || gb.benefit_id || '-' || n.slot, 'api', b.cost_per_use,
            %(end)s::timestamptz - make_interval(secs => 1
                + pg_temp.h(s.customer_id || '/' || gb.benefit_id || '/' || n.slot)
                %% (%(window_days)s * 86400 - 1)),
            NULL
        FROM grading_scoresnapshot s
        JOIN benefits_gradebenefit gb ON gb.grade_id = s.grade_after_id
        JOIN benefits_benefit b ON b.id = gb.benefit_id
        CROSS JOIN generate_series(1, 2) AS n(slot)
        WHERE s.run_id = %(run)s AND pg_temp.h(s.customer_id || ':' || gb.benefit_id) %% 100 < 6
    """,
    "customers_serviceticket": """
        INSERT INTO customers_serviceticket (customer_id, subject, priority, opened_at,
            first_response_at, closed_at)
        SELECT t.customer_id, 'Bench ticket', t.priority, t.opened_at,
            t.opened_at + make_interval(mins => (t.h %% 900)::int), t.opened_at + interval '2 days'
        FROM (
            SELECT c.id AS customer_id, pg_temp.h(c.id || '#' || n) AS h,
                CASE WHEN pg_temp.h(c.id || '!' || n) %% 10 = 0
                     THEN 'urgent' ELSE 'normal' END AS priority,
                %(end)s::timestamptz - make_interval(secs => 1
                    + pg_temp.h(c.id || '@' || n) %% (%(window_days)s * 86400 - 1)) AS opened_at
            FROM customers_customer c CROSS JOIN generate_series(1, 3) AS n
            WHERE pg_temp.h(c.id || '#' || n) %% 100 < 20
        ) t
    """,
    "appeals_appeal": """
        INSERT INTO appeals_appeal (customer_id, change_id, status, reason, ops_note,
            filed_by_id, decided_by_id, decided_at, created_at)
        SELECT a.customer_id, a.change_id, a.status, 'Bench appeal', '', NULL, NULL,
            CASE WHEN a.status IN ('submitted', 'under_review') THEN NULL
                 ELSE a.filed + make_interval(hours => (1 + a.h %% 200)::int) END,
            a.filed
        FROM (
            SELECT c.customer_id, c.id AS change_id, pg_temp.h('appeal' || c.id) AS h,
                CASE WHEN pg_temp.h('status' || c.id) %% 10 < 4 THEN 'accepted'
                     WHEN pg_temp.h('status' || c.id) %% 10 < 7 THEN 'rejected'
                     WHEN pg_temp.h('status' || c.id) %% 10 < 8 THEN 'withdrawn'
                     WHEN pg_temp.h('status' || c.id) %% 10 < 9 THEN 'submitted'
                     ELSE 'under_review' END AS status,
                now() - make_interval(secs => pg_temp.h('filed' || c.id) %% (330 * 86400))
                    AS filed
            FROM grading_gradechange c
            WHERE c.run_id = %(run)s AND pg_temp.h('appeal' || c.id) %% 1000 < 5
        ) a
    """,
}


def add_activity(dsn: str, *, run_id: int, as_of: dt.date, window_days: int) -> dict[str, Any]:
    """Insert redemptions, tickets and appeals with SQL; return rows and seconds per table."""
    import psycopg

    end = f"{as_of.isoformat()} 00:00:00 {grading_bench.time_zone(dsn)}"
    params = {"run": run_id, "end": end, "window_days": window_days}
    result: dict[str, Any] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        # A deterministic "random" number from any text: the rows depend on the ids only.
        conn.execute(
            "CREATE FUNCTION pg_temp.h(text) RETURNS bigint LANGUAGE sql IMMUTABLE"
            " AS 'SELECT abs(hashtext($1)::bigint)'"
        )
        for table, sql in ACTIVITY_SQL.items():
            clock = time.perf_counter()
            rows = conn.execute(sql, params).rowcount
            result[table] = {"rows": rows, "seconds": round(time.perf_counter() - clock, 1)}
            print(f"{table:<28}{rows:>12,} rows {result[table]['seconds']:7.1f} s", flush=True)
        # The new rows, and what the run wrote, vacuumed and analysed as autovacuum would
        # shortly after a run: otherwise its work lands inside the timings.
        conn.execute(
            "VACUUM (ANALYZE) benefits_redemption, customers_serviceticket, appeals_appeal,"
            " grading_scoresnapshot, grading_gradechange, grading_customergrade"
        )
    return result


def timed(function: Callable[[], Any], repeat: int) -> dict[str, Any]:
    """Call `function` `repeat` times; return the median, min and max wall seconds."""
    seconds = []
    for _ in range(repeat):
        clock = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - clock)
    return {
        "median": round(statistics.median(seconds), 3),
        "min": round(min(seconds), 3),
        "max": round(max(seconds), 3),
    }


def measure(repeat: int, *, what_if: bool) -> dict[str, dict[str, Any]]:
    """Time every report function, the page and (optionally) the what-if; Django is set up."""
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from appeals.reports import appeal_outcomes
    from benefits.reports import benefit_usage, cost_to_serve
    from grading import reports
    from grading.models import GradingRun, GradingScheme
    from grading.reports import months_back
    from grading.services.report_cache import reports_warm
    from grading.whatif import scheme_what_if

    # The latest succeeded run (a run.py --keep database has two periods).
    run = (
        GradingRun.objects.select_related("scheme")
        .filter(status=GradingRun.Status.SUCCEEDED)
        .latest("as_of")
    )
    since = months_back(timezone.localdate(), 11)
    functions: dict[str, Callable[[], Any]] = {
        "value_distribution": lambda: reports.value_distribution(run=run),
        "grade_movement": reports.grade_movement,
        "revenue_profit_share": lambda: reports.revenue_profit_share(run=run),
        "cost_to_serve": lambda: cost_to_serve(run=run),
        "benefit_usage": lambda: benefit_usage(run=run),
        "repurchase_by_grade": lambda: reports.repurchase_by_grade(run=run),
        "stage_distribution": lambda: reports.stage_distribution(run=run),
        "pareto_curve": lambda: reports.pareto_curve(run=run),
        # One run only: the run against itself costs the same self-join of snapshots.
        "transition_matrix (run vs itself)": lambda: reports.transition_matrix(
            before=run, after=run
        ),
        "appeal_outcomes (12 months)": lambda: appeal_outcomes(since=since),
    }
    results = {}
    for name, function in functions.items():
        results[name] = timed(function, repeat)
        print(f"{name:<36}{results[name]['median']:>9.3f} s", flush=True)

    user = User.objects.filter(username="bench-superuser").first() or (
        User.objects.create_superuser("bench-superuser", "bench@example.com", "bench-pass-123")
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    def page() -> None:
        response = client.get("/reports/", {"run": run.pk})
        if response.status_code != 200:
            raise SystemExit(f"/reports/ answered {response.status_code}")

    def export() -> None:
        response = client.get("/reports/", {"run": str(run.pk), "export": "cost_to_serve"})
        if response.status_code != 200:
            raise SystemExit(f"export answered {response.status_code}")

    statements: list[str] = []

    def count(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        statements.append(sql)
        return execute(sql, *args)

    def cold_page() -> None:
        cache.clear()
        page()

    # An execute wrapper survives the connection closing at the end of each request.
    with connection.execute_wrapper(count):
        cold_page()  # also warms the template cache
    results["/reports/ page, computed (cache empty)"] = {
        **timed(cold_page, repeat),
        "queries": len(statements),
    }
    print(
        f"{'/reports/ page, computed':<36}"
        f"{results['/reports/ page, computed (cache empty)']['median']:>9.3f} s",
        flush=True,
    )
    cache.clear()
    results["reports_warm (after a run; en + zh-hans)"] = timed(
        lambda: reports_warm(run_id=run.pk), 1
    )
    statements.clear()
    with connection.execute_wrapper(count):
        page()
    results["/reports/ page, from the cache"] = {**timed(page, repeat), "queries": len(statements)}
    results["/reports/ CSV export (cost_to_serve), cached"] = timed(export, repeat)
    if what_if:
        scheme = GradingScheme.objects.get(status=GradingScheme.Status.ACTIVE)
        results["what-if, active scheme (once)"] = timed(
            lambda: scheme_what_if(scheme=scheme, as_of=run.as_of), 1
        )
    return results


def report_table(results: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'':<40}{'median s':>10}{'min s':>9}{'max s':>9}"]
    for name, figures in results.items():
        extra = f"   {figures['queries']} queries" if "queries" in figures else ""
        lines.append(
            f"{name:<40}{figures['median']:>10.3f}{figures['min']:>9.3f}{figures['max']:>9.3f}"
            + extra
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=None, help="default: 10 per customer")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=grading_bench.AS_OF)
    parser.add_argument("--repeat", type=int, default=3, help="calls per report; median shown")
    parser.add_argument("--no-what-if", action="store_true", help="skip timing the what-if")
    parser.add_argument("--keep", action="store_true", help="leave the server running")
    parser.add_argument(
        "--dsn", help="only measure, on a database a --keep invocation left populated"
    )
    args = parser.parse_args()
    if args.dsn:
        os.environ.update(grading_bench.django_env(args.dsn), CACHE_URL="locmemcache://")
        import django

        django.setup()
        results = measure(args.repeat, what_if=not args.no_what_if)
        print(f"\nload now {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(report_table(results))
        return
    orders = args.orders if args.orders is not None else 10 * args.customers
    started = time.perf_counter()
    services, dsn = grading_bench.start_server()
    try:
        print(f"PostgreSQL at {dsn} ({services.run_dir})", flush=True)
        grading_bench.migrate(dsn)
        clock = time.perf_counter()
        grading_bench.generate(
            dsn, customers=args.customers, orders=orders, seed=args.seed, as_of=args.as_of
        )
        generated: dict[str, Any] = {"rows": grading_bench.generated_rows(dsn)}
        generated["seconds"] = round(time.perf_counter() - clock, 1)
        engine = grading_bench.run_worker("engine", dsn, args.as_of, engine_root=ROOT)
        print(f"grading run: {engine['total']:.1f} s {engine['counts']}", flush=True)

        os.environ.update(grading_bench.django_env(dsn), CACHE_URL="locmemcache://")
        import django

        django.setup()
        from grading.models import GradingRun

        run = GradingRun.objects.select_related("scheme").get(as_of=args.as_of)
        activity = add_activity(
            dsn, run_id=run.pk, as_of=args.as_of, window_days=run.scheme.window_days
        )
        results = measure(args.repeat, what_if=not args.no_what_if)
        report = report_table(results)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\n{args.customers:,} customers / {orders:,} orders, load now {load}\n{report}")
        grading_bench.results_write(
            f"reports-{args.customers}c-{orders}o",
            {
                "customers": args.customers,
                "orders": orders,
                "seed": args.seed,
                "as_of": args.as_of.isoformat(),
                "generated": generated,
                "grading_run": engine,
                "activity": activity,
                "repeat": args.repeat,
                "results": results,
                "report": report,
                "wall_seconds": round(time.perf_counter() - started, 1),
            },
        )
    finally:
        grading_bench.stop_server(services, dsn, keep=args.keep)


if __name__ == "__main__":
    main()
