"""Extract: the period's scoring frames and each customer's policy state, read set-based.

A fixed, small number of statements whatever the population (never one per customer); how
they are read is the backend's (`grading.pipeline.backends`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Q

from common.dates import local_midnight
from customers.facts import MONTHS, ORDERS, facts_unusable_reason, whole_months
from customers.models import Order
from grading.models import GradeChange, GradeOverride
from grading.pipeline import backends, pgcopy
from grading.pipeline.frames import UNKNOWN_PROFIT, WINDOW_PROFIT_CENTS
from grading.scoring import ScoringParams, customer_facts, facts_from_segments

logger = logging.getLogger(__name__)


def extract_period(
    *, as_of: dt.date, window_days: int, id_range: tuple[int, int] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the period's scoring frames `(orders, customers)` (optionally one id range).

    `orders`: counted orders placed before `as_of`, with `on_time` (1/0/-1 unknown) for the
    engagement counts. On PostgreSQL the orders before the window [as_of - window_days,
    as_of) come as two rows per customer, their first and last order days (scoring reads
    nothing else of them, so every score is the same as from the full history;
    `backends.postgresql.read_period`); elsewhere the ORM returns the full history.

    `customers`: active customers with their window engagement counts, on-time counts taken
    from `orders`.
    """
    end = local_midnight(as_of)
    start = local_midnight(as_of - dt.timedelta(days=window_days))
    statuses = [str(s) for s in Order.COUNTED_STATUSES]
    orders, customers = backends.current().read_period(start, end, statuses, id_range)
    return orders, _with_on_time(customers, orders, start=as_of - dt.timedelta(days=window_days))


def extract_facts(
    *,
    as_of: dt.date,
    params: ScoringParams,
    id_range: tuple[int, int] | None = None,
    from_orders: bool = False,
    profit: bool = True,
) -> pd.DataFrame:
    """Return the period's facts frame (`scoring.FACT_COLUMNS`, by customer_id) at `as_of`,
    followed by the window's profit columns (as `window_profit` reads them; from the facts,
    with the same reads as the rest) unless `profit` is False.

    On PostgreSQL, when the customer facts are complete and were built in the project's time
    zone (`customers.facts`), the window's whole months come from their buckets and only the
    rest of the window from the orders (`backends.postgresql.read_facts`,
    `scoring.facts_from_segments`); otherwise, or with `from_orders`, from the orders
    (`extract_period`, `scoring.customer_facts`), with the reason logged. Both give the same
    frame (docs/grading.md, "Customer facts").
    """
    if not from_orders:
        reason = backends.current().facts_unusable()
        if reason is None:
            statuses = [str(s) for s in Order.COUNTED_STATUSES]
            segments, earlier, categories, customers = backends.current().read_facts(
                as_of, params.window_days, statuses, id_range
            )
            facts = facts_from_segments(
                segments, earlier, categories, customers, as_of=as_of, params=params
            )
            if not profit:
                return facts
            # The window's profit came with the same reads (`read_facts`).
            money = customers.set_index("customer_id")[[WINDOW_PROFIT_CENTS, UNKNOWN_PROFIT]]
            money = money.reindex(facts.index, fill_value=0)
            for name in (WINDOW_PROFIT_CENTS, UNKNOWN_PROFIT):
                facts[name] = money[name].to_numpy(dtype=np.int64)
            return facts
        logger.info("Grading reads the orders, not the customer facts: %s.", reason)
    orders, customers = extract_period(
        as_of=as_of, window_days=params.window_days, id_range=id_range
    )
    facts = customer_facts(orders.drop(columns=["on_time"]), customers, as_of=as_of, params=params)
    if not profit:
        return facts
    return _with_profit(
        facts, as_of=as_of, window_days=params.window_days, id_range=id_range, from_orders=True
    )


