"""Seeded synthetic customers, orders and engagement rows, written straight into PostgreSQL.

    .venv/bin/python bench/generate.py --dsn postgresql://tierhub@127.0.0.1:PORT/tierhub \
        --customers 100000 --orders 1000000

A benchmark fixture, not demo data (that is `seed_demo`): every table is filled with COPY from
numpy arrays formatted by pyarrow, so 1M customers / 10M orders load in about a minute. The
database must be migrated and hold no customers yet.

The population is shaped like a trading platform's:
- lifecycles: 8% prospects who never ordered, 15% churned (last order more than a year before
  `as_of`), 12% dormant (6-12 months), 10% lapsing (2-6 months), 55% active, who keep buying
  until 45 days after `as_of` (so the next month's run has new orders to read);
- how much a customer buys is Pareto-distributed (shape 1.16, the 80/20 rule) times a kind
  factor (channel agents and resellers buy more), so a few customers place most orders;
- ticket sizes are log-normal per customer and per order; 8% of orders are refunded or
  cancelled (not counted) and 3% partially refunded; 75% on time, 10% late, 15% unknown;
- each customer has a favourite category among 60 and strays from it geometrically; 5% of
  orders have none;
- engagement: 24 monthly campaigns inviting 3% of the buyers each (35% join), referrals from
  5% of the customers, complaints and reviews drawn in proportion to activity;
- 0.2% of the customers have a manual grade override (the runs must leave them alone).
Everything is a function of (customers, orders, seed, as_of).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

AS_OF = dt.date(2026, 10, 1)
N_CATEGORIES = 60
N_CAMPAIGNS = 24
INDUSTRIES = ("retail", "wholesale", "games", "agency", "education", "travel", "")
INDUSTRY_SHARES = (0.30, 0.20, 0.15, 0.10, 0.08, 0.07, 0.10)
KINDS = ("end_customer", "reseller", "channel_agent")
KIND_SHARES = (0.90, 0.09, 0.01)
KIND_ACTIVITY = (1.0, 5.0, 20.0)
# Lifecycle segments: share, last-activity window in days relative to as_of (low, high).
SEGMENTS = {
    "prospect": (0.08, None),
    "churned": (0.15, (-1095, -366)),
    "dormant": (0.12, (-365, -181)),
    "lapsing": (0.10, (-180, -61)),
    "active": (0.55, (44, 45)),
}
HISTORY_DAYS = 3 * 365  # the oldest registration is three years before as_of
CHUNK_ROWS = 500_000
_EPOCH = dt.date(1970, 1, 1)
_DAY = 86_400


@dataclass(frozen=True)
class Population:
    ids: np.ndarray  # customer ids 1..n
    segment: np.ndarray  # index into SEGMENTS
    kind: np.ndarray
    industry: np.ndarray
    registered: np.ndarray  # epoch seconds
    first_day: np.ndarray  # first possible order day (days since epoch)
    last_day: np.ndarray  # last possible order day
    weight: np.ndarray  # activity weight (0 for prospects)
    ticket_log: np.ndarray  # per-customer log of the typical ticket in cents
    favourite: np.ndarray  # favourite category index


def _days(day: dt.date) -> int:
    return (day - _EPOCH).days


def plan_population(rng: np.random.Generator, n: int, as_of: dt.date) -> Population:
    """Draw each customer's lifecycle, kind, industry, activity and taste."""
    as_of_day = _days(as_of)
    names = list(SEGMENTS)
    shares = np.array([SEGMENTS[s][0] for s in names])
    segment = rng.choice(len(names), size=n, p=shares / shares.sum())
    kind = rng.choice(len(KINDS), size=n, p=KIND_SHARES)
    industry = rng.choice(len(INDUSTRIES), size=n, p=INDUSTRY_SHARES)

    last = np.full(n, as_of_day, dtype=np.int64)
    for position, name in enumerate(names):
        bounds = SEGMENTS[name][1]
        rows = segment == position
        if bounds is not None:
            last[rows] = as_of_day + rng.integers(bounds[0], bounds[1] + 1, rows.sum())
    oldest = as_of_day - HISTORY_DAYS
    # Registered somewhere between the oldest day and 30 days before the last activity.
    span = np.maximum(last - 30 - oldest, 1)
    first = oldest + (rng.random(n) ** 0.7 * span).astype(np.int64)
    prospects = segment == names.index("prospect")
    first[prospects] = as_of_day - rng.integers(1, HISTORY_DAYS, prospects.sum())
    last[prospects] = first[prospects]
    registered = first * _DAY + rng.integers(0, _DAY, n)

    weight = (rng.pareto(1.16, n) + 1.0) * np.take(KIND_ACTIVITY, kind)
    weight = np.minimum(weight, 5_000.0)
    weight[prospects] = 0.0
    ticket_log = rng.normal(np.log(20_000), 1.0, n) + np.log(np.take(KIND_ACTIVITY, kind)) / 2
    favourite = rng.integers(0, N_CATEGORIES, n)
    return Population(
        ids=np.arange(1, n + 1, dtype=np.int64),
        segment=segment,
        kind=kind,
        industry=industry,
        registered=registered,
        first_day=first,
        last_day=last,
        weight=weight,
        ticket_log=ticket_log,
        favourite=favourite,
    )


