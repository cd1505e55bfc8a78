"""The yardstick: a full grading run written by hand the fastest way we know, without Django.

    .venv/bin/python bench/baseline.py --dsn postgresql://tierhub@127.0.0.1:PORT/tierhub \
        --as-of 2026-10-01

Does the same work as `grading.services.runs.grading_run_execute` for an unsharded run and
writes the same rows: a run row, one snapshot per active customer, the grade changes (with
superseded proposals), one audit row per applied change, first grades, applied grade
changes and the counters of everyone else; with the same idempotence guards (conflict-
ignoring inserts, conditional updates that skip pinned customers). The maths is the pure
`grading.scoring` and `grading.policy` packages (already vectorised numpy); everything around
them is hand-written:

- extract, from the same data model as the engine (the customer facts,
  `customers.models.CustomerMonth`): one SELECT in which PostgreSQL joins the window's whole
  months' buckets and the other days' orders into one row per customer (`extract_facts`),
  while a second connection reads the customers' engagement counts; with `--from-orders`
  the window's orders instead, while the other connection reads each customer's first and
  last earlier order date (grouped in the database) and the customers (`extract`). Both
  fetch Arrow through `adbc-driver-postgresql` (binary COPY parsed in C++), money cast to
  integer cents and dates to day numbers in the SQL;
- write: one binary COPY of fixed-width columns (numpy structured array, no text formatting)
  into a temporary table, then INSERT ... SELECT / UPDATE ... FROM, in one transaction.

Prints one JSON line: phase seconds, total, peak RSS (ru_maxrss of this process) and counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import adbc_driver_postgresql.dbapi as adbc
import numpy as np
import pandas as pd
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grading import policy
from grading.scoring import (
    GradeRule,
    ScoringParams,
    customer_table,
    gap_cv_from_sums,
    score_facts,
    score_population,
)
from grading.scoring.compute import (
    CATEGORIES,
    FIRST_HALF_CENTS,
    FIRST_ORDER_DATE,
    FREQUENCY,
    GAP_CV,
    LAST_ORDER_DATE,
    MONETARY_CENTS,
    ORDER_COUNT_WINDOW,
    RECENCY_DAYS,
    SECOND_HALF_CENTS,
    TENURE_DAYS,
)

ADVISORY_NAMESPACE = (
    0x7469_6572  # the engine's: a baseline run and an engine run exclude each other
)
CHANGES = {  # action -> (direction, status)
    "assign": ("assign", "applied"),
    "upgrade": ("up", "applied"),
    "downgrade": ("down", "applied"),
    "propose_downgrade": ("down", "proposed"),
}
SNAPSHOT_INTS = (
    "frequency",
    "categories",
    "campaign_invitations",
    "campaign_joins",
    "referrals",
    "complaints",
    "reviews",
    "on_time_orders",
    "rated_orders",
    "growth_points",
    "r_score",
    "f_score",
    "m_score",
)
#: Not scoring inputs: the window's recorded profit in cents and its orders without one, read
#: from the orders (`window_profit`) for the reports and the what-if.
SNAPSHOT_BIGINTS = ("window_profit_cents", "unknown_profit")
SNAPSHOT_FLOATS = (
    "breadth",
    "stability",
    "growth",
    "industry_prior",
    "campaign_rate",
    "referral_score",
    "complaint_score",
    "on_time_rate",
    "review_score",
    "points_bonus",
    "historical",
    "potential",
    "cooperation",
    "composite",
)
SNAPSHOT_TEXTS = ("rfm_segment", "rfm_label", "lifecycle", "pyramid")
#: The order statuses that count (customers.models.Order.COUNTED_STATUSES), sorted.
COUNTED = ["completed", "paid"]
ENGAGEMENT = ("campaign_invitations", "campaign_joins", "referrals", "complaints", "reviews")
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)


def cents(value: Any) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


# ------------------------------------------------------------------------------ scheme


def load_scheme(conn: psycopg.Connection) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return the active scheme row and its ladder rows (with grade code and rank)."""
    cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
    scheme = cursor.execute(
        "SELECT * FROM grading_gradingscheme WHERE status = 'active'"
    ).fetchone()
    if scheme is None:
        raise SystemExit("no active scheme")
    ladder = cursor.execute(
        "SELECT g.code, g.rank, s.* FROM grading_schemegrade s"
        " JOIN grading_grade g ON g.id = s.grade_id WHERE s.scheme_id = %s",
        [scheme["id"]],
    ).fetchall()
    return scheme, ladder


def scoring_rules(
    scheme: dict[str, Any], ladder: list[dict[str, Any]]
) -> tuple[ScoringParams, tuple[GradeRule, ...], policy.Ladder]:
    """Turn the scheme row into the pure layers' parameters (as the engine's
    `grading.pipeline.rules.scheme_rules` does)."""
    params = ScoringParams(
        window_days=scheme["window_days"],
        rfm_method=scheme["rfm_method"],
        # Four values each; ScoringParams checks the length.
        r_thresholds=tuple(int(v) for v in scheme["r_thresholds"] or (30, 90, 180, 365)),  # type: ignore[arg-type]
        f_thresholds=tuple(int(v) for v in scheme["f_thresholds"] or (2, 4, 8, 16)),  # type: ignore[arg-type]
        m_thresholds_cents=tuple(  # type: ignore[arg-type]
            cents(v) for v in scheme["m_thresholds"] or ("1000", "5000", "20000", "100000")
        ),
        **{
            name: float(scheme[name])
            for name in (
                "weight_r",
                "weight_f",
                "weight_m",
                "weight_historical",
                "weight_potential",
                "weight_cooperation",
                "weight_breadth",
                "weight_stability",
                "weight_growth",
                "weight_industry",
                "weight_campaign",
                "weight_referral",
                "weight_complaint",
                "weight_on_time",
                "weight_review",
                "default_industry_prior",
                "points_rate",
                "points_cap",
            )
        },
        industry_priors={str(k): float(v) for k, v in (scheme["industry_priors"] or {}).items()},
        referral_cap=scheme["referral_cap"],
        review_cap=scheme["review_cap"],
        new_days=scheme["new_days"],
        dormant_days=scheme["dormant_days"],
        churn_days=scheme["churn_days"],
        growth_ratio=scheme["growth_ratio"],
        pyramid_cuts=(scheme["pyramid_top"], scheme["pyramid_large"], scheme["pyramid_medium"]),
        rfm_within_pyramid=scheme["rfm_within_pyramid"],
    )
    rules = tuple(
        GradeRule(
            code=r["code"],
            rank=r["rank"],
            min_score=float(r["min_score"]),
            min_frequency=r["min_frequency"],
            min_monetary_cents=cents(r["min_monetary"]),
        )
        for r in ladder
    )
    policies = policy.Ladder(
        policy.GradePolicy(
            code=r["code"],
            rank=r["rank"],
            min_score=float(r["min_score"]),
            hysteresis=float(r["hysteresis"]),
            cadence=r["cadence"],
            warn_after=r["warn_after"],
            downgrade_after=r["downgrade_after"],
            downgrade_needs_review=r["downgrade_needs_review"],
            min_frequency=r["min_frequency"],
            min_monetary_cents=cents(r["min_monetary"]),
        )
        for r in ladder
    )
    return params, rules, policies


