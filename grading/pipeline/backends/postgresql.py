"""The pipeline on PostgreSQL: binary COPY in and out, set-based statements that say so.

Reads stream with binary COPY into numpy (`grading.pipeline.pgcopy`), the earlier orders'
dates and the customers on a second connection when outside a transaction; the write's load
table is one binary COPY; conflicts are skipped with ON CONFLICT DO NOTHING, and the rows a
statement wrote come back with RETURNING into the statement that marks them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection

from common.dates import local_midnight, month_after
from customers.facts import (
    ENGAGEMENT,
    ENGAGEMENT_COLUMNS,
    ENGAGEMENT_SOURCES,
    facts_unusable_reason,
    whole_months,
)
from customers.models import Customer
from grading.models import Grade, GradeChange
from grading.pipeline import pgcopy
from grading.pipeline.frames import (
    UNKNOWN_PROFIT,
    WINDOW_PROFIT_CENTS,
    empty_orders,
    in_id_range,
)
from grading.pipeline.tables import (
    AUDIT,
    CHANGES,
    COMPLAINTS,
    CUSTOMERS,
    GRADE_STATES,
    INVITATIONS,
    MONTHS,
    ORDERS,
    POINTS,
    REFERRALS,
    REVIEWS,
    SALES_LINES,
)

# ----------------------------------------------------------------------------------- read


def read_period(
    start: dt.datetime, end: dt.datetime, statuses: list[str], id_range: tuple[int, int] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the period's `(orders, customers)` frames (see `extract.extract_period`).

    Scoring reads an order placed before the window only for the customer's first and last
    order dates, so those orders are not read one by one: the window's orders stream out with
    binary COPY (integer cents computed in SQL, the local day here), and each customer with
    older orders adds two rows dated on their first and last counted order before the window,
    with no amount, category or on-time flag. Every score is the same as from the full
    history.

    Outside a transaction, the earlier orders' dates and the customers are read on a second
    connection while this one streams the window's orders, so the server scans overlap.
    Inside a transaction (whose uncommitted rows another connection cannot see) everything is
    read here, one statement after the other.
    """
    if connection.in_atomic_block:
        earlier, customers = _earlier_and_customers(start, end, statuses, id_range)
        window = _window_orders(start, end, statuses, id_range)
        lines = _line_categories(start, end, statuses, id_range)
        return _orders_frame(window, earlier, lines), customers
    with ThreadPoolExecutor(max_workers=1) as pool:
        side = pool.submit(
            _on_own_connection, _earlier_and_customers, start, end, statuses, id_range
        )
        window = _window_orders(start, end, statuses, id_range)
        lines = _line_categories(start, end, statuses, id_range)
        earlier, customers = side.result()
    return _orders_frame(window, earlier, lines), customers


def _on_own_connection(function: Callable[..., Any], *args: Any) -> Any:
    """Call `function` in a worker thread, on (and then closing) that thread's connection."""
    try:
        return function(*args)
    finally:
        connection.close()


def _range_sql(column: str, id_range: tuple[int, int] | None) -> tuple[str, list[Any]]:
    if id_range is None:
        return "", []
    return f" AND {column} >= %s AND {column} < %s", list(id_range)


#: PostgreSQL's binary timestamps count microseconds from 2000-01-01 UTC.
_PG_EPOCH_US = 946_684_800_000_000


def _local_days(instants: np.ndarray) -> np.ndarray:
    """Local day numbers (days since 1970-01-01 in the project time zone) of binary timestamps.

    Converted here, vectorised, rather than `AT TIME ZONE` on the server for each of millions
    of orders: the server is the bottleneck of the extract, this takes about 0.3 s per 5M.
    """
    utc = pd.DatetimeIndex((instants + _PG_EPOCH_US).view("datetime64[us]"), tz="UTC")
    local = utc.tz_convert(settings.TIME_ZONE).tz_localize(None)
    return local.to_numpy().astype("datetime64[D]").astype(np.int32)


def _placed_in(column: str, spans: Sequence[tuple[dt.datetime, dt.datetime]]) -> tuple[str, list]:
    """SQL keeping `column` in any of the half-open `spans` (FALSE for none), its parameters."""
    if not spans:
        return "FALSE", []
    sql = " OR ".join(f"({column} >= %s AND {column} < %s)" for _ in spans)
    return f"({sql})", [instant for span in spans for instant in span]


