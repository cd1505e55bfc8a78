"""The pipeline on SQLite (and any database but PostgreSQL): the ORM and portable SQL.

Reads are ORM queries over the full order history (a fixed number of them, grouped in the
database); the write's load table is filled with executemany; conflicts are skipped with
INSERT OR IGNORE; the rows a statement wrote come back with RETURNING to be marked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, Sum

from customers.models import (
    CampaignInvitation,
    Complaint,
    Customer,
    Order,
    PointsEntry,
    ProductReview,
    Referral,
    SalesLine,
)
from grading.models import CustomerGrade, GradeChange
from grading.pipeline.frames import empty_orders, in_id_range
from grading.pipeline.rules import cents
from grading.pipeline.tables import AUDIT, CHANGES, CUSTOMERS

#: Customer ids per statement marking written rows (well under SQLite's variable limit).
_MARK_CHUNK = 500

# ----------------------------------------------------------------------------------- read


def read_period(
    start: dt.datetime, end: dt.datetime, statuses: list[str], id_range: tuple[int, int] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the period's `(orders, customers)` frames: every counted order before `end`."""
    orders = _orders(end, statuses, id_range)
    lines = _line_categories(start, end, statuses, id_range)
    if not lines.empty:
        orders = pd.concat([orders, lines], ignore_index=True)
    return orders, _customers(start, end, id_range)


def _orders(
    end: dt.datetime, statuses: list[str], id_range: tuple[int, int] | None
) -> pd.DataFrame:
    rows = in_id_range(
        Order.objects.filter(status__in=statuses, placed_at__lt=end), "customer_id", id_range
    ).values_list("customer_id", "placed_at", "amount", "refunded_amount", "category_id", "on_time")
    frame = pd.DataFrame.from_records(
        list(rows),
        columns=["customer_id", "placed_at", "amount", "refunded", "category_id", "on_time"],
    )
    if frame.empty:
        return empty_orders()
    net = (frame["amount"] - frame["refunded"]).map(cents)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("int64"),
            "order_date": _local_days(frame["placed_at"]),
            "net_cents": net.astype("int64"),
            "category_id": frame["category_id"].astype("Int64"),
            "on_time": frame["on_time"].map({True: 1, False: 0}).fillna(-1).astype("int8"),
            "category_only": np.zeros(len(frame), dtype=bool),
        }
    )


def _local_days(instants: pd.Series) -> pd.Series:
    local = pd.to_datetime(instants, utc=True).dt.tz_convert(settings.TIME_ZONE)
    return local.dt.tz_localize(None).dt.normalize().astype("datetime64[s]")


def _line_categories(
    start: dt.datetime, end: dt.datetime, statuses: list[str], id_range: tuple[int, int] | None
) -> pd.DataFrame:
    """`category_only` rows: the categories of the window's counted orders' sales lines.

    One row per (customer, category), dated on the first such order in the window, as the
    PostgreSQL backend reads them.
    """
    window = in_id_range(
        Order.objects.filter(status__in=statuses, placed_at__gte=start, placed_at__lt=end),
        "customer_id",
        id_range,
    )
    lines = pd.DataFrame.from_records(
        list(
            SalesLine.objects.filter(
                category__isnull=False, document_no__in=window.values("order_no")
            )
            .values_list("document_no", "category_id")
            .distinct()
        ),
        columns=["order_no", "category_id"],
    )
    if lines.empty:
        return empty_orders()
    orders = pd.DataFrame.from_records(
        list(
            window.filter(order_no__in=SalesLine.objects.values("document_no")).values_list(
                "order_no", "customer_id", "placed_at"
            )
        ),
        columns=["order_no", "customer_id", "placed_at"],
    )
    pairs = (
        lines.merge(orders, on="order_no")
        .groupby(["customer_id", "category_id"], as_index=False)["placed_at"]
        .min()
    )
    return pd.DataFrame(
        {
            "customer_id": pairs["customer_id"].astype("int64"),
            "order_date": _local_days(pairs["placed_at"]),
            "net_cents": np.zeros(len(pairs), dtype=np.int64),
            "category_id": pairs["category_id"].astype("Int64"),
            "on_time": np.full(len(pairs), -1, dtype=np.int8),
            "category_only": np.ones(len(pairs), dtype=bool),
        }
    )


def _customers(
    start: dt.datetime, end: dt.datetime, id_range: tuple[int, int] | None
) -> pd.DataFrame:
    """Active customers with their window engagement counts: one grouped query per kind."""
    base = in_id_range(Customer.objects.filter(is_active=True), "id", id_range)
    frame = pd.DataFrame.from_records(
        list(base.values_list("id", "industry").order_by("id")), columns=["customer_id", "industry"]
    )
    frame = frame.astype({"customer_id": "int64", "industry": "str"}).set_index("customer_id")

    def counts(queryset: Any, field: str, **annotations: Any) -> pd.DataFrame:
        rows = list(
            in_id_range(queryset, field, id_range).values(field).annotate(**annotations).order_by()
        )
        return pd.DataFrame.from_records(rows).set_index(field) if rows else pd.DataFrame()

    in_window = {"invited_at__gte": start, "invited_at__lt": end}
    parts = [
        counts(
            CampaignInvitation.objects.filter(**in_window),
            "customer_id",
            campaign_invitations=Count("id"),
            campaign_joins=Count("id", filter=Q(joined_at__isnull=False, joined_at__lt=end)),
        ),
        counts(
            Referral.objects.filter(created_at__gte=start, created_at__lt=end),
            "referrer_id",
            referrals=Count("id"),
        ).rename_axis("customer_id"),
        counts(
            Complaint.objects.filter(created_at__gte=start, created_at__lt=end),
            "customer_id",
            complaints=Count("id"),
        ),
        counts(
            ProductReview.objects.filter(created_at__gte=start, created_at__lt=end),
            "customer_id",
            reviews=Count("id"),
        ),
        # Growth points credited in the window feed the cooperation score (up to a cap).
        counts(
            PointsEntry.objects.filter(created_at__gte=start, created_at__lt=end),
            "customer_id",
            growth_points=Sum("points"),
        ),
    ]
    for part in parts:
        if not part.empty:
            frame = frame.join(part, how="left")
    return frame