# ----------------------------------------------------------------------------- extract


def fetch(conn: Any, sql: str) -> dict[str, np.ndarray]:
    """Run `sql` through ADBC and return its columns as numpy arrays (nulls as NaN/None)."""
    with conn.cursor() as cursor:
        cursor.execute(sql)
        table = cursor.fetch_arrow_table()
    return {name: table.column(name).to_numpy() for name in table.column_names}


def window_profit(
    adbc_conn: Any, scores: pd.DataFrame, *, as_of: dt.date, tz: ZoneInfo, window_days: int
) -> pd.DataFrame:
    """`scores` with each customer's window profit in cents and orders without a recorded
    profit (`SNAPSHOT_BIGINTS`; 0 without window orders), grouped from the window's orders."""
    end = dt.datetime.combine(as_of, dt.time.min, tzinfo=tz).isoformat()
    start = dt.datetime.combine(
        as_of - dt.timedelta(days=window_days), dt.time.min, tzinfo=tz
    ).isoformat()
    rows = fetch(
        adbc_conn,
        "SELECT customer_id, coalesce(sum((profit * 100)::bigint), 0)::bigint AS profit,"
        " (count(*) - count(profit))::bigint AS unknown FROM customers_order"
        f" WHERE status IN ('paid', 'completed') AND placed_at >= '{start}'"
        f" AND placed_at < '{end}' GROUP BY customer_id",
    )
    for name, column in zip(SNAPSHOT_BIGINTS, ("profit", "unknown"), strict=True):
        values = pd.Series(rows[column].astype(np.int64), index=rows["customer_id"])
        scores[name] = values.reindex(scores.index, fill_value=0).to_numpy(np.int64)
    return scores


def engagement_read(conn: Any, *, start: str, end: str) -> dict[str, np.ndarray]:
    """Each active customer's industry and window engagement counts, by customer id."""
    window = f"'{start}' AND '{end}'"

    def grouped(table: str, column: str) -> str:
        return (
            f"SELECT {column} AS customer_id, count(*) AS n FROM {table}"
            f" WHERE created_at >= {window.replace(' AND ', ' AND created_at < ', 1)}"
            " GROUP BY 1"
        )

    return fetch(
        conn,
        "SELECT c.id AS customer_id, c.industry,"
        " coalesce(i.invitations, 0) AS campaign_invitations,"
        " coalesce(i.joins, 0) AS campaign_joins, coalesce(r.n, 0) AS referrals,"
        " coalesce(k.n, 0) AS complaints, coalesce(v.n, 0) AS reviews"
        " FROM customers_customer c"
        " LEFT JOIN (SELECT customer_id, count(*) AS invitations,"
        f"   count(*) FILTER (WHERE joined_at < '{end}') AS joins"
        "   FROM customers_campaigninvitation"
        f"   WHERE invited_at >= {window.replace(' AND ', ' AND invited_at < ', 1)}"
        "   GROUP BY 1) i ON i.customer_id = c.id"
        f" LEFT JOIN ({grouped('customers_referral', 'referrer_id')}) r"
        "   ON r.customer_id = c.id"
        f" LEFT JOIN ({grouped('customers_complaint', 'customer_id')}) k"
        "   ON k.customer_id = c.id"
        f" LEFT JOIN ({grouped('customers_productreview', 'customer_id')}) v"
        "   ON v.customer_id = c.id"
        " WHERE c.is_active ORDER BY c.id",
    )