def _window_orders(
    start: dt.datetime,
    end: dt.datetime,
    statuses: list[str],
    id_range: tuple[int, int] | None,
    *,
    spans: Sequence[tuple[dt.datetime, dt.datetime]] | None = None,
) -> dict[str, np.ndarray]:
    """The window's counted orders: customer, local day (days since 1970), cents, category,
    on time, profit cents and whether it is unknown (or those placed in any of `spans`
    instead). Profit as `extract.window_money_sql` counts it."""
    o = ORDERS.c
    range_sql, range_params = _range_sql(o.customer, id_range)
    placed_sql, placed_params = _placed_in(o.placed_at, [(start, end)] if spans is None else spans)
    rows = pgcopy.copy_out(
        f"SELECT {o.customer}, {o.placed_at}, (({o.amount} - {o.refunded_amount}) * 100)::bigint,"
        f" coalesce({o.category}, -1),"
        f" (CASE WHEN {o.on_time} IS NULL THEN -1 WHEN {o.on_time} THEN 1 ELSE 0 END)::smallint,"
        f" coalesce(({o.profit} * 100)::bigint, 0), ({o.profit} IS NULL)::integer::smallint"
        f" FROM {ORDERS} WHERE {placed_sql}"
        f" AND {o.status} = ANY(%s)" + range_sql,
        [*placed_params, statuses, *range_params],
        [
            ("customer_id", "i8"),
            ("placed_at", "i8"),
            ("net_cents", "i8"),
            ("category", "i8"),
            ("on_time", "i2"),
            ("profit_cents", "i8"),
            ("unknown_profit", "i2"),
        ],
    )
    rows["day"] = _local_days(rows.pop("placed_at"))
    return rows


def _line_categories(
    start: dt.datetime,
    end: dt.datetime,
    statuses: list[str],
    id_range: tuple[int, int] | None,
    *,
    spans: Sequence[tuple[dt.datetime, dt.datetime]] | None = None,
) -> dict[str, np.ndarray]:
    """The categories of the window's counted orders' sales lines, once per customer (or of
    the orders placed in any of `spans` instead).

    Each (customer, category) pair comes once, dated on the first such order in the window
    (breadth counts distinct categories in the window, so any of its dates would do). Orders
    without lines add nothing: their own category is in the window's rows.
    """
    o, line = ORDERS.c, SALES_LINES.c
    range_sql, range_params = _range_sql(f"o.{o.customer}", id_range)
    placed_sql, placed_params = _placed_in(
        f"o.{o.placed_at}", [(start, end)] if spans is None else spans
    )
    rows = pgcopy.copy_out(
        f"SELECT o.{o.customer}, min(o.{o.placed_at}), l.{line.category}"
        f" FROM {ORDERS} o JOIN {SALES_LINES} l ON l.{line.document_no} = o.{o.order_no}"
        f" WHERE {placed_sql} AND o.{o.status} = ANY(%s)"
        f" AND l.{line.category} IS NOT NULL{range_sql}"
        f" GROUP BY o.{o.customer}, l.{line.category}",
        [*placed_params, statuses, *range_params],
        [("customer_id", "i8"), ("placed_at", "i8"), ("category", "i8")],
    )
    rows["day"] = _local_days(rows.pop("placed_at"))
    return rows