def facts_unusable() -> str | None:
    """SQLite keeps no customer facts (small installs): runs read the orders."""
    return "customer facts are kept on PostgreSQL only"


def read_facts(
    as_of: dt.date, window_days: int, statuses: list[str], id_range: tuple[int, int] | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Never called: `facts_unusable` always says why (the extract then reads the orders)."""
    raise RuntimeError(facts_unusable())


def grade_states(span: tuple[int, int] | None) -> pd.DataFrame:
    """Return current_grade (code) and periods_under by customer_id: one ORM query."""
    states = CustomerGrade.objects.all()
    if span is not None:
        states = states.filter(customer_id__gte=span[0], customer_id__lte=span[1])
    return pd.DataFrame.from_records(
        list(states.values_list("customer_id", "grade__code", "periods_under")),
        columns=["customer_id", "current_grade", "periods_under"],
    ).set_index("customer_id")


# ---------------------------------------------------------------------------------- write


def foreign_keys_immediate() -> None:
    """Nothing to do: SQLite's checks stay as Django configures them."""


def foreign_keys_deferred() -> None:
    """Nothing to do (see `foreign_keys_immediate`)."""


def load(
    table: str,
    columns: Sequence[tuple[str, str]],
    values: Sequence[np.ndarray],
    *,
    analyze: Sequence[str],
) -> None:
    """Fill the new temporary `table` with executemany, NaN as NULL (`analyze`: unused)."""
    lists = [
        [None if v != v else v for v in array.tolist()] if kind == "f8" else array.tolist()
        for (_, kind), array in zip(columns, values, strict=True)
    ]
    placeholders = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(name for name, _ in columns)})"
            f" VALUES ({placeholders})",
            list(zip(*lists, strict=True)),
        )


def customers_hold(table: str, rows: int) -> int:
    """Drop the rows of `table` whose customer was deleted since the extract; return how many.

    No row locks here (PostgreSQL's backend holds the customers too); `rows` is unused.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE NOT EXISTS"
            f" (SELECT 1 FROM {CUSTOMERS} c WHERE c.{CUSTOMERS.c.id} = {table}.customer_id)"
        )
        return max(cursor.rowcount, 0)


def insert_ignore_sql(table: str, columns: Sequence[str], select_sql: str) -> str:
    """Return INSERT OR IGNORE ... SELECT."""
    return f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) {select_sql}"


def decode(column: str, labels: Sequence[str]) -> tuple[str, list[Any]]:
    """Return SQL turning a 1-based code column back into its text: a CASE."""
    if not labels:
        return "NULL", []
    whens = " ".join(f"WHEN {code} THEN %s" for code in range(1, len(labels) + 1))
    return f"CASE {column} {whens} END", [str(label) for label in labels]


def returned_mark(
    statements: Sequence[tuple[str, Sequence[Any]]],
    *,
    table: str,
    assignment: str,
    expected: int,
) -> int:
    """Run each grade-state write, then apply `assignment` to the rows of `table` it wrote.

    Each statement ends in RETURNING the customer id; return how many came back. The rows
    are marked whatever `expected` says (a few thousand at most on SQLite).
    """
    ids: list[int] = []
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            ids += [row[0] for row in cursor.fetchall()]
        for start in range(0, len(ids), _MARK_CHUNK):
            chunk = ids[start : start + _MARK_CHUNK]
            cursor.execute(
                f"UPDATE {table} SET {assignment}"
                f" WHERE customer_id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
    return len(ids)


def changes_insert(
    columns: Sequence[str],
    select_sql: str,
    params: Sequence[Any],
    *,
    run_id: int,
    now: dt.datetime,
    first_write: bool,
) -> None:
    """Insert the changes `select_sql` yields, and an audit row per applied change of the run.

    NOT EXISTS keeps a re-run at one audit row per change (its index serves the anti-join).
    `first_write` is always False here (SQLite has no partitions) and unused.
    """
    c, a = CHANGES.c, AUDIT.c
    with connection.cursor() as cursor:
        cursor.execute(insert_ignore_sql(str(CHANGES), columns, select_sql), params)
        cursor.execute(
            f"INSERT INTO {AUDIT}"
            f" ({a.customer}, {a.old_grade}, {a.new_grade}, {a.source}, {a.reason}, {a.actor},"
            f" {a.run}, {a.change}, {a.created_at})"
            f" SELECT c.{c.customer}, c.{c.from_grade}, c.{c.to_grade}, c.{c.source},"
            f" c.{c.reason}, NULL, c.{c.run}, c.{c.id}, %s FROM {CHANGES} c"
            f" WHERE c.{c.run} = %s AND c.{c.status} = %s AND NOT EXISTS"
            f" (SELECT 1 FROM {AUDIT} a WHERE a.{a.change} = c.{c.id})",
            [now, run_id, GradeChange.Status.APPLIED],
        )