def engagement_facts_read(
    conn: Any, *, as_of: dt.date, tz: ZoneInfo, window_days: int
) -> dict[str, np.ndarray]:
    """`engagement_read` from the customer facts: the same counts, another read.

    The window's whole local months come from their engagement buckets
    (customers.models.CustomerEngagementMonth), the days before and after them from the
    tables' rows; a bucket counts its invitations joined at any time, so those of the whole
    months joined at or after the window's end are taken away again.
    """
    first = as_of - dt.timedelta(days=window_days)

    def following(month: dt.date) -> dt.date:
        return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)

    def midnight(day: dt.date) -> str:
        return "'" + dt.datetime.combine(day, dt.time.min, tzinfo=tz).isoformat() + "'"

    months: list[dt.date] = []
    month = first if first.day == 1 else following(first)
    while following(month) <= as_of:
        months.append(month)
        month = following(month)
    spans = [(first, months[0]), (following(months[-1]), as_of)] if months else [(first, as_of)]
    spans = [(low, high) for low, high in spans if low < high]
    end = midnight(as_of)

    def rows(table: str, customer: str, time: str, values: str) -> str:
        within = " OR ".join(
            f"({time} >= {midnight(low)} AND {time} < {midnight(high)})" for low, high in spans
        )
        return f"SELECT {customer}, {values} FROM {table} WHERE {within or 'false'}"

    in_months = "'{" + ",".join(m.isoformat() for m in months) + "}'::date[]"
    pieces = [
        "SELECT customer_id, invitations, joins, referrals, complaints, reviews"
        f" FROM customers_customerengagementmonth WHERE month = ANY({in_months})",
        rows(
            "customers_campaigninvitation",
            "customer_id",
            "invited_at",
            f"1, (joined_at < {end})::integer, 0, 0, 0",
        ),
        rows("customers_referral", "referrer_id", "created_at", "0, 0, 1, 0, 0"),
        rows("customers_complaint", "customer_id", "created_at", "0, 0, 0, 1, 0"),
        rows("customers_productreview", "customer_id", "created_at", "0, 0, 0, 0, 1"),
    ]
    if months:
        pieces.append(
            "SELECT customer_id, 0, -1, 0, 0, 0 FROM customers_campaigninvitation"
            f" WHERE joined_at >= {end} AND invited_at >= {midnight(months[0])}"
            f" AND invited_at < {midnight(following(months[-1]))}"
        )
    union = " UNION ALL ".join(f"({piece})" for piece in pieces)
    return fetch(
        conn,
        "SELECT c.id AS customer_id, c.industry,"
        " coalesce(e.invitations, 0) AS campaign_invitations,"
        " coalesce(e.joins, 0) AS campaign_joins, coalesce(e.referrals, 0) AS referrals,"
        " coalesce(e.complaints, 0) AS complaints, coalesce(e.reviews, 0) AS reviews"
        " FROM customers_customer c LEFT JOIN ("
        "   SELECT customer_id, sum(invitations)::bigint AS invitations,"
        "   sum(joins)::bigint AS joins, sum(referrals)::bigint AS referrals,"
        "   sum(complaints)::bigint AS complaints, sum(reviews)::bigint AS reviews"
        f"   FROM ({union}) x (customer_id, invitations, joins, referrals, complaints, reviews)"
        "   GROUP BY customer_id) e ON e.customer_id = c.id"
        " WHERE c.is_active ORDER BY c.id",
    )


def engagement(
    dsn: str, *, as_of: dt.date, tz: ZoneInfo, window_days: int
) -> dict[str, np.ndarray]:
    """`engagement_facts_read` of the window before `as_of`, on a connection of its own."""
    with adbc.connect(dsn) as conn:
        return engagement_facts_read(conn, as_of=as_of, tz=tz, window_days=window_days)