def _earlier_and_customers(
    start: dt.datetime, end: dt.datetime, statuses: list[str], id_range: tuple[int, int] | None
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Each customer's first and last counted order day before the window; the customers.

    The first and last instants are grouped, then converted to local days: the conversion
    never reorders instants, so these are the first and last local days.
    """
    o = ORDERS.c
    range_sql, range_params = _range_sql(o.customer, id_range)
    earlier = pgcopy.copy_out(
        f"SELECT {o.customer}, min({o.placed_at}), max({o.placed_at})"
        f" FROM {ORDERS} WHERE {o.placed_at} < %s AND {o.status} = ANY(%s)"
        f"{range_sql} GROUP BY {o.customer}",
        [start, statuses, *range_params],
        [("customer_id", "i8"), ("first", "i8"), ("last", "i8")],
    )
    earlier["first"] = _local_days(earlier["first"])
    earlier["last"] = _local_days(earlier["last"])
    return earlier, _customers(start, end, id_range)


def _orders_frame(
    window: dict[str, np.ndarray], earlier: dict[str, np.ndarray], lines: dict[str, np.ndarray]
) -> pd.DataFrame:
    """The `orders` frame: window rows, two rows per customer with earlier orders, then the
    window's line categories (`category_only`)."""
    customer_id = np.concatenate(
        [window["customer_id"], earlier["customer_id"].repeat(2), lines["customer_id"]]
    )
    if customer_id.size == 0:
        return empty_orders()
    extra = earlier["customer_id"].size * 2
    only = lines["customer_id"].size
    day = np.concatenate(
        [window["day"], np.stack([earlier["first"], earlier["last"]], axis=1).ravel(), lines["day"]]
    )
    category = np.concatenate(
        [window["category"], np.full(extra, -1, dtype=np.int64), lines["category"]]
    )
    return pd.DataFrame(
        {
            "customer_id": customer_id,
            "order_date": day.astype("datetime64[D]").astype("datetime64[s]"),
            "net_cents": np.concatenate(
                [window["net_cents"], np.zeros(extra + only, dtype=np.int64)]
            ),
            "category_id": pd.arrays.IntegerArray(category, category < 0),
            "on_time": np.concatenate(
                [window["on_time"].astype(np.int8), np.full(extra + only, -1, dtype=np.int8)]
            ),
            "category_only": np.concatenate(
                [np.zeros(window["customer_id"].size + extra, dtype=bool), np.ones(only, bool)]
            ),
        }
    )


# ------------------------------------------------------------------ read: customer facts


def facts_unusable() -> str | None:
    """Why a run cannot read the customer facts now (None when it can; `customers.facts`)."""
    return facts_unusable_reason()


def facts_plan(
    as_of: dt.date, window_days: int
) -> tuple[list[dt.date], list[tuple[dt.date, dt.date]], dt.date]:
    """What the facts read takes from buckets and what from orders, in local days.

    Returns the months whose buckets cover window days (wholly inside [start, as_of) and not
    cut by the halves' split), the half-open day spans read from the orders (the rest of the
    window, and the days of the start's month before the start), and the first month whose
    buckets are not read for the earlier first/last order days.
    """
    start = as_of - dt.timedelta(days=window_days)
    mid = as_of - dt.timedelta(days=window_days // 2)
    months: list[dt.date] = []
    month = start if start.day == 1 else month_after(start)
    while month_after(month) <= as_of:
        if not month < mid < month_after(month):
            months.append(month)
        month = month_after(month)
    spans: list[tuple[dt.date, dt.date]] = []
    cursor = start.replace(day=1)
    for month in months:
        if cursor < month:
            spans.append((cursor, month))
        cursor = month_after(month)
    if cursor < as_of:
        spans.append((cursor, as_of))
    return months, spans, start.replace(day=1)


def read_facts(
    as_of: dt.date, window_days: int, statuses: list[str], id_range: tuple[int, int] | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return `(segments, earlier, categories, customers)` for `scoring.facts_from_segments`;
    `customers` also has the window's profit columns (`WINDOW_PROFIT_CENTS`, `UNKNOWN_PROFIT`).

    The window's whole months come from their buckets (`customers.models.CustomerMonth`),
    the other window days from the orders as `read_period` reads them, one segment per
    order; the earlier first and last order days from the buckets of the months before the
    window's first month and the orders of that month before the window. Outside a
    transaction, the earlier days and the customers are read on a second connection.
    """
    start = as_of - dt.timedelta(days=window_days)
    mid = as_of - dt.timedelta(days=window_days // 2)
    months, spans, before = facts_plan(as_of, window_days)
    instants = [(local_midnight(low), local_midnight(high)) for low, high in spans]
    window_spans = [
        (local_midnight(max(low, start)), local_midnight(high))
        for low, high in spans
        if high > start
    ]
    window = (local_midnight(start), local_midnight(as_of))

    def side() -> tuple[dict[str, np.ndarray], pd.DataFrame]:
        customers = _customers(*window, id_range, facts_window=(start, as_of))
        return _bucket_earlier(before, id_range), customers

    if connection.in_atomic_block:
        earlier, customers = side()
        buckets, bucket_categories = _buckets(months, id_range)
        raw = _window_orders(*window, statuses, id_range, spans=instants)
        lines = _line_categories(*window, statuses, id_range, spans=window_spans)
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(_on_own_connection, side)
            buckets, bucket_categories = _buckets(months, id_range)
            raw = _window_orders(*window, statuses, id_range, spans=instants)
            lines = _line_categories(*window, statuses, id_range, spans=window_spans)
            earlier, customers = pending.result()
    epoch = dt.date(1970, 1, 1)
    start_day, mid_day = (start - epoch).days, (mid - epoch).days
    raw_day = raw["day"].astype(np.int64)
    in_window = raw_day >= start_day
    one = np.ones(int(in_window.sum()), dtype=np.int64)
    segments = pd.DataFrame(
        {
            "customer_id": np.concatenate([buckets["customer_id"], raw["customer_id"][in_window]]),
            "first_day": np.concatenate([buckets["first_day"], raw_day[in_window]]),
            "last_day": np.concatenate([buckets["last_day"], raw_day[in_window]]),
            "orders": np.concatenate([buckets["orders"], one]),
            "net_cents": np.concatenate([buckets["net_cents"], raw["net_cents"][in_window]]),
            "gap_squares": np.concatenate([buckets["gap_squares"], one * 0]),
            "second_half": np.concatenate(
                [buckets["month"] >= mid_day, raw_day[in_window] >= mid_day]
            ),
        }
    )
    earlier_frame = pd.DataFrame(
        {
            "customer_id": np.concatenate([earlier["customer_id"], raw["customer_id"][~in_window]]),
            "first_day": np.concatenate([earlier["first_day"], raw_day[~in_window]]),
            "last_day": np.concatenate([earlier["last_day"], raw_day[~in_window]]),
        }
    )
    raw_category = raw["category"][in_window]
    categories = pd.DataFrame(
        {
            "customer_id": np.concatenate(
                [
                    bucket_categories["customer_id"],
                    raw["customer_id"][in_window][raw_category >= 0],
                    lines["customer_id"],
                ]
            ),
            "category_id": np.concatenate(
                [bucket_categories["category"], raw_category[raw_category >= 0], lines["category"]]
            ),
        }
    )
    # The on-time counts of the window, and its profit (`extract.window_profit`'s columns):
    # the buckets' and the raw orders'.
    rated = pd.DataFrame(
        {
            "customer_id": np.concatenate([buckets["customer_id"], raw["customer_id"][in_window]]),
            "rated_orders": np.concatenate(
                [buckets["rated"], (raw["on_time"][in_window] >= 0).astype(np.int64)]
            ),
            "on_time_orders": np.concatenate(
                [buckets["on_time"], (raw["on_time"][in_window] == 1).astype(np.int64)]
            ),
            WINDOW_PROFIT_CENTS: np.concatenate(
                [buckets["profit_cents"], raw["profit_cents"][in_window]]
            ),
            UNKNOWN_PROFIT: np.concatenate(
                [buckets["unknown_profit"], raw["unknown_profit"][in_window].astype(np.int64)]
            ),
        }
    )
    counts = rated.groupby("customer_id").sum()
    customers = customers.join(counts, how="left")
    for column in counts.columns:
        customers[column] = customers[column].fillna(0).astype("int64")
    return segments, earlier_frame, categories, customers.reset_index()


_EPOCH_SQL = "DATE '1970-01-01'"


_BUCKET_COLUMNS = (
    "customer_id",
    "month",
    "orders",
    "net_cents",
    "rated",
    "on_time",
    "first_day",
    "last_day",
    "gap_squares",
    "profit_cents",
    "unknown_profit",
)


def _buckets(
    months: list[dt.date], id_range: tuple[int, int] | None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The buckets of `months` (days since 1970, with their profit) and their categories,
    one row each."""
    f = MONTHS.c
    range_sql, range_params = _range_sql(f.customer, id_range)
    rows = pgcopy.copy_out(
        f"SELECT {f.customer}, ({f.month} - {_EPOCH_SQL})::bigint, {f.orders}::bigint,"
        f" {f.net_cents}, {f.rated}::bigint, {f.on_time}::bigint,"
        f" ({f.first_day} - {_EPOCH_SQL})::bigint, ({f.last_day} - {_EPOCH_SQL})::bigint,"
        f" {f.gap_squares}, {f.profit_cents}, {f.unknown_profit}::bigint"
        f" FROM {MONTHS} WHERE {f.month} = ANY(%s::date[])" + range_sql,
        [months, *range_params],
        [(name, "i8") for name in _BUCKET_COLUMNS],
    )
    categories = pgcopy.copy_out(
        f"SELECT {f.customer}, unnest({f.categories})::bigint FROM {MONTHS}"
        f" WHERE {f.month} = ANY(%s::date[])" + range_sql,
        [months, *range_params],
        [("customer_id", "i8"), ("category", "i8")],
    )
    return rows, categories


def _bucket_earlier(before: dt.date, id_range: tuple[int, int] | None) -> dict[str, np.ndarray]:
    """Each customer's first and last order day in the buckets of the months before `before`."""
    f = MONTHS.c
    range_sql, range_params = _range_sql(f.customer, id_range)
    return pgcopy.copy_out(
        f"SELECT {f.customer}, (min({f.first_day}) - {_EPOCH_SQL})::bigint,"
        f" (max({f.last_day}) - {_EPOCH_SQL})::bigint FROM {MONTHS}"
        f" WHERE {f.month} < %s{range_sql} GROUP BY {f.customer}",
        [before, *range_params],
        [("customer_id", "i8"), ("first_day", "i8"), ("last_day", "i8")],
    )


_ENGAGEMENT_COLUMNS = (
    "campaign_invitations",
    "campaign_joins",
    "referrals",
    "complaints",
    "reviews",
    "growth_points",
)


def _engagement_facts_sql(
    window: tuple[dt.date, dt.date], in_range: Callable[[str], str]
) -> tuple[str, dict[str, Any]]:
    """The window's engagement counts per customer from the customer facts: a SELECT of
    (customer_id, invitations, joins, referrals, complaints, reviews, points) and its
    parameters (besides `end`, `low` and `high`).

    The local months wholly inside the window come from their engagement buckets
    (`customers.models.CustomerEngagementMonth`), the days before and after them from the
    five tables' rows (through their date indexes). A bucket counts every joined invitation
    of its month, the window only those joined before its end: the invitations of the whole
    months joined at or after the end (few, found through `invitation_joined_idx`) are taken
    away again. The sums equal the raw-table read of `_customers` exactly.
    """
    months, spans = whole_months(*window)
    params: dict[str, Any] = {"months": months}
    placed: list[str] = []
    for number, (low, high) in enumerate(spans):
        params[f"span{number}_low"] = local_midnight(low)
        params[f"span{number}_high"] = local_midnight(high)
        placed.append(f"({{time}} >= %(span{number}_low)s AND {{time}} < %(span{number}_high)s)")
    columns = ", ".join(ENGAGEMENT_COLUMNS)
    pieces = [
        f"SELECT customer_id, {columns} FROM {ENGAGEMENT}"
        " WHERE month = ANY(%(months)s::date[])" + in_range("customer_id")
    ]
    for source in ENGAGEMENT_SOURCES:
        adds = {**source.adds, "joins": "(joined_at < %(end)s)::integer"}
        values = ", ".join(
            f"{adds[column]}" if column in source.adds else "0" for column in ENGAGEMENT_COLUMNS
        )
        if placed:
            time = " OR ".join(placed).format(time=source.time)
            pieces.append(
                f"SELECT {source.customer}, {values} FROM {source.table}"
                f" WHERE ({time})" + in_range(source.customer)
            )
    if months:
        # The whole months' invitations joined at or after the window's end.
        invitations = ENGAGEMENT_SOURCES[0]
        params["whole_low"] = local_midnight(months[0])
        params["whole_high"] = local_midnight(month_after(months[-1]))
        pieces.append(
            f"SELECT {invitations.customer}, 0, -1, 0, 0, 0, 0 FROM {invitations.table}"
            " WHERE joined_at >= %(end)s"
            f" AND {invitations.time} >= %(whole_low)s AND {invitations.time} < %(whole_high)s"
            + in_range(invitations.customer)
        )
    sums = ", ".join(f"sum({column})::bigint AS {column}" for column in ENGAGEMENT_COLUMNS)
    union = " UNION ALL ".join(f"({piece})" for piece in pieces)
    return (
        f"SELECT customer_id, {sums} FROM ({union}) x({'customer_id, ' + columns})"
        " GROUP BY customer_id",
        params,
    )


def _customers(
    start: dt.datetime,
    end: dt.datetime,
    id_range: tuple[int, int] | None,
    *,
    facts_window: tuple[dt.date, dt.date] | None = None,
) -> pd.DataFrame:
    """Active customers with their window engagement counts: one COPY of fixed-width rows.

    The industry travels as its position in the list of distinct industries (read first), so
    every column is fixed width. With `facts_window` (the window's local days [first, end),
    `start` and `end` their midnights) the counts come from the customer facts
    (`_engagement_facts_sql`), else from the five tables' rows of the window.
    """
    low, high = id_range if id_range is not None else (None, None)

    def in_range(column: str) -> str:
        return "" if id_range is None else f" AND {column} >= %(low)s AND {column} < %(high)s"

    if facts_window is not None:
        engagement, extra = _engagement_facts_sql(facts_window, in_range)
        return _customers_read(
            "SELECT c.{id}, {industry},"
            " coalesce(e.invitations, 0), coalesce(e.joins, 0), coalesce(e.referrals, 0),"
            " coalesce(e.complaints, 0), coalesce(e.reviews, 0), coalesce(e.points, 0)"
            f" FROM {CUSTOMERS} c LEFT JOIN ({engagement}) e ON e.customer_id = c.{{id}}"
            " WHERE c.{is_active}" + in_range("c.{id}"),
            {**extra, "end": end, "low": low, "high": high},
            id_range,
        )

    cu, inv, ref, com, rev, pts = (
        CUSTOMERS.c,
        INVITATIONS.c,
        REFERRALS.c,
        COMPLAINTS.c,
        REVIEWS.c,
        POINTS.c,
    )
    sql = (
        "SELECT c.{id}, {industry},"
        " coalesce(i.invitations, 0), coalesce(i.joins, 0), coalesce(r.referrals, 0),"
        " coalesce(k.complaints, 0), coalesce(v.reviews, 0), coalesce(p.points, 0)"
        f" FROM {CUSTOMERS} c"
        f" LEFT JOIN (SELECT {inv.customer}, count(*) AS invitations,"
        f"   count(*) FILTER (WHERE {inv.joined_at} IS NOT NULL AND {inv.joined_at} < %(end)s)"
        " AS joins"
        f"   FROM {INVITATIONS}"
        f"   WHERE {inv.invited_at} >= %(start)s AND {inv.invited_at} < %(end)s"
        + in_range(inv.customer)
        + f"   GROUP BY {inv.customer}) i ON i.{inv.customer} = c.{cu.id}"
        f" LEFT JOIN (SELECT {ref.referrer}, count(*) AS referrals FROM {REFERRALS}"
        f"   WHERE {ref.created_at} >= %(start)s AND {ref.created_at} < %(end)s"
        + in_range(ref.referrer)
        + f"   GROUP BY {ref.referrer}) r ON r.{ref.referrer} = c.{cu.id}"
        f" LEFT JOIN (SELECT {com.customer}, count(*) AS complaints FROM {COMPLAINTS}"
        f"   WHERE {com.created_at} >= %(start)s AND {com.created_at} < %(end)s"
        + in_range(com.customer)
        + f"   GROUP BY {com.customer}) k ON k.{com.customer} = c.{cu.id}"
        f" LEFT JOIN (SELECT {rev.customer}, count(*) AS reviews FROM {REVIEWS}"
        f"   WHERE {rev.created_at} >= %(start)s AND {rev.created_at} < %(end)s"
        + in_range(rev.customer)
        + f"   GROUP BY {rev.customer}) v ON v.{rev.customer} = c.{cu.id}"
        # Growth points credited in the window feed the cooperation score (up to a cap).
        f" LEFT JOIN (SELECT {pts.customer}, sum({pts.points}) AS points FROM {POINTS}"
        f"   WHERE {pts.created_at} >= %(start)s AND {pts.created_at} < %(end)s"
        + in_range(pts.customer)
        + f"   GROUP BY {pts.customer}) p ON p.{pts.customer} = c.{cu.id}"
        " WHERE c.{is_active}" + in_range("c.{id}")
    )
    params = {"start": start, "end": end, "low": low, "high": high}
    return _customers_read(sql, params, id_range)


def _customers_read(
    sql: str, params: dict[str, Any], id_range: tuple[int, int] | None
) -> pd.DataFrame:
    """`_customers`' frame from `sql`: its `{id}`, `{is_active}` and `{industry}` (the
    industry's 1-based position among the distinct industries, read first) filled in."""
    cu = CUSTOMERS.c
    active = in_id_range(Customer.objects.filter(is_active=True), "id", id_range)
    industries = sorted(active.values_list("industry", flat=True).distinct().order_by())
    position = f"coalesce(array_position(%(industries)s::text[], c.{cu.industry}::text), 0)"
    rows = pgcopy.copy_out(
        sql.replace("{id}", cu.id)
        .replace("{is_active}", cu.is_active)
        .replace("{industry}", position),
        {**params, "industries": industries},  # type: ignore[arg-type]
        [("customer_id", "i8"), ("industry", "i4")] + [(c, "i8") for c in _ENGAGEMENT_COLUMNS],
    )
    order = np.argsort(rows["customer_id"], kind="stable")
    ids = rows["customer_id"][order]
    codes = rows["industry"][order]
    labels = np.array([*industries, ""], dtype=object)  # code 0 -> index -1 -> patched below
    industry = labels[codes - 1]
    if (codes == 0).any():
        # A customer saved with a new industry between the two statements: read those few.
        missing = ids[codes == 0]
        late = dict(Customer.objects.filter(pk__in=missing.tolist()).values_list("pk", "industry"))
        industry[codes == 0] = [late.get(int(pk), "") for pk in missing]
    frame = pd.DataFrame(
        {column: rows[column][order] for column in _ENGAGEMENT_COLUMNS},
        index=pd.Index(ids, name="customer_id"),
    )
    frame.insert(0, "industry", pd.array(industry, dtype="str"))
    return frame


def grade_states(span: tuple[int, int] | None) -> pd.DataFrame:
    """Return current_grade (code) and periods_under by customer_id: one binary COPY."""
    s = GRADE_STATES.c
    rows = pgcopy.copy_out(
        f"SELECT {s.customer}, {s.grade}, {s.periods_under}::integer FROM {GRADE_STATES}"
        + (f" WHERE {s.customer} BETWEEN %s AND %s" if span is not None else ""),
        span or (),
        [("customer_id", "i8"), ("grade_id", "i8"), ("periods_under", "i4")],
    )
    codes = dict(Grade.objects.values_list("pk", "code"))
    grade_ids, position = np.unique(rows["grade_id"], return_inverse=True)
    labels = [codes[int(pk)] for pk in grade_ids]
    return pd.DataFrame(
        {
            # Categorical: a million grade codes without a million string objects.
            "current_grade": pd.Categorical.from_codes(position, categories=pd.Index(labels)),
            "periods_under": rows["periods_under"].astype(np.int64),
        },
        index=pd.Index(rows["customer_id"], name="customer_id"),
    )


# ---------------------------------------------------------------------------------- write


def foreign_keys_immediate() -> None:
    """Check the foreign keys of the rows written from now on statement by statement.

    PostgreSQL runs a million checks 2-3x faster at the end of each statement than queued
    until the commit.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def foreign_keys_deferred() -> None:
    """Restore the transaction's default: Django declares every foreign key DEFERRABLE
    INITIALLY DEFERRED."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def load(
    table: str,
    columns: Sequence[tuple[str, str]],
    values: Sequence[np.ndarray],
    *,
    analyze: Sequence[str],
) -> None:
    """Fill the new temporary `table` with one binary COPY, then ANALYZE the `analyze` columns.

    Temporary tables are never auto-analysed, and without statistics the joins that read
    them can be planned as nested loops.
    """
    pgcopy.copy_in(table, columns, values)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table} ({', '.join(analyze)})")


def customers_hold(table: str, rows: int) -> int:
    """Keep the customers of `table` from being deleted until the commit; drop vanished ones
    and return how many rows went.

    The rows a run writes check their customer reference here, once for the batch
    (`grading.models.RUN_WRITTEN_CUSTOMER`): the customers' rows are locked FOR KEY SHARE
    (what each row's foreign-key check would take), so a concurrent delete waits for the
    commit and its trigger then deletes this run's rows too. A customer deleted since the
    extract has no row to lock and leaves the batch (`table`'s rows, keyed on customer_id).
    """
    pk = CUSTOMERS.c.id
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {CUSTOMERS} c"
            f" WHERE c.{pk} IN (SELECT customer_id FROM {table}) FOR KEY SHARE OF c) held"
        )
        if cursor.fetchone()[0] == rows:
            return 0
        cursor.execute(
            f"DELETE FROM {table} WHERE NOT EXISTS"
            f" (SELECT 1 FROM {CUSTOMERS} c WHERE c.{pk} = {table}.customer_id)"
        )
        return max(cursor.rowcount, 0)