def plan_orders(
    rng: np.random.Generator, people: Population, n_orders: int
) -> dict[str, np.ndarray]:
    """Return the order columns as arrays (owner index, epoch seconds, cents, ...)."""
    p = people.weight / people.weight.sum()
    owner = np.sort(rng.choice(p.size, size=n_orders, p=p))
    first, last = people.first_day[owner], people.last_day[owner]
    day = first + (rng.random(n_orders) * (last - first + 1)).astype(np.int64)
    placed = day * _DAY + rng.integers(0, _DAY, n_orders)
    cents = np.exp(people.ticket_log[owner] + rng.normal(0.0, 0.5, n_orders))
    amount = np.clip(np.round(cents), 100, 9_999_999_999).astype(np.int64)

    draw = rng.random(n_orders)
    status = np.where(draw < 0.80, 1, 0)  # 1 completed, 0 paid
    status = np.where(draw >= 0.92, 2, status)  # refunded
    status = np.where(draw >= 0.96, 3, status)  # cancelled
    refunded = np.zeros(n_orders, dtype=np.int64)
    refunded[status == 2] = amount[status == 2]
    partial = (status <= 1) & (rng.random(n_orders) < 0.03)
    refunded[partial] = (amount[partial] * rng.uniform(0.1, 0.9, partial.sum())).astype(np.int64)
    profit = (amount * rng.uniform(0.05, 0.35, n_orders)).astype(np.int64)
    profit_known = rng.random(n_orders) < 0.7

    stray = rng.geometric(0.45, n_orders) - 1
    category = (people.favourite[owner] + stray) % N_CATEGORIES + 1
    has_category = rng.random(n_orders) >= 0.05
    on_time_draw = rng.random(n_orders)
    return {
        "owner": owner,
        "placed": placed,
        "amount": amount,
        "refunded": refunded,
        "profit": profit,
        "profit_known": profit_known,
        "status": status,
        "category": category,
        "has_category": has_category,
        "on_time": np.where(on_time_draw < 0.75, 1, np.where(on_time_draw < 0.85, 0, -1)),
    }


# ----------------------------------------------------------------------------- arrow columns