def extract(
    adbc_conn: Any, dsn: str, *, as_of: dt.date, tz: ZoneInfo, window_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the scoring frames: counted orders and active customers with engagement.

    Orders before the window matter only for each customer's first and last order date, so
    they are grouped in the database (two rows per customer); that and the customers are read
    on a second connection while this one fetches the window's orders.
    """
    end = dt.datetime.combine(as_of, dt.time.min, tzinfo=tz).isoformat()
    start = dt.datetime.combine(
        as_of - dt.timedelta(days=window_days), dt.time.min, tzinfo=tz
    ).isoformat()
    day = f"AT TIME ZONE '{tz.key}')::date - DATE '1970-01-01'"
    counted = "status IN ('paid', 'completed')"

    def side() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        with adbc.connect(dsn) as conn:
            earlier = fetch(
                conn,
                f"SELECT customer_id, (min(placed_at) {day} AS first, (max(placed_at) {day} AS last"
                f" FROM customers_order WHERE placed_at < '{start}' AND {counted}"
                " GROUP BY customer_id",
            )
            people = engagement_read(conn, start=start, end=end)
        return earlier, people

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(side)
        recent = fetch(
            adbc_conn,
            f"SELECT customer_id, (placed_at {day} AS day,"
            " ((amount - refunded_amount) * 100)::bigint AS net_cents,"
            " coalesce(category_id, -1) AS category_id,"
            " (CASE WHEN on_time IS NULL THEN -1 WHEN on_time THEN 1 ELSE 0 END)::smallint"
            f" AS on_time FROM customers_order WHERE placed_at >= '{start}'"
            f" AND placed_at < '{end}' AND {counted}",
        )
        earlier, people = pending.result()
    extra = earlier["customer_id"].size * 2
    orders = {
        "customer_id": np.concatenate([recent["customer_id"], earlier["customer_id"].repeat(2)]),
        "day": np.concatenate(
            [recent["day"], np.stack([earlier["first"], earlier["last"]], axis=1).ravel()]
        ),
        "net_cents": np.concatenate([recent["net_cents"], np.zeros(extra, dtype=np.int64)]),
        "category_id": np.concatenate([recent["category_id"], np.full(extra, -1, np.int64)]),
        "on_time": np.concatenate([recent["on_time"], np.full(extra, -1, np.int16)]),
    }
    ids = people["customer_id"]
    category = orders["category_id"]
    # On-time counts of the window from the order rows already in memory.
    as_of_day = (as_of - dt.date(1970, 1, 1)).days
    rated = (orders["day"] >= as_of_day - window_days) & (orders["on_time"] >= 0)
    owner = orders["customer_id"][rated]
    position = np.minimum(np.searchsorted(ids, owner), max(ids.size - 1, 0))
    known = ids[position] == owner if ids.size else np.zeros(owner.size, dtype=bool)
    rated_orders = np.bincount(position[known], minlength=ids.size)
    on_time_orders = np.bincount(
        position[known], weights=orders["on_time"][rated][known], minlength=ids.size
    ).astype(np.int64)
    order_frame = pd.DataFrame(
        {
            "customer_id": orders["customer_id"],
            "order_date": orders["day"].astype("datetime64[D]").astype("datetime64[s]"),
            "net_cents": orders["net_cents"],
            "category_id": pd.arrays.IntegerArray(category, category < 0),
        }
    )
    customer_frame = pd.DataFrame(
        {
            "customer_id": ids,
            "industry": pd.array(people["industry"], dtype="str"),
            **{
                name: people[name].astype(np.int64)
                for name in (
                    "campaign_invitations",
                    "campaign_joins",
                    "referrals",
                    "complaints",
                    "reviews",
                )
            },
            "on_time_orders": on_time_orders,
            "rated_orders": rated_orders.astype(np.int64),
            "growth_points": np.zeros(ids.size, dtype=np.int64),
        }
    )
    return order_frame, customer_frame


def facts_plan(
    as_of: dt.date, window_days: int
) -> tuple[list[dt.date], list[tuple[dt.date, dt.date]]]:
    """The window's months read from the customer facts, and the day spans read from orders.

    A month is read from its buckets when it lies wholly inside [start, as_of) and the
    halves' split does not cut it; every other day from the first of the start's month to
    as_of is read from the orders (those before the start give earlier first/last days).
    """
    start = as_of - dt.timedelta(days=window_days)
    mid = as_of - dt.timedelta(days=window_days // 2)

    def following(month: dt.date) -> dt.date:
        return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)

    months: list[dt.date] = []
    spans: list[tuple[dt.date, dt.date]] = []
    month = start.replace(day=1)
    while month < as_of:
        end = following(month)
        if start <= month and end <= as_of and not month < mid < end:
            months.append(month)
        elif spans and spans[-1][1] == month:
            spans[-1] = (spans[-1][0], min(end, as_of))
        else:
            spans.append((month, min(end, as_of)))
        month = end
    return months, spans


def extract_facts(
    adbc_conn: Any, dsn: str, *, as_of: dt.date, tz: ZoneInfo, window_days: int
) -> pd.DataFrame:
    """Return the scoring facts of every active customer from the customer facts.

    The same data model as the engine (customers.models.CustomerMonth, one bucket per
    customer and local month), read another way: PostgreSQL itself joins the window's whole
    months' buckets and the other days' orders into one row per customer (sums, first and
    last day, the squared gaps between consecutive pieces, distinct categories), while a
    second connection reads the customers' engagement counts. Refuses facts that are not
    complete or were built in another zone or with other statuses.
    """
    with psycopg.connect(dsn) as conn:
        state = conn.execute(
            "SELECT time_zone, statuses, complete FROM customers_factsstate WHERE id = 1"
        ).fetchone()
    if state is None or not state[2] or state[0] != tz.key or sorted(state[1]) != COUNTED:
        raise SystemExit(f"the customer facts are not usable ({state}): run facts_rebuild")
    start = as_of - dt.timedelta(days=window_days)
    mid = as_of - dt.timedelta(days=window_days // 2)
    months, spans = facts_plan(as_of, window_days)
    epoch = "DATE '1970-01-01'"
    start_day, mid_day = (start - dt.date(1970, 1, 1)).days, (mid - dt.date(1970, 1, 1)).days
    in_months = "month = ANY('{" + ",".join(m.isoformat() for m in months) + "}'::date[])"

    def midnight(day: dt.date) -> str:
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz).isoformat()

    placed = " OR ".join(
        f"(placed_at >= '{midnight(low)}' AND placed_at < '{midnight(high)}')"
        for low, high in spans
    )
    statuses = ", ".join(f"'{status}'" for status in COUNTED)
    sql = f"""
        WITH o AS MATERIALIZED (
            SELECT customer_id, order_no, category_id,
                (placed_at AT TIME ZONE '{tz.key}')::date - {epoch} AS day,
                ((amount - refunded_amount) * 100)::bigint AS net_cents, on_time
            FROM customers_order WHERE status IN ({statuses}) AND ({placed or "false"})
        ),
        pieces AS (
            SELECT customer_id, first_day - {epoch} AS first_day, last_day - {epoch} AS last_day,
                orders::bigint AS orders, net_cents, gap_squares, rated::bigint AS rated,
                on_time::bigint AS on_time, month >= DATE '{mid.isoformat()}' AS second
            FROM customers_customermonth WHERE {in_months}
            UNION ALL
            SELECT customer_id, day, day, 1, net_cents, 0, (on_time IS NOT NULL)::int,
                (on_time IS TRUE)::int, day >= {mid_day}
            FROM o WHERE day >= {start_day}
        ),
        gaps AS (
            SELECT *, first_day - lag(last_day)
                OVER (PARTITION BY customer_id ORDER BY first_day, last_day) AS gap
            FROM pieces
        ),
        w AS (
            SELECT customer_id, sum(orders)::bigint AS frequency,
                sum(net_cents)::bigint AS monetary,
                coalesce(sum(net_cents) FILTER (WHERE second), 0)::bigint AS second_half,
                min(first_day) AS first_day, max(last_day) AS last_day,
                (sum(gap_squares) + coalesce(sum(gap * gap), 0))::bigint AS squares,
                sum(rated)::bigint AS rated, sum(on_time)::bigint AS on_time
            FROM gaps GROUP BY customer_id
        ),
        e AS (
            SELECT customer_id, min(first_day) AS first_day, max(last_day) AS last_day FROM (
                SELECT customer_id, first_day - {epoch} AS first_day, last_day - {epoch} AS last_day
                FROM customers_customermonth WHERE month < DATE '{start.replace(day=1).isoformat()}'
                UNION ALL
                SELECT customer_id, day, day FROM o WHERE day < {start_day}
            ) x GROUP BY customer_id
        ),
        k AS (
            SELECT customer_id, count(DISTINCT category)::bigint AS categories FROM (
                SELECT customer_id, unnest(categories) AS category
                FROM customers_customermonth WHERE {in_months}
                UNION ALL
                SELECT customer_id, category_id FROM o
                WHERE day >= {start_day} AND category_id IS NOT NULL
                UNION ALL
                SELECT o.customer_id, l.category_id FROM o
                JOIN customers_salesline l ON l.document_no = o.order_no
                WHERE o.day >= {start_day} AND l.category_id IS NOT NULL
            ) x GROUP BY customer_id
        )
        SELECT c.id AS customer_id, coalesce(w.frequency, 0) AS frequency,
            coalesce(w.monetary, 0) AS monetary, coalesce(w.second_half, 0) AS second_half,
            coalesce(least(w.first_day, e.first_day), w.first_day, e.first_day) AS first_day,
            coalesce(greatest(w.last_day, e.last_day), w.last_day, e.last_day) AS last_day,
            coalesce(w.last_day - w.first_day, 0) AS span, coalesce(w.squares, 0) AS squares,
            coalesce(w.rated, 0) AS rated_orders, coalesce(w.on_time, 0) AS on_time_orders,
            coalesce(k.categories, 0) AS categories
        FROM customers_customer c
        LEFT JOIN w ON w.customer_id = c.id
        LEFT JOIN e ON e.customer_id = c.id
        LEFT JOIN k ON k.customer_id = c.id
        WHERE c.is_active ORDER BY c.id
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(engagement, dsn, as_of=as_of, tz=tz, window_days=window_days)
        facts = fetch(adbc_conn, sql)
        people = pending.result()
    ids = facts["customer_id"]
    if not np.array_equal(ids, people["customer_id"]):
        raise SystemExit("the active customers changed between the two reads")
    table = customer_table(
        pd.DataFrame(
            {
                "customer_id": ids,
                "industry": pd.array(people["industry"], dtype="str"),
                **{name: people[name].astype(np.int64) for name in ENGAGEMENT},
                "on_time_orders": facts["on_time_orders"].astype(np.int64),
                "rated_orders": facts["rated_orders"].astype(np.int64),
                "growth_points": np.zeros(ids.size, dtype=np.int64),
            }
        )
    )
    as_of_day = (as_of - dt.date(1970, 1, 1)).days
    frequency = facts["frequency"].astype(np.int64)
    monetary = facts["monetary"].astype(np.int64)
    second_half = facts["second_half"].astype(np.int64)
    ever = ~pd.isna(facts["first_day"])
    first = np.where(ever, np.nan_to_num(facts["first_day"].astype(np.float64)), 0).astype(np.int64)
    last = np.where(ever, np.nan_to_num(facts["last_day"].astype(np.float64)), 0).astype(np.int64)

    def dates(days: np.ndarray) -> np.ndarray:
        values = days.astype("datetime64[D]").astype("datetime64[s]")
        values[~ever] = np.datetime64("NaT", "s")
        return values

    frame = pd.DataFrame(
        {
            FIRST_ORDER_DATE: dates(first),
            LAST_ORDER_DATE: dates(last),
            RECENCY_DAYS: pd.arrays.IntegerArray(as_of_day - last, ~ever),
            FREQUENCY: frequency,
            MONETARY_CENTS: monetary,
            CATEGORIES: facts["categories"].astype(np.int64),
            FIRST_HALF_CENTS: monetary - second_half,
            SECOND_HALF_CENTS: second_half,
            GAP_CV: gap_cv_from_sums(
                np.maximum(frequency - 1, 0),
                facts["span"].astype(np.int64),
                facts["squares"].astype(np.int64),
            ),
            ORDER_COUNT_WINDOW: frequency.copy(),
            TENURE_DAYS: pd.arrays.IntegerArray(as_of_day - first, ~ever),
        },
        index=table.index,
    )
    return pd.concat([frame, table], axis=1)


def extract_state(
    adbc_conn: Any, conn: psycopg.Connection, *, as_of: dt.date, ids: pd.Index
) -> pd.DataFrame:
    """Return the policy state of each scored customer (grades, counters, pins, proposals)."""
    grades: dict[int, str] = dict(conn.execute("SELECT id, code FROM grading_grade").fetchall())
    states = fetch(
        adbc_conn, "SELECT customer_id, grade_id, periods_under FROM grading_customergrade"
    )
    state = pd.DataFrame(index=ids)
    if states["customer_id"].size:
        pks, inverse = np.unique(states["grade_id"], return_inverse=True)
        codes = np.array([grades[int(pk)] for pk in pks], dtype=np.object_)[inverse]
        current = pd.DataFrame(
            {
                "current_grade": pd.array(codes, dtype="str"),
                "periods_under": states["periods_under"],
            },
            index=pd.Index(states["customer_id"]),
        )
        state = state.join(current)
    else:
        state["current_grade"] = pd.Series(np.nan, index=ids, dtype="str")
        state["periods_under"] = 0
    pins = conn.execute(
        "SELECT customer_id, grade_id, source FROM grading_gradeoverride"
        " WHERE ended_at IS NULL AND (expires_on IS NULL OR expires_on >= %s)",
        [as_of],
    ).fetchall()
    manual = {c: grades[g] for c, g, source in pins if source == "manual"}
    appeal = {c: grades[g] for c, g, source in pins if source == "appeal"}
    state["override_grade"] = pd.Series(manual, dtype="str").reindex(ids)
    state["locked_grade"] = pd.Series(appeal, dtype="str").reindex(ids)
    pending = [
        row[0]
        for row in conn.execute(
            "SELECT customer_id FROM grading_gradechange WHERE status = 'proposed'"
        ).fetchall()
    ]
    state["pending_downgrade"] = ids.isin(pending)
    state["periods_under"] = state["periods_under"].fillna(0).astype(np.int64)
    return state


# ------------------------------------------------------------------------------- write


def copy_binary(
    cursor: psycopg.Cursor, table: str, columns: list[tuple[str, str, np.ndarray]]
) -> None:
    """COPY aligned fixed-width arrays (name, numpy kind, values) into `table` in binary."""
    fields: list[tuple[str, str]] = [("n", ">i2")]
    for index, (name, kind, _) in enumerate(columns):
        fields += [(f"s{index}", ">i4"), (name, ">" + kind)]
    layout = np.dtype(fields)
    rows = columns[0][2].size
    step = (32 << 20) // layout.itemsize
    names = ", ".join(name for name, _, _ in columns)
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(SIGNATURE)
        for start in range(0, rows, step):
            block = np.empty(min(step, rows - start), dtype=layout)
            block["n"] = len(columns)
            for index, (name, kind, values) in enumerate(columns):
                block[f"s{index}"] = np.dtype(kind).itemsize
                block[name] = values[start : start + step]
            copy.write(block.tobytes())
        copy.write(b"\xff\xff")


#: The snapshot's SQL types as `pgcopy.CopyColumn` kinds (read from the catalog, not the model).
COPY_KINDS = {
    "smallint": "int2",
    "integer": "int4",
    "bigint": "int8",
    "double precision": "float8",
    "numeric": "numeric",
    "character varying": "text",
}


def snapshots_copy(
    cursor: psycopg.Cursor,
    target: str,
    *,
    run_id: int,
    keys: list[tuple[str, str, np.ndarray]],
    snapshot: list[tuple[str, str, np.ndarray]],
    labels: dict[str, list[str]],
) -> int:
    """COPY the run's snapshots into its new partition `target` (binary, NULLs, text and
    numeric money: `grading.pipeline.pgcopy.copy_rows_stream`); return the rows."""
    from grading.pipeline.pgcopy import CopyColumn, copy_rows_stream

    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = 'grading_scoresnapshot'"
    )
    kinds = {name: COPY_KINDS[sql_type] for name, sql_type in cursor.fetchall()}
    arrays = {name: values for name, _, values in keys + snapshot}
    rows = len(arrays["customer_id"])
    columns = [
        CopyColumn("run_id", "int8", np.full(rows, run_id, dtype=np.int64)),
        CopyColumn("customer_id", "int8", arrays["customer_id"]),
        CopyColumn(
            "recency_days",
            kinds["recency_days"],
            arrays["recency_days"],
            null=arrays["recency_days"] == -1,
        ),
        *(
            CopyColumn(column, "numeric", arrays[name], scale=2)
            for column, name in (
                ("monetary", "monetary"),
                ("first_half_amount", "first_half"),
                ("second_half_amount", "second_half"),
            )
        ),
        CopyColumn("gap_cv", "float8", arrays["gap_cv"], null=np.isnan(arrays["gap_cv"])),
        *(
            CopyColumn(name, kinds[name], arrays[name])
            for name in (*SNAPSHOT_INTS, *SNAPSHOT_BIGINTS, *SNAPSHOT_FLOATS)
        ),
        *(CopyColumn(name, "text", arrays[name], labels=labels[name]) for name in SNAPSHOT_TEXTS),
        CopyColumn("computed_grade_id", "int8", arrays["computed"]),
        CopyColumn("grade_before_id", "int8", arrays["before"], null=arrays["before"] == -1),
        CopyColumn("grade_after_id", "int8", arrays["after"]),
        CopyColumn("action", "text", arrays["action"], labels=labels["action"]),
        CopyColumn("rule", "text", arrays["rule"], labels=labels["rule"]),
        CopyColumn("periods_under", kinds["periods_under"], arrays["periods_under"]),
    ]
    names = ", ".join(column.name for column in columns)
    with cursor.copy(f"COPY {target} ({names}) FROM STDIN (FORMAT binary)") as copy:
        for data in copy_rows_stream(columns):
            copy.write(data)
    return rows