def window_money_sql(
    *, as_of: dt.date, window_days: int, id_range: tuple[int, int] | None = None
) -> tuple[str, list[Any]] | None:
    """The window's counted orders' money from the customer facts, or None when unusable.

    A SELECT of rows (customer_id, net_cents, profit_cents, unknown_profit) whose sums per
    customer are that customer's counted orders placed in [as_of - window_days, as_of): the
    buckets of the window's whole local months (`customers.models.CustomerMonth`) and one row
    per order of the days before the first and after the last whole month (optionally of one
    customer-id range). The buckets are the orders' exact sums, so this equals reading every
    order of the window, at a fraction of the rows. None on SQLite, or when the facts are
    incomplete or were built in another zone or with other statuses
    (`customers.facts.facts_unusable_reason`): read the orders then.
    """
    if facts_unusable_reason() is not None:
        return None
    months, spans = whole_months(as_of - dt.timedelta(days=window_days), as_of)
    placed = " OR ".join("(o.placed_at >= %s AND o.placed_at < %s)" for _ in spans) or "FALSE"
    ranged = "" if id_range is None else " AND customer_id >= %s AND customer_id < %s"
    ids = [] if id_range is None else list(id_range)
    sql = (
        f"SELECT customer_id, net_cents, profit_cents, unknown_profit FROM {MONTHS}"
        f" WHERE month = ANY(%s::date[]){ranged}"
        " UNION ALL SELECT o.customer_id, ((o.amount - o.refunded_amount) * 100)::bigint,"
        " coalesce((o.profit * 100)::bigint, 0), (o.profit IS NULL)::integer"
        f" FROM {ORDERS} o WHERE o.status = ANY(%s) AND ({placed}){ranged}"
    )
    instants = [local_midnight(day) for span in spans for day in span]
    statuses = [str(s) for s in Order.COUNTED_STATUSES]
    return sql, [months, *ids, statuses, *instants, *ids]


def window_profit(
    *,
    as_of: dt.date,
    window_days: int,
    id_range: tuple[int, int] | None = None,
    from_orders: bool = False,
) -> pd.DataFrame:
    """Each customer's window profit: `WINDOW_PROFIT_CENTS` and `UNKNOWN_PROFIT`, by id.

    Customers with counted orders in [as_of - window_days, as_of) only; from the customer
    facts (`window_money_sql`) unless `from_orders` or they cannot be read, else from the
    window's orders. One grouped statement, one binary COPY on PostgreSQL.
    """
    money_sql = (
        None
        if from_orders
        else window_money_sql(as_of=as_of, window_days=window_days, id_range=id_range)
    )
    if money_sql is not None:
        sql, params = money_sql
    else:
        sql, params = _orders_money_sql(as_of=as_of, window_days=window_days, id_range=id_range)
    rows = pgcopy.numeric_columns(
        f"SELECT customer_id, CAST(sum(profit_cents) AS bigint),"
        f" CAST(sum(unknown_profit) AS bigint) FROM ({sql}) w"
        " GROUP BY customer_id",
        params,
        [("customer_id", "i8"), (WINDOW_PROFIT_CENTS, "i8"), (UNKNOWN_PROFIT, "i8")],
    )
    return pd.DataFrame(
        {name: rows[name] for name in (WINDOW_PROFIT_CENTS, UNKNOWN_PROFIT)},
        index=pd.Index(rows["customer_id"], name="customer_id"),
    )


def _orders_money_sql(
    *, as_of: dt.date, window_days: int, id_range: tuple[int, int] | None
) -> tuple[str, list[Any]]:
    """`window_money_sql`'s rows read from every counted order of the window (any database)."""
    start = local_midnight(as_of - dt.timedelta(days=window_days))
    statuses = [str(s) for s in Order.COUNTED_STATUSES]
    ranged = "" if id_range is None else " AND customer_id >= %s AND customer_id < %s"
    adapt = connection.ops.adapt_datetimefield_value
    return (
        "SELECT customer_id, CAST(round((amount - refunded_amount) * 100) AS bigint) AS net_cents,"
        " coalesce(CAST(round(profit * 100) AS bigint), 0) AS profit_cents,"
        " CASE WHEN profit IS NULL THEN 1 ELSE 0 END AS unknown_profit"
        f" FROM {ORDERS} WHERE status IN ({', '.join(['%s'] * len(statuses))})"
        f" AND placed_at >= %s AND placed_at < %s{ranged}",
        [*statuses, adapt(start), adapt(local_midnight(as_of)), *(id_range or ())],
    )