def _text_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _timestamps(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(seconds, type=pa.timestamp("s", tz="UTC"), mask=mask)


def _money(cents: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    # cents / 100 as a double prints as the exact two-decimal amount (shortest round trip).
    return pa.array(cents / 100.0, mask=mask)


def _choice(values: tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(index, pa.int32()), pa.array(values)).cast(
        pa.string()
    )


def _bools(values: np.ndarray) -> pa.Array:
    """-1/0/1 as NULL/false/true."""
    return pa.array(values == 1, mask=values < 0)


# ------------------------------------------------------------------------------------- COPY


def _csv_chunks(build: Callable[[slice], pa.Table], rows: int) -> Iterator[bytes]:
    """Yield CSV bytes of `build(rows slice)`, formatting the next chunk while one is copied."""
    slices = [slice(start, min(start + CHUNK_ROWS, rows)) for start in range(0, rows, CHUNK_ROWS)]

    def render(part: slice) -> bytes:
        sink = io.BytesIO()
        pacsv.write_csv(
            build(part),
            sink,
            write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"),
        )
        return sink.getvalue()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(render, slices[0]) if slices else None
        for index in range(len(slices)):
            assert pending is not None
            data = pending.result()
            pending = pool.submit(render, slices[index + 1]) if index + 1 < len(slices) else None
            yield data


def _secondary_indexes(cursor: psycopg.Cursor, table: str) -> list[tuple[str, str]]:
    """Return (name, CREATE INDEX statement) of `table`'s indexes that back no constraint."""
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = %s::regclass AND NOT EXISTS"
        " (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
        [table],
    )
    return list(cursor.fetchall())


def copy_table(
    conn: psycopg.Connection,
    table: str,
    columns: list[str],
    build: Callable[[slice], pa.Table],
    rows: int,
) -> None:
    """COPY `rows` rows into `table`, its secondary indexes dropped during the load and rebuilt.

    The rebuilt indexes are the same statements the migrations created (pg_get_indexdef), so
    the schema afterwards is exactly the migrated one.
    """
    with conn.cursor() as cursor:
        indexes = _secondary_indexes(cursor, table)
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy:
            for data in _csv_chunks(build, rows):
                copy.write(data)
        for _, statement in indexes:
            cursor.execute(statement)
        if "id" in columns:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )


def generate(
    dsn: str,
    *,
    customers: int,
    orders: int,
    seed: int = 2026,
    as_of: dt.date = AS_OF,
    log: Callable[[str], None] = lambda line: None,
) -> dict[str, int]:
    """Fill an empty, migrated TierHub database; return the row counts per table."""
    rng = np.random.Generator(np.random.PCG64(seed))
    started = time.perf_counter()
    people = plan_population(rng, customers, as_of)
    plan = plan_orders(rng, people, orders)
    log(f"planned in {time.perf_counter() - started:.1f} s")
    now = int(time.time())
    counts: dict[str, int] = {}

    with psycopg.connect(dsn, autocommit=False) as conn:
        with conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM customers_customer")
            if cursor.fetchone()[0]:  # type: ignore[index]
                raise SystemExit("The database already has customers; use a fresh one.")
            # The rows are consistent by construction: skip the per-row FK triggers (this is a
            # throwaway benchmark cluster where the bench connects as its superuser).
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("SET maintenance_work_mem = '512MB'")

        def step(
            table: str, columns: list[str], build: Callable[[slice], pa.Table], n: int
        ) -> None:
            clock = time.perf_counter()
            copy_table(conn, table, columns, build, n)
            counts[table] = n
            log(f"{table:<32}{n:>12,} rows {time.perf_counter() - clock:7.1f} s")

        step(
            "customers_category",
            ["id", "code", "name"],
            lambda s: pa.table(
                {
                    "id": pa.array(np.arange(1, N_CATEGORIES + 1)[s]),
                    "code": _text_ids("bench-cat-", np.arange(1, N_CATEGORIES + 1)[s], 2),
                    "name": _text_ids("Category ", np.arange(1, N_CATEGORIES + 1)[s], 2),
                }
            ),
            N_CATEGORIES,
        )

        def customer_rows(s: slice) -> pa.Table:
            ids = people.ids[s]
            return pa.table(
                {
                    "id": pa.array(ids),
                    "created_at": _timestamps(np.full(ids.size, now)),
                    "updated_at": _timestamps(np.full(ids.size, now)),
                    "code": _text_ids("B", ids, 8),
                    "name": _text_ids("Bench customer ", ids, 1),
                    "kind": _choice(KINDS, people.kind[s]),
                    "industry": _choice(INDUSTRIES, people.industry[s]),
                    "registered_at": _timestamps(people.registered[s]),
                    "email": pa.array([""] * ids.size),
                    "phone": pa.array([""] * ids.size),
                    "contact_name": pa.array([""] * ids.size),
                    "address": pa.array([""] * ids.size),
                    # 2% deactivated accounts: never graded.
                    "is_active": pa.array((ids * 7919) % 50 != 0),
                }
            )

        step(
            "customers_customer",
            [
                "id",
                "created_at",
                "updated_at",
                "code",
                "name",
                "kind",
                "industry",
                "registered_at",
                "email",
                "phone",
                "contact_name",
                "address",
                "is_active",
            ],
            customer_rows,
            customers,
        )

        statuses = ("paid", "completed", "refunded", "cancelled")

        def order_rows(s: slice) -> pa.Table:
            numbers = np.arange(s.start + 1, s.stop + 1)
            return pa.table(
                {
                    "id": pa.array(numbers),
                    "order_no": _text_ids("BO", numbers, 10),
                    "placed_at": _timestamps(plan["placed"][s]),
                    "amount": _money(plan["amount"][s]),
                    "refunded_amount": _money(plan["refunded"][s]),
                    "profit": _money(plan["profit"][s], mask=~plan["profit_known"][s]),
                    "status": _choice(statuses, plan["status"][s]),
                    "on_time": _bools(plan["on_time"][s]),
                    "created_at": _timestamps(plan["placed"][s]),
                    "category_id": pa.array(plan["category"][s], mask=~plan["has_category"][s]),
                    "customer_id": pa.array(people.ids[plan["owner"][s]]),
                }
            )

        step(
            "customers_order",
            [
                "id",
                "order_no",
                "placed_at",
                "amount",
                "refunded_amount",
                "profit",
                "status",
                "on_time",
                "created_at",
                "category_id",
                "customer_id",
            ],
            order_rows,
            orders,
        )

        _engagement(rng, conn, people, as_of, step)
        _overrides(rng, conn, people, step)
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        clock = time.perf_counter()
        # Freeze and analyse once, so neither measured pipeline pays for hint bits or stats.
        conn.execute("VACUUM (FREEZE, ANALYZE)")
        log(f"{'VACUUM (FREEZE, ANALYZE)':<44} {time.perf_counter() - clock:7.1f} s")
    log(f"generated in {time.perf_counter() - started:.1f} s")
    return counts