def case(column: str, labels: list[str]) -> str:
    """SQL mapping a 1-based code column to its label (labels are our own identifiers)."""
    if not labels:
        return "NULL"
    quoted = ", ".join("'" + str(v).replace("'", "''") + "'" for v in labels)
    return f"(ARRAY[{quoted}]::text[])[{column}]"


def write(
    conn: psycopg.Connection,
    *,
    run: dict[str, Any],
    scores: pd.DataFrame,
    decisions: pd.DataFrame,
    grade_ids: dict[str, int],
    now: dt.datetime,
) -> int:
    """Write the run's rows in the open transaction; return the snapshots inserted."""
    labels: dict[str, list[str]] = {}

    def codes(name: str, series: pd.Series) -> np.ndarray:
        values, uniques = pd.factorize(series)
        labels[name] = [str(u) for u in uniques]
        return (values + 1).astype(np.int16)

    def pks(series: pd.Series) -> np.ndarray:
        values, uniques = pd.factorize(series)
        return np.array([grade_ids.get(str(u), -1) for u in uniques] + [-1], dtype=np.int64)[values]

    computed = pks(scores["grade"].astype("str"))
    after = pks(decisions["new_grade"])
    keys: list[tuple[str, str, np.ndarray]] = [
        ("customer_id", "i8", scores.index.to_numpy(np.int64)),
        ("computed", "i8", computed),
        ("before", "i8", pks(decisions["old_grade"])),
        ("after", "i8", np.where(after < 0, computed, after)),
        ("target", "i8", pks(decisions["target_grade"])),
        ("action", "i2", codes("action", decisions["action"])),
        ("rule", "i2", codes("rule", decisions["rule"])),
        ("periods_under", "i4", decisions["periods_under"].to_numpy(np.int32)),
    ]
    snapshot: list[tuple[str, str, np.ndarray]] = [
        ("recency_days", "i4", scores["recency_days"].to_numpy(np.int32, na_value=-1)),
        ("monetary", "i8", scores["monetary_cents"].to_numpy(np.int64)),
        ("first_half", "i8", scores["first_half_cents"].to_numpy(np.int64)),
        ("second_half", "i8", scores["second_half_cents"].to_numpy(np.int64)),
        ("gap_cv", "f8", scores["gap_cv"].to_numpy(np.float64, na_value=np.nan)),
        *((name, "i4", scores[name].to_numpy(np.int32)) for name in SNAPSHOT_INTS),
        *((name, "i8", scores[name].to_numpy(np.int64)) for name in SNAPSHOT_BIGINTS),
        *((name, "f8", scores[name].to_numpy(np.float64)) for name in SNAPSHOT_FLOATS),
        *((name, "i2", codes(name, scores[name])) for name in SNAPSHOT_TEXTS),
    ]
    sql_types = {"i2": "smallint", "i4": "integer", "i8": "bigint", "f8": "double precision"}
    actions = labels["action"]

    def action_in(*wanted: str, negate: bool = False) -> str:
        found = [str(i) for i, a in enumerate(actions, 1) if a in wanted]
        if not found:
            return "TRUE" if negate else "FALSE"
        return f"l.action {'NOT IN' if negate else 'IN'} ({', '.join(found)})"

    run_id = run["id"]
    reason = run["reason"]
    with conn.cursor() as cursor:
        # The engine's snapshot write (grading.pipeline.partitions): a run with no partition
        # yet loads a table of its own, unindexed, then indexes and attaches it; the rows are
        # copied straight into it, and only the keys the statements read go into the load table.
        target, fresh = "grading_scoresnapshot", False
        cursor.execute(
            "SELECT relkind = 'p', to_regclass(%s) IS NULL FROM pg_class"
            " WHERE oid = 'grading_scoresnapshot'::regclass",
            [f"grading_scoresnapshot_r{int(run_id)}"],
        )
        partitioned, missing = cursor.fetchone() or (False, False)
        if partitioned and missing:
            target, fresh = f"grading_scoresnapshot_r{int(run_id)}", True
            cursor.execute(
                f"CREATE TABLE {target} (LIKE grading_scoresnapshot INCLUDING DEFAULTS,"
                f" CONSTRAINT {target}_run CHECK (run_id IS NOT NULL AND run_id = {int(run_id)}))"
            )
        columns = keys if fresh else keys + snapshot
        cursor.execute(
            "CREATE TEMPORARY TABLE load ("
            + ", ".join(f"{name} {sql_types[kind]}" for name, kind, _ in columns)
            + ") ON COMMIT DROP"
        )
        copy_binary(cursor, "load", columns)
        cursor.execute("ANALYZE load (customer_id, action)")
        # The history tables' customer check, once: lock the customers (FOR KEY SHARE, as a
        # foreign-key check would) and drop any deleted since the extract.
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM customers_customer c"
            " WHERE c.id IN (SELECT customer_id FROM load) FOR KEY SHARE OF c) held"
        )
        (held,) = cursor.fetchone() or (0,)
        if held != len(scores):
            cursor.execute(
                "DELETE FROM load l WHERE NOT EXISTS"
                " (SELECT 1 FROM customers_customer c WHERE c.id = l.customer_id)"
            )
        if fresh:
            snapshots = snapshots_copy(
                cursor, target, run_id=run_id, keys=keys, snapshot=snapshot, labels=labels
            )
            if held != len(scores):
                cursor.execute(
                    f"DELETE FROM {target} t WHERE NOT EXISTS"
                    " (SELECT 1 FROM load l WHERE l.customer_id = t.customer_id)"
                )
                snapshots -= cursor.rowcount
        else:
            cursor.execute(
                f"INSERT INTO {target} (run_id, customer_id, recency_days, monetary,"
                " first_half_amount, second_half_amount, gap_cv, "
                + ", ".join((*SNAPSHOT_INTS, *SNAPSHOT_BIGINTS, *SNAPSHOT_FLOATS, *SNAPSHOT_TEXTS))
                + ", computed_grade_id, grade_before_id, grade_after_id, action, rule,"
                " periods_under)"
                " SELECT %s, customer_id, NULLIF(recency_days, -1), monetary / 100.0,"
                " first_half / 100.0, second_half / 100.0, NULLIF(gap_cv, 'NaN'), "
                + ", ".join((*SNAPSHOT_INTS, *SNAPSHOT_BIGINTS, *SNAPSHOT_FLOATS))
                + ", "
                + ", ".join(case(name, labels[name]) for name in SNAPSHOT_TEXTS)
                + f", computed, NULLIF(before, -1), after, {case('action', actions)},"
                f" {case('rule', labels['rule'])}, periods_under FROM load"
                + " ON CONFLICT DO NOTHING",
                [run_id],
            )
            snapshots = cursor.rowcount
        if fresh:
            cursor.execute(f"ALTER TABLE {target} ADD PRIMARY KEY (id, run_id)")
            cursor.execute(f"ALTER TABLE {target} ADD UNIQUE (run_id, customer_id)")
            cursor.execute(f"CREATE INDEX ON {target} (customer_id, run_id)")
            cursor.execute(
                f"ALTER TABLE grading_scoresnapshot ATTACH PARTITION {target}"
                f" FOR VALUES IN ({int(run_id)})"
            )
            cursor.execute(f"ALTER TABLE {target} DROP CONSTRAINT {target}_run")
        cursor.execute(
            "UPDATE grading_gradechange SET status = 'superseded', decided_at = %s,"
            " decision_note = 'Superseded by an upgrade in a later run.'"
            " WHERE status = 'proposed' AND customer_id IN"
            f" (SELECT customer_id FROM load l WHERE {action_in('upgrade')})",
            [now],
        )
        direction = case("action", [CHANGES.get(a, ("", ""))[0] for a in actions])
        status = case("action", [CHANGES.get(a, ("", ""))[1] for a in actions])
        cursor.execute(
            "WITH inserted AS (INSERT INTO grading_gradechange (customer_id, run_id, from_grade_id,"
            " to_grade_id, direction, status, source, rule, reason, created_at, decision_note)"
            f" SELECT customer_id, %s, NULLIF(before, -1), target, {direction}, {status}, 'run',"
            f" {case('rule', labels['rule'])}, %s, %s, '' FROM load l"
            f" WHERE {action_in(*CHANGES)} ON CONFLICT DO NOTHING"
            " RETURNING id, customer_id, from_grade_id, to_grade_id, reason, status)"
            " INSERT INTO grading_gradeauditentry (customer_id, old_grade_id, new_grade_id, source,"
            " reason, actor_id, run_id, change_id, created_at)"
            " SELECT customer_id, from_grade_id, to_grade_id, 'run', reason, NULL, %s, id, %s"
            " FROM inserted WHERE status = 'applied'",
            [run_id, reason, now, run_id, now],
        )
        cursor.execute(
            "INSERT INTO grading_customergrade (customer_id, grade_id, since, periods_under,"
            " last_run_id, updated_at, pinned)"
            f" SELECT customer_id, target, %s, 0, %s, %s, FALSE FROM load l"
            f" WHERE {action_in('assign')}"
            " ON CONFLICT DO NOTHING",
            [now, run_id, now],
        )
        cursor.execute(
            "UPDATE grading_customergrade g SET grade_id = l.target, since = %s, periods_under = 0,"
            " last_run_id = %s, updated_at = %s FROM load l"
            f" WHERE g.customer_id = l.customer_id AND {action_in('upgrade', 'downgrade')}"
            " AND g.grade_id = l.before AND NOT EXISTS (SELECT 1 FROM grading_gradeoverride o"
            " WHERE o.customer_id = l.customer_id AND o.ended_at IS NULL)",
            [now, run_id, now],
        )
        cursor.execute(
            "UPDATE grading_customergrade g SET periods_under = l.periods_under, last_run_id = %s"
            " FROM load l WHERE g.customer_id = l.customer_id"
            f" AND {action_in('assign', 'upgrade', 'downgrade', negate=True)}"
            " AND g.periods_under <> l.periods_under",
            [run_id],
        )
    return snapshots