def insert_ignore_sql(table: str, columns: Sequence[str], select_sql: str) -> str:
    """Return INSERT ... SELECT ... ON CONFLICT DO NOTHING."""
    return f"INSERT INTO {table} ({', '.join(columns)}) {select_sql} ON CONFLICT DO NOTHING"


def decode(column: str, labels: Sequence[str]) -> tuple[str, list[Any]]:
    """Return SQL turning a 1-based code column back into its text: an array subscript."""
    if not labels:
        return "NULL", []
    return f"(%s::text[])[{column}]", [[str(label) for label in labels]]


def returned_mark(
    statements: Sequence[tuple[str, Sequence[Any]]],
    *,
    table: str,
    assignment: str,
    expected: int,
) -> int:
    """Run each grade-state write; when fewer than `expected` rows were written, apply
    `assignment` to the rows of `table` that were. Return the rows written.

    Each statement ends in RETURNING the grade-state customer column; the ids go into a narrow
    temporary table in the same statement. The marks are needed only to tell the refused rows
    (`expected` is how many the statements intend to write): when every intended row was
    written, `table` (one wide row per customer) is not rewritten, which would cost as much as
    the write itself at a million rows and leave every later scan of it twice as long.
    """
    written = f"{table}_written"
    marked = 0
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {written}")
        cursor.execute(f"CREATE TEMPORARY TABLE {written} (customer_id bigint)")
        for sql, params in statements:
            cursor.execute(
                f"WITH w AS ({sql}) INSERT INTO {written}"
                f" SELECT w.{GRADE_STATES.c.customer} FROM w",
                params,
            )
            marked += max(cursor.rowcount, 0)
        if marked < expected:
            cursor.execute(f"ANALYZE {written}")
            cursor.execute(
                f"UPDATE {table} SET {assignment}"
                f" FROM {written} w WHERE {table}.customer_id = w.customer_id"
            )
        cursor.execute(f"DROP TABLE {written}")
    return marked