def _engagement(
    rng: np.random.Generator,
    conn: psycopg.Connection,
    people: Population,
    as_of: dt.date,
    step: Callable[[str, list[str], Callable[[slice], pa.Table], int], None],
) -> None:
    """Campaigns and invitations, referrals, complaints and reviews."""
    n = people.ids.size
    as_of_day = _days(as_of)
    buyers = np.flatnonzero(people.weight > 0)
    starts = np.array(
        [
            _days(
                dt.date(
                    as_of.year - 2 + (as_of.month - 1 + m) // 12, (as_of.month - 1 + m) % 12 + 1, 1
                )
            )
            for m in range(N_CAMPAIGNS)
        ]
    )
    step(
        "customers_campaign",
        ["id", "code", "name", "starts_on", "ends_on"],
        lambda s: pa.table(
            {
                "id": pa.array(np.arange(1, N_CAMPAIGNS + 1)[s]),
                "code": _text_ids("bench-campaign-", np.arange(1, N_CAMPAIGNS + 1)[s], 2),
                "name": _text_ids("Campaign ", np.arange(1, N_CAMPAIGNS + 1)[s], 2),
                "starts_on": pa.array(starts[s].astype("datetime64[D]")),
                "ends_on": pa.array((starts[s] + 20).astype("datetime64[D]")),
            }
        ),
        N_CAMPAIGNS,
    )
    per_campaign = max(1, int(buyers.size * 0.03))
    campaign = np.repeat(np.arange(1, N_CAMPAIGNS + 1), per_campaign)
    invited_customer = np.concatenate(
        [rng.choice(buyers, per_campaign, replace=False) for _ in range(N_CAMPAIGNS)]
    )
    invited = (starts[campaign - 1] + rng.integers(0, 20, campaign.size)) * _DAY + rng.integers(
        0, _DAY, campaign.size
    )
    joined = invited + rng.integers(60, 10 * _DAY, campaign.size)
    joins = rng.random(campaign.size) < 0.35
    joined = np.minimum(joined, (as_of_day + 30) * _DAY)
    step(
        "customers_campaigninvitation",
        ["campaign_id", "customer_id", "invited_at", "joined_at"],
        lambda s: pa.table(
            {
                "campaign_id": pa.array(campaign[s]),
                "customer_id": pa.array(people.ids[invited_customer[s]]),
                "invited_at": _timestamps(invited[s]),
                "joined_at": _timestamps(joined[s], mask=~joins[s]),
            }
        ),
        campaign.size,
    )

    def events(count: int, activity: bool) -> tuple[np.ndarray, np.ndarray]:
        if activity:
            p = people.weight / people.weight.sum()
            who = rng.choice(n, size=count, p=p)
        else:
            who = rng.choice(buyers, size=count)
        day = np.minimum(
            people.first_day[who] + (rng.random(count) * 730).astype(np.int64), as_of_day + 30
        )
        return people.ids[who], day * _DAY + rng.integers(0, _DAY, count)

    referrer, referred_at = events(int(n * 0.05), activity=False)
    step(
        "customers_referral",
        ["referrer_id", "referred_name", "created_at"],
        lambda s: pa.table(
            {
                "referrer_id": pa.array(referrer[s]),
                "referred_name": _text_ids("Lead ", np.arange(s.start, s.stop), 1),
                "created_at": _timestamps(referred_at[s]),
            }
        ),
        referrer.size,
    )
    complainer, complained_at = events(int(n * 0.06), activity=True)
    severity = rng.choice(3, size=complainer.size, p=(0.6, 0.3, 0.1))
    step(
        "customers_complaint",
        ["customer_id", "severity", "description", "created_at"],
        lambda s: pa.table(
            {
                "customer_id": pa.array(complainer[s]),
                "severity": _choice(("low", "medium", "high"), severity[s]),
                "description": pa.array([""] * (s.stop - s.start)),
                "created_at": _timestamps(complained_at[s]),
            }
        ),
        complainer.size,
    )
    reviewer, reviewed_at = events(int(n * 0.4), activity=True)
    rating = rng.choice(5, size=reviewer.size, p=(0.05, 0.05, 0.15, 0.35, 0.40)) + 1
    step(
        "customers_productreview",
        ["customer_id", "rating", "text", "created_at"],
        lambda s: pa.table(
            {
                "customer_id": pa.array(reviewer[s]),
                "rating": pa.array(rating[s]),
                "text": pa.array([""] * (s.stop - s.start)),
                "created_at": _timestamps(reviewed_at[s]),
            }
        ),
        reviewer.size,
    )