# --------------------------------------------------------------------------------- run


def run_once(
    dsn: str, *, as_of: dt.date, tz: ZoneInfo, from_orders: bool = False
) -> dict[str, Any]:
    """Grade every active customer at `as_of`; return phase seconds and counts.

    The facts come from the customer facts (`extract_facts`), or with `from_orders` from
    the window's orders (`extract`).
    """
    started = time.perf_counter()
    phases: dict[str, float] = {}
    clock = started

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = round(now - clock, 3)
        clock = now

    with psycopg.connect(dsn, autocommit=True) as conn, adbc.connect(dsn) as adbc_conn:
        scheme, ladder = load_scheme(conn)
        params, rules, policies = scoring_rules(scheme, ladder)
        grade_ids = {r["code"]: r["grade_id"] for r in ladder}
        now = dt.datetime.now(dt.UTC)
        conn.execute(
            "INSERT INTO grading_gradingrun (scheme_id, as_of, status, triggered_by, started_at,"
            " shards, phase_seconds, population_cuts, scored, assigned, upgraded, warned,"
            " downgrade_proposals, downgraded, unchanged, pinned, error, phase, progress_done,"
            " progress_total, snapshots_archive, snapshots_archived_rows, snapshots_archived_by)"
            " VALUES (%s, %s, 'running', 'baseline', %s, 1, '{}', '{}', 0, 0, 0, 0, 0, 0, 0, 0, '',"
            " '', 0, 0, '', 0, '')"
            " ON CONFLICT (scheme_id, as_of) DO NOTHING",
            [scheme["id"], as_of, now],
        )
        row = conn.execute(
            "SELECT id, status FROM grading_gradingrun WHERE scheme_id = %s AND as_of = %s",
            [scheme["id"], as_of],
        ).fetchone()
        assert row is not None  # inserted just above, or there already
        run_id, status = row
        if status == "succeeded":
            raise SystemExit(f"run {run_id} already succeeded")
        (locked,) = conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_NAMESPACE, run_id]
        ).fetchone() or (False,)
        if not locked:
            raise SystemExit(f"run {run_id} is held by another process")
        lap("setup")

        if from_orders:
            orders, customers = extract(
                adbc_conn, dsn, as_of=as_of, tz=tz, window_days=params.window_days
            )
            lap("extract")
            scores = score_population(orders, customers, as_of=as_of, params=params, ladder=rules)
            del orders, customers
        else:
            facts = extract_facts(
                adbc_conn, dsn, as_of=as_of, tz=tz, window_days=params.window_days
            )
            lap("extract")
            scores = score_facts(facts, params=params, ladder=rules)
            del facts
        scores = window_profit(
            adbc_conn, scores, as_of=as_of, tz=tz, window_days=params.window_days
        )
        lap("score")
        state = extract_state(adbc_conn, conn, as_of=as_of, ids=scores.index)
        frame = state.copy()
        frame["computed_grade"] = scores["grade"].astype("str")
        frame["composite"] = scores["composite"].astype("float64")
        frame["frequency"] = scores["frequency"]
        frame["monetary_cents"] = scores["monetary_cents"]
        decisions = policy.decide(
            frame, ladder=policies, context=policy.RunContext.for_as_of(as_of)
        )
        lap("decide")

        # A run's change stores no prose: its reason is written from the run when shown, in
        # the reader's language (GradeChange.reason_text), as the engine's write step does.
        reason = ""
        with conn.transaction():
            # Foreign keys checked per statement: ~3x cheaper than queued until the commit.
            # BENCH_FK=deferred keeps Django's default; BENCH_FK=off skips them (superuser
            # only, a diagnostic of what the checks cost, never a valid run).
            fk_mode = os.environ.get("BENCH_FK", "immediate")
            if fk_mode == "immediate":
                conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
            elif fk_mode == "off":
                conn.execute("SET LOCAL session_replication_role = replica")
            snapshots = write(
                conn,
                run={"id": run_id, "reason": reason},
                scores=scores,
                decisions=decisions,
                grade_ids=grade_ids,
                now=now,
            )
            counts = decisions["action"].value_counts().to_dict()
            counted = {
                "assigned": counts.get("assign", 0),
                "upgraded": counts.get("upgrade", 0),
                "warned": counts.get("warn", 0),
                "downgrade_proposals": counts.get("propose_downgrade", 0),
                "downgraded": counts.get("downgrade", 0),
                "pinned": counts.get("pinned", 0) + counts.get("locked", 0),
            }
            counted = {k: int(v) for k, v in counted.items()}
            counted["unchanged"] = len(decisions) - sum(counted.values())
            conn.execute(
                "UPDATE grading_gradingrun SET status = 'succeeded', finished_at = now(),"
                " scored = %s, " + ", ".join(f"{name} = %s" for name in counted) + " WHERE id = %s",
                [snapshots, *counted.values(), run_id],
            )
            lap("write")
        lap("commit")
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_NAMESPACE, run_id])
    total = time.perf_counter() - started
    return {
        "pipeline": "baseline-orders" if from_orders else "baseline",
        "as_of": as_of.isoformat(),
        "phases": phases,
        "total": round(total, 3),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "hwm_mb": vm_hwm_mb(),
        "counts": {"scored": snapshots, **counted},
    }


def vm_hwm_mb() -> float | None:
    """Peak RSS from /proc (VmHWM), a cross-check of ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--time-zone", default="Asia/Shanghai", help="the project's TIME_ZONE")
    parser.add_argument(
        "--from-orders", action="store_true", help="read the window's orders, not the facts"
    )
    args = parser.parse_args()
    result = run_once(
        args.dsn, as_of=args.as_of, tz=ZoneInfo(args.time_zone), from_orders=args.from_orders
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