def _with_profit(
    facts: pd.DataFrame,
    *,
    as_of: dt.date,
    window_days: int,
    id_range: tuple[int, int] | None,
    from_orders: bool = False,
) -> pd.DataFrame:
    """`facts` with each customer's window profit columns (0 without window orders)."""
    profit = window_profit(
        as_of=as_of, window_days=window_days, id_range=id_range, from_orders=from_orders
    ).reindex(facts.index, fill_value=0)
    for name in (WINDOW_PROFIT_CENTS, UNKNOWN_PROFIT):
        facts[name] = profit[name].to_numpy(dtype=np.int64)
    return facts


def _with_on_time(customers: pd.DataFrame, orders: pd.DataFrame, *, start: dt.date) -> pd.DataFrame:
    """The scoring `customers` frame: engagement counts plus on-time counts from `orders`."""
    window_start = np.datetime64(start, "s")
    rated_orders = orders[(orders["order_date"] >= window_start) & (orders["on_time"] >= 0)]
    rated = rated_orders.groupby("customer_id")["on_time"].agg(["count", "sum"])
    frame = customers.join(
        rated.rename(columns={"count": "rated_orders", "sum": "on_time_orders"}), how="left"
    )
    for column in (
        "campaign_invitations",
        "campaign_joins",
        "referrals",
        "complaints",
        "reviews",
        "on_time_orders",
        "rated_orders",
        "growth_points",
    ):
        values = frame[column] if column in frame else pd.Series(0, index=frame.index)
        frame[column] = values.fillna(0).astype("int64")
    return frame.reset_index()


def extract_state(*, as_of: dt.date, customer_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Return each customer's policy state: current grade, counter, pins, open proposals.

    A fixed number of queries: grade states (one binary COPY on PostgreSQL, plus the grade
    codes), active overrides/locks, open downgrade proposals.
    """
    ids = None
    if customer_ids is not None:
        array_like = hasattr(customer_ids, "__array__")  # a pd.Index: no Python-level loop
        ids = np.asarray(customer_ids if array_like else list(customer_ids), dtype=np.int64)
    # The grade states of `ids`' id span (all of them without ids).
    span = (int(ids.min()), int(ids.max())) if ids is not None and ids.size else None
    states = backends.current().grade_states(span)
    active = GradeOverride.objects.filter(ended_at__isnull=True).filter(
        Q(expires_on__isnull=True) | Q(expires_on__gte=as_of)
    )
    pins = pd.DataFrame.from_records(
        list(active.values_list("customer_id", "grade__code", "source")),
        columns=["customer_id", "grade", "source"],
    ).set_index("customer_id")
    pending = set(
        GradeChange.objects.filter(status=GradeChange.Status.PROPOSED).values_list(
            "customer_id", flat=True
        )
    )
    index = pd.Index(ids if ids is not None else states.index)
    state = pd.DataFrame(index=index.rename("customer_id"))
    state["current_grade"] = states["current_grade"].reindex(index)
    state["periods_under"] = states["periods_under"].reindex(index).fillna(0).astype("int64")
    manual = pins[pins["source"] == GradeOverride.Source.MANUAL]["grade"]
    appeal = pins[pins["source"] == GradeOverride.Source.APPEAL]["grade"]
    state["override_grade"] = manual.reindex(index)
    state["locked_grade"] = appeal.reindex(index)
    state["pending_downgrade"] = index.isin(list(pending))
    return state