def _overrides(
    rng: np.random.Generator,
    conn: psycopg.Connection,
    people: Population,
    step: Callable[[str, list[str], Callable[[slice], pa.Table], int], None],
) -> None:
    """Pin 0.2% of the customers to a grade by hand (runs keep scoring but never move them)."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT id FROM grading_grade ORDER BY rank")
        grades = np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)
    if grades.size == 0:
        return
    who = rng.choice(people.ids, size=max(1, people.ids.size // 500), replace=False)
    grade = grades[rng.integers(0, grades.size, who.size)]
    now = int(time.time())
    step(
        "grading_gradeoverride",
        ["customer_id", "grade_id", "source", "reason", "created_at", "end_reason"],
        lambda s: pa.table(
            {
                "customer_id": pa.array(who[s]),
                "grade_id": pa.array(grade[s]),
                "source": pa.array(["manual"] * (s.stop - s.start)),
                "reason": pa.array(["Bench: pinned by hand"] * (s.stop - s.start)),
                "created_at": _timestamps(np.full(s.stop - s.start, now)),
                "end_reason": pa.array([""] * (s.stop - s.start)),
            }
        ),
        who.size,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="libpq URL of a migrated, empty database")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=None, help="default: 10 per customer")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF)
    args = parser.parse_args()
    generate(
        args.dsn,
        customers=args.customers,
        orders=args.orders if args.orders is not None else 10 * args.customers,
        seed=args.seed,
        as_of=args.as_of,
        log=lambda line: print(line, flush=True),
    )


if __name__ == "__main__":
    main()
