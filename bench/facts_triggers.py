"""Time the customer-facts insert triggers alone on a kept benchmark database (issue 15).

    .venv/bin/python bench/run.py --customers 100000 --orders 1000000 --pipelines engine --keep
    DATABASE_URL=postgres://tierhub@127.0.0.1:PORT/tierhub \\
        .venv/bin/python bench/facts_triggers.py --orders 200000 --lines 100000 --repeat 2

Each measurement is one INSERT statement in a transaction that is rolled back, so the
database is left as it was. Three variants, alternating, `--repeat` times:

- `none`: the trigger disabled (what the insert costs without the facts);
- `rebuild`: every touched bucket rebuilt from its orders (the trigger before the additive
  paths: `customers.facts._trigger_function_sql`);
- `append`: this checkout's triggers (`_order_insert_function_sql`,
  `_line_insert_function_sql`), installed in the transaction.

Orders: `--orders` new paid orders for random customers, placed on the local day after
`--day` (default: the database's last order day, so they are appends) or, with
`--back-dated`, 23 days before it (most keys take the rebuild). Lines: `--lines` new
sales lines with a category for existing orders (`0` skips them). Prints seconds and the
load average per measurement.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--back-dated", action="store_true")
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        parser.error("set DATABASE_URL to a kept benchmark database (bench/run.py --keep)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tierhub.settings.local")
    import django

    django.setup()
    for _ in range(args.repeat):
        for variant in ("none", "rebuild", "append"):
            if args.orders:
                took = _orders(variant, args.orders, args.back_dated)
                _report("orders", variant, args.orders, took)
            if args.lines:
                _report("lines", variant, args.lines, _lines(variant, args.lines))


def _report(kind: str, variant: str, rows: int, took: float) -> None:
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"{kind:6} {variant:8} {rows:>9,} rows {took:7.2f} s  load {load}", flush=True)


def _timed_insert(variant: str, trigger: str, table: str, setup: str, insert: str) -> float:
    from django.db import connection, transaction

    from customers import facts

    with transaction.atomic(), connection.cursor() as cursor:
        if variant == "none":
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        elif variant == "rebuild":
            cursor.execute(facts._trigger_function_sql(trigger))
        else:  # this checkout's functions, whatever the database was migrated with
            cursor.execute(facts.triggers_function_sql(trigger))
        cursor.execute(setup)
        started = time.perf_counter()
        cursor.execute(insert)
        took = time.perf_counter() - started
        transaction.set_rollback(True)
    return took


def _orders(variant: str, rows: int, back_dated: bool) -> float:
    from customers import facts

    shift = "- interval '23 days'" if back_dated else "+ interval '1 day'"
    setup = f"""
        CREATE TEMP TABLE bench_new_orders ON COMMIT DROP AS
        SELECT 'FT' || g AS order_no,
            (SELECT date_trunc('day', max(placed_at)) FROM {facts.ORDERS}) {shift}
                + random() * interval '20 hours' AS placed_at,
            round((random() * 500)::numeric, 2) AS amount, 'paid' AS status,
            (SELECT min(id) FROM customers_category) AS category_id,
            (SELECT min(id) FROM {facts.CUSTOMERS})
                + floor(random() * (SELECT count(*) FROM {facts.CUSTOMERS}))::bigint
                AS customer_id
        FROM generate_series(1, {rows}) g;
        ANALYZE bench_new_orders
    """
    insert = (
        f"INSERT INTO {facts.ORDERS} (order_no, placed_at, amount, refunded_amount, status,"
        " created_at, category_id, customer_id) SELECT order_no, placed_at, amount, 0, status,"
        " now(), category_id, customer_id FROM bench_new_orders"
    )
    return _timed_insert(variant, "customers_facts_order_insert", facts.ORDERS, setup, insert)


def _lines(variant: str, rows: int) -> float:
    from customers import facts

    setup = f"""
        CREATE TEMP TABLE bench_new_lines ON COMMIT DROP AS
        SELECT o.order_no AS document_no, 900 AS line_no,
            (SELECT min(id) FROM customers_category) + o.id % 5 AS category_id
        FROM {facts.ORDERS} o ORDER BY random() LIMIT {rows};
        ANALYZE bench_new_lines
    """
    insert = (
        f"INSERT INTO {facts.LINES} (document_no, line_no, sku, quantity, unit_price,"
        " category_id) SELECT document_no, line_no, 'BENCH', 1, 10, category_id"
        " FROM bench_new_lines"
    )
    return _timed_insert(variant, "customers_facts_line_insert", facts.LINES, setup, insert)


if __name__ == "__main__":
    main()