def changes_insert(
    columns: Sequence[str],
    select_sql: str,
    params: Sequence[Any],
    *,
    run_id: int,
    now: dt.datetime,
    first_write: bool,
) -> None:
    """Insert the changes `select_sql` yields, and an audit row per applied change.

    The audit rows are those of the changes this statement inserted: no anti-join against
    the audit table (which, planned without statistics on a first run, is quadratic) and
    still exactly one per applied change however often it re-runs. On the run's
    `first_write` no change of the run can exist, and the insert skips ON CONFLICT (its
    probe of the unique index before each row and the confirmation after: about a tenth of
    this statement on a first run, docs/grading.md); the unique `(customer, run)` index
    still refuses a duplicate, failing the run rather than writing a change twice.
    """
    c, a = CHANGES.c, AUDIT.c
    conflicts = "" if first_write else " ON CONFLICT DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH inserted AS (INSERT INTO {CHANGES} ({', '.join(columns)})"
            f" {select_sql}{conflicts}"
            f" RETURNING {c.id}, {c.customer}, {c.from_grade}, {c.to_grade}, {c.source},"
            f" {c.reason}, {c.run}, {c.status})"
            f" INSERT INTO {AUDIT}"
            f" ({a.customer}, {a.old_grade}, {a.new_grade}, {a.source}, {a.reason}, {a.actor},"
            f" {a.run}, {a.change}, {a.created_at})"
            f" SELECT {c.customer}, {c.from_grade}, {c.to_grade}, {c.source}, {c.reason}, NULL,"
            f" {c.run}, {c.id}, %s FROM inserted WHERE {c.status} = %s",
            [*params, now, GradeChange.Status.APPLIED],
        )
