"""Customer facts kept as orders arrive: monthly buckets of each customer's counted orders.

`CustomerMonth` holds, per customer and local month, what a grading run reads of that
month's counted orders (count, net cents, on-time counts, first and last day, the sum of
squared gaps between consecutive order days, the distinct categories of the orders and their
sales lines), and what the reports and the what-if read of them (the recorded profits' sum in
cents, the orders without a recorded profit). On PostgreSQL, statement-level AFTER triggers
with transition tables on the order and sales-line tables collect the (customer, month) keys a
statement touched, from its old and new rows, and rebuild those buckets from the orders in one
INSERT ... SELECT; inserts that come after a bucket's last day (and new lines' categories) are
added to it instead. Every write path (imports and COPY, the API, the admin, QuerySet.update,
refunds, status changes, deletions) keeps them exact. The local zone and the counted statuses
are read from the one `FactsState` row, never hard-coded; `facts_rebuild` builds every bucket
again (after a change of zone, or to repair). SQLite keeps no facts: the runs read the orders there.

`CustomerEngagementMonth` holds, per customer and local month, the engagement a run counts
(campaign invitations and those joined, referrals, complaints, reviews, growth points):
statement-level triggers on those five tables add each statement's new rows and take away
its old ones, as deltas (`ENGAGEMENT_SOURCES`); `facts_rebuild` builds them with the rest.
See docs/grading.md, "Customer facts".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from common.dates import month_after
from customers.models import (
    CampaignInvitation,
    Complaint,
    Customer,
    CustomerEngagementMonth,
    CustomerMonth,
    FactsState,
    Order,
    PointsEntry,
    ProductReview,
    Referral,
    SalesLine,
)

MONTHS = CustomerMonth._meta.db_table
ENGAGEMENT = CustomerEngagementMonth._meta.db_table
STATE = FactsState._meta.db_table
ORDERS = Order._meta.db_table
LINES = SalesLine._meta.db_table
CUSTOMERS = Customer._meta.db_table

#: The trigger functions, one per table and event (a trigger with transition tables has one
#: event), and the shared refresh.
REFRESH = "customers_facts_refresh"
TRIGGERS = (
    ("customers_facts_order_insert", ORDERS, "INSERT", "REFERENCING NEW TABLE AS new_rows"),
    (
        "customers_facts_order_update",
        ORDERS,
        "UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    ),
    ("customers_facts_order_delete", ORDERS, "DELETE", "REFERENCING OLD TABLE AS old_rows"),
    ("customers_facts_line_insert", LINES, "INSERT", "REFERENCING NEW TABLE AS new_rows"),
    (
        "customers_facts_line_update",
        LINES,
        "UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    ),
    ("customers_facts_line_delete", LINES, "DELETE", "REFERENCING OLD TABLE AS old_rows"),
)
#: Emptying the order table (a test database's flush) empties the buckets too.
TRUNCATE = "customers_facts_order_truncate"


def _local_month(column: str) -> str:
    return f"date_trunc('month', {column} AT TIME ZONE s.time_zone)::date"


def buckets_insert_sql(source: str, on_conflict: str = "") -> str:
    """INSERT the buckets of the counted orders `source` selects (a statement over `o`).

    `source` yields (customer_id, month, order_no, category_id, day, net_cents, on_time,
    profit_cents) of counted orders (`profit_cents` NULL where no profit is recorded), where
    `day` is the local day and `month` its month's first day; it may read the variables `zone`
    and `statuses`. Same-day orders add gaps of 0. `on_conflict` ends the INSERT (the stored
    bucket is `f`, the new one EXCLUDED).
    """
    return f"""
        WITH o AS MATERIALIZED ({source}),
        d AS (
            SELECT customer_id, month, day, net_cents, on_time, profit_cents,
                day - lag(day) OVER (PARTITION BY customer_id, month ORDER BY day) AS gap
            FROM o
        ),
        a AS (
            SELECT customer_id, month, count(*)::integer AS orders,
                sum(net_cents)::bigint AS net_cents, count(on_time)::integer AS rated,
                (count(*) FILTER (WHERE on_time))::integer AS on_time,
                min(day) AS first_day, max(day) AS last_day,
                coalesce(sum(gap::bigint * gap), 0)::bigint AS gap_squares,
                coalesce(sum(profit_cents), 0)::bigint AS profit_cents,
                (count(*) - count(profit_cents))::integer AS unknown_profit
            FROM d GROUP BY customer_id, month
        ),
        c AS (
            SELECT customer_id, month, array_agg(DISTINCT category ORDER BY category) AS cats
            FROM (
                SELECT customer_id, month, category_id AS category FROM o
                WHERE category_id IS NOT NULL
                UNION ALL
                SELECT o.customer_id, o.month, l.category_id FROM o
                JOIN {LINES} l ON l.document_no = o.order_no
                WHERE l.category_id IS NOT NULL
            ) x GROUP BY customer_id, month
        )
        INSERT INTO {MONTHS} AS f (customer_id, month, orders, net_cents, rated, on_time,
            first_day, last_day, gap_squares, categories, profit_cents, unknown_profit)
        SELECT a.customer_id, a.month, a.orders, a.net_cents, a.rated, a.on_time,
            a.first_day, a.last_day, a.gap_squares, coalesce(c.cats, '{{}}'::integer[]),
            a.profit_cents, a.unknown_profit
        FROM a LEFT JOIN c USING (customer_id, month)
        {on_conflict}
    """


def _order_columns(zone: str) -> str:
    """The bucket source's columns of an order `o` (local day in `zone`)."""
    return (
        f"o.order_no, o.category_id, (o.placed_at AT TIME ZONE {zone})::date AS day,"
        " ((o.amount - o.refunded_amount) * 100)::bigint AS net_cents, o.on_time,"
        " (o.profit * 100)::bigint AS profit_cents"
    )


#: The refresh's lock: the customers `ids`, in id order. Tests empty it (a mutant twin of
#: tests/customers/test_facts_concurrency.py) to show it matters.
REFRESH_LOCK = (
    f"PERFORM 1 FROM {CUSTOMERS} c"
    " WHERE c.id IN (SELECT unnest(ids)) ORDER BY c.id FOR NO KEY UPDATE;"
)


def _refresh_sql() -> str:
    """The refresh: lock the customers (concurrent writers of one customer's buckets take
    turns, and each rebuild's statements then see the other's committed orders), delete the
    keys' buckets, rebuild them from their orders. The orders are found through
    order_customer_placed_idx, a day either side of the month in UTC (no zone is further off).
    """
    return f"""
CREATE OR REPLACE FUNCTION {REFRESH}(zone text, statuses text[], ids bigint[], months date[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    {REFRESH_LOCK}
    DELETE FROM {MONTHS} f USING unnest(ids, months) AS k(customer_id, month)
    WHERE f.customer_id = k.customer_id AND f.month = k.month;
    {
        buckets_insert_sql(
            "SELECT o.customer_id, k.month, "
            + _order_columns("zone")
            + " FROM (SELECT DISTINCT customer_id, month FROM unnest(ids, months)"
            " AS u(customer_id, month)) k"
            f" JOIN {ORDERS} o ON o.customer_id = k.customer_id"
            " AND o.placed_at >= (k.month - 1)::timestamp AT TIME ZONE 'UTC'"
            " AND o.placed_at < ((k.month + interval '1 month')::date + 1)::timestamp"
            " AT TIME ZONE 'UTC'"
            " WHERE o.status = ANY(statuses)"
            " AND date_trunc('month', o.placed_at AT TIME ZONE zone)::date = k.month"
        )
    };
END $$
"""


def _keys_sql(trigger: str) -> str:
    """The SELECT of the (customer_id, month) keys a trigger's transition tables touched."""
    counted = "status = ANY(s.statuses)"
    if trigger.startswith("customers_facts_order"):
        tables = {"insert": ["new_rows"], "update": ["old_rows", "new_rows"]}.get(
            trigger.rsplit("_", 1)[1], ["old_rows"]
        )
        return " UNION ".join(
            f"SELECT customer_id, {_local_month('placed_at')} AS month FROM {table} WHERE {counted}"
            for table in tables
        )
    # Sales lines: the orders their document numbers name (lines without a category add
    # nothing to any bucket).
    tables = {"insert": ["new_rows"], "update": ["old_rows", "new_rows"]}.get(
        trigger.rsplit("_", 1)[1], ["old_rows"]
    )
    documents = " UNION ".join(
        f"SELECT document_no FROM {table} WHERE category_id IS NOT NULL" for table in tables
    )
    return (
        f"SELECT DISTINCT o.customer_id, {_local_month('o.placed_at')} AS month"
        f" FROM {ORDERS} o WHERE o.order_no IN ({documents}) AND o.{counted}"
    )


#: The lock the insert triggers' additive paths take before they read a bucket: the
#: customers of the statement's counted rows, in id order, as the refresh does. Tests empty it
#: (the mutant twin of tests/customers/test_facts_concurrency.py) to show it matters.
APPEND_LOCK = (
    f"PERFORM 1 FROM {CUSTOMERS} c WHERE c.id IN ({{customers}}) ORDER BY c.id FOR NO KEY UPDATE;"
)

#: An appended bucket: the stored sums plus the new rows' (`a` of `buckets_insert_sql`), the
#: first day kept, the last day the new one, the squared gap from the stored last day to the
#: first new day added (0 on the same day), the categories the sorted distinct union.
_APPEND_SQL = """
    ON CONFLICT (customer_id, month) DO UPDATE SET
        orders = f.orders + EXCLUDED.orders,
        net_cents = f.net_cents + EXCLUDED.net_cents,
        rated = f.rated + EXCLUDED.rated,
        on_time = f.on_time + EXCLUDED.on_time,
        last_day = EXCLUDED.last_day,
        gap_squares = f.gap_squares + EXCLUDED.gap_squares
            + (EXCLUDED.first_day - f.last_day)::bigint * (EXCLUDED.first_day - f.last_day),
        categories = CASE WHEN EXCLUDED.categories <@ f.categories THEN f.categories
            ELSE ARRAY(SELECT DISTINCT x FROM unnest(f.categories || EXCLUDED.categories) x
                ORDER BY x) END,
        profit_cents = f.profit_cents + EXCLUDED.profit_cents,
        unknown_profit = f.unknown_profit + EXCLUDED.unknown_profit
"""


def _order_insert_function_sql() -> str:
    """The order-insert trigger: append where the new rows come last, rebuild elsewhere.

    A key (customer, month) whose new counted rows all fall on or after its bucket's last
    day, or that has no bucket yet, is appended to set-based: the new rows' sums are added
    in one INSERT ... ON CONFLICT DO UPDATE (the usual case, new orders arriving after the
    stored ones). A key with a new row before its bucket's last day takes the exact rebuild
    (`customers_facts_refresh`), because a day inserted between stored days splits a gap.

    Concurrency (READ COMMITTED): which path a key takes depends on the bucket's last day,
    so that read and the write after it must not interleave with another writer of the same
    bucket. Row locks alone do not give that: a second transaction appending day 7 to a
    bucket whose last day it read as 5 while the first, uncommitted, appends day 10 would
    wait at ON CONFLICT and then add (7 - 10)² to the committed row instead of rebuilding;
    and an append inserting a new bucket while a rebuild (which inserts without ON CONFLICT)
    has not yet seen its orders would make the rebuild fail on the primary key. So the
    trigger first locks the statement's customers (`APPEND_LOCK`, the refresh's lock, in id
    order); every writer of a customer's buckets (this append, the refresh of every other
    trigger) holds it until commit, and each later statement of the function takes a new
    snapshot, so the classification and the append see the buckets and orders the previous
    holder committed. The lock (FOR NO KEY UPDATE) does not conflict with the FOR KEY SHARE
    that inserting an order takes on its customer.
    """
    month = _local_month("o.placed_at")
    counted = "o.status = ANY(s.statuses)"
    source = (
        f"SELECT o.customer_id, {month} AS month, "
        + _order_columns("s.time_zone")
        + f" FROM new_rows o WHERE {counted} AND NOT EXISTS (SELECT 1 FROM unnest(ids, months)"
        f" AS r(customer_id, month) WHERE r.customer_id = o.customer_id AND r.month = {month})"
    )
    return f"""
CREATE OR REPLACE FUNCTION customers_facts_order_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    ids bigint[];
    months date[];
BEGIN
    SELECT time_zone, statuses INTO s FROM {STATE} WHERE id = 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    {APPEND_LOCK.format(customers=f"SELECT o.customer_id FROM new_rows o WHERE {counted}")}
    -- The keys a new row lands before the bucket's last day of: rebuilt.
    SELECT array_agg(f.customer_id), array_agg(f.month) INTO ids, months
    FROM (
        SELECT o.customer_id, {month} AS month,
            min((o.placed_at AT TIME ZONE s.time_zone)::date) AS first_new
        FROM new_rows o WHERE {counted} GROUP BY 1, 2
    ) k
    JOIN {MONTHS} f ON f.customer_id = k.customer_id AND f.month = k.month
    WHERE k.first_new < f.last_day;
    {buckets_insert_sql(source, _APPEND_SQL)};
    PERFORM {REFRESH}(s.time_zone, s.statuses::text[], ids, months);
    RETURN NULL;
END $$
"""


#: The lock the sales-line-insert trigger takes first: the orders the new lines name (with
#: a category), counted or not, in id order. Tests empty it (the mutant twin of
#: tests/customers/test_facts_concurrency.py) to show it matters.
LINE_ORDER_LOCK = (
    f"PERFORM 1 FROM {ORDERS} o WHERE o.order_no IN (SELECT document_no FROM new_rows"
    " WHERE category_id IS NOT NULL) ORDER BY o.id FOR SHARE;"
)


def _line_insert_function_sql() -> str:
    """The sales-line-insert trigger: add the new lines' categories to their orders' buckets.

    A line only adds a category to the bucket of its counted order's (customer, month), so a
    bucket that exists takes the sorted distinct union in one UPDATE; a key without a bucket
    (facts loaded behind the triggers' back) is rebuilt.

    Concurrency (READ COMMITTED): the keys come from the orders, and a transaction that
    changes an order's customer, month or status (or deletes it) rebuilds the buckets it
    touched without seeing lines not yet committed. So the trigger first locks the orders the
    lines name, counted or not (`LINE_ORDER_LOCK`, FOR SHARE, which conflicts with any update
    or deletion of them): it waits for an uncommitted writer of one of them, and a later
    writer waits for this transaction's commit, its rebuild then seeing the new lines. Only
    then are the orders read, once, into arrays (one entry per key and category), in a new
    snapshot that sees what the writers committed; reading them before the lock (as this
    function did up to migration 0014) added a category to the bucket an order had just
    left, and missed an order just counted. The customers are then locked as the
    order-insert trigger does: an UPDATE waiting for a concurrent rebuild that deletes and
    re-inserts the bucket would otherwise find the old row gone and add nothing.
    """
    return f"""
CREATE OR REPLACE FUNCTION customers_facts_line_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    ids bigint[];
    months date[];
    cats integer[];
BEGIN
    SELECT time_zone, statuses INTO s FROM {STATE} WHERE id = 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    {LINE_ORDER_LOCK}
    SELECT array_agg(o.customer_id), array_agg({_local_month("o.placed_at")}),
        array_agg(l.category_id::integer) INTO ids, months, cats
    FROM new_rows l JOIN {ORDERS} o ON o.order_no = l.document_no
    WHERE l.category_id IS NOT NULL AND o.status = ANY(s.statuses);
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    {APPEND_LOCK.format(customers="SELECT unnest(ids)")}
    WITH n AS MATERIALIZED (
        SELECT customer_id, month, array_agg(DISTINCT category ORDER BY category) AS cats
        FROM unnest(ids, months, cats) AS u(customer_id, month, category) GROUP BY 1, 2
    ),
    added AS (
        UPDATE {MONTHS} f
        SET categories = ARRAY(SELECT DISTINCT x FROM unnest(f.categories || n.cats) x
            ORDER BY x)
        FROM n WHERE f.customer_id = n.customer_id AND f.month = n.month
            AND NOT n.cats <@ f.categories
    )
    SELECT array_agg(n.customer_id), array_agg(n.month) INTO ids, months FROM n
    WHERE NOT EXISTS (
        SELECT 1 FROM {MONTHS} f WHERE f.customer_id = n.customer_id AND f.month = n.month
    );
    PERFORM {REFRESH}(s.time_zone, s.statuses::text[], ids, months);
    RETURN NULL;
END $$
"""


def _trigger_function_sql(name: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s record;
    ids bigint[];
    months date[];
BEGIN
    SELECT time_zone, statuses INTO s FROM {STATE} WHERE id = 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(k.customer_id), array_agg(k.month) INTO ids, months
    FROM ({_keys_sql(name)}) k;
    PERFORM {REFRESH}(s.time_zone, s.statuses::text[], ids, months);
    RETURN NULL;
END $$
"""


def triggers_function_sql(name: str) -> str:
    """The CREATE OR REPLACE FUNCTION statement of trigger `name` (one of `TRIGGERS`)."""
    if name == "customers_facts_order_insert":
        return _order_insert_function_sql()
    if name == "customers_facts_line_insert":
        return _line_insert_function_sql()
    return _trigger_function_sql(name)


def triggers_install(using: BaseDatabaseWrapper | None = None) -> None:
    """Create (or replace) the refresh function and the six order and sales-line triggers,
    and the engagement tables' triggers where their months' table exists (PostgreSQL only)."""
    conn = using or connection
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cursor:
        cursor.execute(_refresh_sql())
        for name, table, event, referencing in TRIGGERS:
            cursor.execute(triggers_function_sql(name))
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            cursor.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} {referencing}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {TRUNCATE}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN TRUNCATE {MONTHS}; RETURN NULL; END $$"
        )
        cursor.execute(f"DROP TRIGGER IF EXISTS {TRUNCATE} ON {ORDERS}")
        cursor.execute(
            f"CREATE TRIGGER {TRUNCATE} AFTER TRUNCATE ON {ORDERS}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {TRUNCATE}()"
        )
        if engagement_kept(cursor):
            for statement in engagement_triggers_sql():
                cursor.execute(statement)


# ------------------------------------------------------------------------ engagement


def whole_months(
    start: dt.date, end: dt.date
) -> tuple[list[dt.date], list[tuple[dt.date, dt.date]]]:
    """The local months wholly inside the days [start, end) (their first days), and the
    half-open day spans of [start, end) outside them (at most one before, one after)."""
    months: list[dt.date] = []
    month = start if start.day == 1 else month_after(start)
    while month_after(month) <= end:
        months.append(month)
        month = month_after(month)
    spans = [(start, months[0]), (month_after(months[-1]), end)] if months else [(start, end)]
    return months, [(low, high) for low, high in spans if low < high]


class EngagementSource:
    """One table whose rows count in `CustomerEngagementMonth`: its customer and time
    columns, and what each row adds to which bucket columns (SQL over the row)."""

    def __init__(self, name: str, model: type, customer: str, time: str, adds: dict[str, str]):
        self.name = name
        self.table: str = model._meta.db_table  # type: ignore[attr-defined]
        self.customer: str = model._meta.get_field(customer).column  # type: ignore[attr-defined]
        self.time: str = model._meta.get_field(time).column  # type: ignore[attr-defined]
        self.adds = adds


#: The engagement bucket columns, in table order.
ENGAGEMENT_COLUMNS = ("invitations", "joins", "referrals", "complaints", "reviews", "points")

#: The five tables and what each of their rows adds to its customer's local month.
ENGAGEMENT_SOURCES = (
    EngagementSource(
        "invitation",
        CampaignInvitation,
        "customer",
        "invited_at",
        {"invitations": "1", "joins": "(joined_at IS NOT NULL)::integer"},
    ),
    EngagementSource("referral", Referral, "referrer", "created_at", {"referrals": "1"}),
    EngagementSource("complaint", Complaint, "customer", "created_at", {"complaints": "1"}),
    EngagementSource("review", ProductReview, "customer", "created_at", {"reviews": "1"}),
    EngagementSource("points", PointsEntry, "customer", "created_at", {"points": "points::bigint"}),
)


def engagement_kept(cursor: Any) -> bool:
    """Whether the engagement buckets' table exists (migration 0015 creates it)."""
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [ENGAGEMENT])
    return bool(cursor.fetchone()[0])


def _engagement_rows(source: EngagementSource, table: str, sign: str, zone: str) -> str:
    """SELECT of one row per row of `table` (a transition table or the source itself):
    customer, local month in `zone`, then each bucket column (`sign` times what it adds)."""
    values = ", ".join(
        (f"{sign}({source.adds[column]})" if column in source.adds else "0") + f" AS {column}"
        for column in ENGAGEMENT_COLUMNS
    )
    return (
        f"SELECT {source.customer} AS customer_id,"
        f" {_local_month(f'{source.time}')} AS month, {values} FROM {table}"
    ).replace("s.time_zone", zone)


_SUMS = ", ".join(f"sum({column})::bigint AS {column}" for column in ENGAGEMENT_COLUMNS)
_ZERO = " AND ".join(f"{{row}}.{column} = 0" for column in ENGAGEMENT_COLUMNS)


def engagement_rebuild_sql() -> str:
    """INSERT of every engagement bucket of the customers in [%(low)s, %(high)s), local
    months in %(zone)s."""
    rows = " UNION ALL ".join(
        _engagement_rows(
            source,
            f"{source.table} WHERE {source.customer} >= %(low)s AND {source.customer} < %(high)s",
            "",
            "%(zone)s::text",
        )
        for source in ENGAGEMENT_SOURCES
    )
    return (
        f"INSERT INTO {ENGAGEMENT} (customer_id, month, {', '.join(ENGAGEMENT_COLUMNS)})"
        f" SELECT customer_id, month, {_SUMS} FROM ({rows}) x GROUP BY customer_id, month"
        " HAVING NOT (" + " AND ".join(f"sum({column}) = 0" for column in ENGAGEMENT_COLUMNS) + ")"
    )


def _engagement_function_sql(source: EngagementSource, event: str) -> str:
    """The trigger function of `source`'s `event`: the statement's deltas added.

    Each new row adds to its (customer, local month) bucket, each old row takes away from
    its own: an update moving a row to another customer or month, or changing `joined_at`,
    is both. The deltas are summed per key, keys whose delta is zero dropped, and added to
    the stored buckets in one INSERT ... ON CONFLICT DO UPDATE, in key order; the buckets
    left at zero are deleted. Additions commute, so no customer lock is needed: two writers
    of one bucket take turns on its row (the second's ON CONFLICT waits for the first's
    commit and adds to what it committed; a bucket the first deleted is inserted again), and
    a statement's buckets are locked in key order, so two writers cannot deadlock on them.
    """
    tables = {"INSERT": [("new_rows", "")], "DELETE": [("old_rows", "-")]}.get(
        event, [("new_rows", ""), ("old_rows", "-")]
    )
    rows = " UNION ALL ".join(
        _engagement_rows(source, table, sign, "s.time_zone") for table, sign in tables
    )
    added = ", ".join(f"{column} = e.{column} + EXCLUDED.{column}" for column in ENGAGEMENT_COLUMNS)
    columns = ", ".join(ENGAGEMENT_COLUMNS)
    return f"""
CREATE OR REPLACE FUNCTION customers_facts_{source.name}_{event.lower()}() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    ids bigint[];
    months date[];
BEGIN
    SELECT time_zone INTO s FROM {STATE} WHERE id = 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    WITH d AS (
        SELECT customer_id, month, {_SUMS} FROM ({rows}) x GROUP BY customer_id, month
    ),
    up AS (
        INSERT INTO {ENGAGEMENT} AS e (customer_id, month, {columns})
        SELECT customer_id, month, {columns} FROM d
        WHERE NOT ({_ZERO.format(row="d")})
        ORDER BY customer_id, month
        ON CONFLICT (customer_id, month) DO UPDATE SET {added}
        RETURNING e.*
    )
    SELECT array_agg(up.customer_id), array_agg(up.month) INTO ids, months FROM up
    WHERE {_ZERO.format(row="up")};
    IF ids IS NOT NULL THEN
        DELETE FROM {ENGAGEMENT} e USING unnest(ids, months) AS k(customer_id, month)
        WHERE e.customer_id = k.customer_id AND e.month = k.month AND {_ZERO.format(row="e")};
    END IF;
    RETURN NULL;
END $$
"""


def engagement_triggers_sql() -> list[str]:
    """The statements creating (or replacing) the engagement trigger functions and triggers:
    insert, update and delete of each source, and its truncate (its columns set to zero,
    the buckets left at zero deleted)."""
    statements: list[str] = []
    for source in ENGAGEMENT_SOURCES:
        for event, referencing in (
            ("INSERT", "REFERENCING NEW TABLE AS new_rows"),
            ("UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "REFERENCING OLD TABLE AS old_rows"),
        ):
            name = f"customers_facts_{source.name}_{event.lower()}"
            statements += [
                _engagement_function_sql(source, event),
                f"DROP TRIGGER IF EXISTS {name} ON {source.table}",
                f"CREATE TRIGGER {name} AFTER {event} ON {source.table} {referencing}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
            ]
        name = f"customers_facts_{source.name}_truncate"
        zeroed = ", ".join(f"{column} = 0" for column in source.adds)
        statements += [
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN UPDATE {ENGAGEMENT} SET {zeroed};"
            f" DELETE FROM {ENGAGEMENT} e WHERE {_ZERO.format(row='e')}; RETURN NULL; END $$",
            f"DROP TRIGGER IF EXISTS {name} ON {source.table}",
            f"CREATE TRIGGER {name} AFTER TRUNCATE ON {source.table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    return statements


#: Customers rebuilt per statement by `facts_rebuild`.
REBUILD_CHUNK = 100_000


def facts_rebuild(
    *,
    using: BaseDatabaseWrapper | None = None,
    chunk: int = REBUILD_CHUNK,
    progress: Callable[[int], Any] | None = None,
) -> int:
    """Build every customer's buckets again in the project time zone; return the buckets
    (order months plus engagement months).

    One transaction: the state row is set to settings.TIME_ZONE and the counted statuses
    (the triggers follow it from then on), the buckets are deleted, then rebuilt one
    customer-id range of `chunk` customers at a time (`progress(customers done)` after each)
    with one INSERT ... SELECT each for the orders and one for the engagement (where its
    table exists: migration 0015), and the state is marked complete. Concurrent writes wait
    for the commit (the order, sales-line and engagement tables are locked SHARE).
    PostgreSQL only (raises RuntimeError elsewhere).
    """
    conn = using or connection
    if conn.vendor != "postgresql":
        raise RuntimeError("customer facts are kept on PostgreSQL only")
    statuses = [str(status) for status in Order.COUNTED_STATUSES]
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        engagement = engagement_kept(cursor)
        sources = [source.table for source in ENGAGEMENT_SOURCES] if engagement else []
        cursor.execute(f"LOCK TABLE {', '.join([ORDERS, LINES, *sources])} IN SHARE MODE")
        cursor.execute(
            f"INSERT INTO {STATE} (id, time_zone, statuses, complete, built_at)"
            " VALUES (1, %s, %s, false, NULL) ON CONFLICT (id) DO UPDATE"
            " SET time_zone = EXCLUDED.time_zone, statuses = EXCLUDED.statuses,"
            " complete = false, built_at = NULL",
            [settings.TIME_ZONE, statuses],
        )
        cursor.execute(f"TRUNCATE {MONTHS}")
        if engagement:
            cursor.execute(f"TRUNCATE {ENGAGEMENT}")
        cursor.execute(f"SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM {CUSTOMERS}")
        low, high = cursor.fetchone()
        buckets = 0
        source = (
            f"SELECT o.customer_id, {_local_month('o.placed_at')} AS month, "
            + _order_columns("s.time_zone")
            + f" FROM {ORDERS} o CROSS JOIN (SELECT %(zone)s::text AS time_zone) s"
            " WHERE o.status = ANY(%(statuses)s) AND o.customer_id >= %(low)s"
            " AND o.customer_id < %(high)s"
        )
        sql = buckets_insert_sql(source)
        for start in range(low, high + 1, chunk):
            params = {
                "zone": settings.TIME_ZONE,
                "statuses": statuses,
                "low": start,
                "high": start + chunk,
            }
            cursor.execute(sql, params)
            buckets += max(cursor.rowcount, 0)
            if engagement:
                cursor.execute(engagement_rebuild_sql(), params)
                buckets += max(cursor.rowcount, 0)
            if progress is not None:
                progress(min(start + chunk, high + 1) - low)
        cursor.execute(f"ANALYZE {MONTHS}")
        if engagement:
            cursor.execute(f"ANALYZE {ENGAGEMENT}")
        cursor.execute(
            f"UPDATE {STATE} SET complete = true, built_at = %s WHERE id = 1", [timezone.now()]
        )
    return buckets


def facts_unusable_reason(*, using: BaseDatabaseWrapper | None = None) -> str | None:
    """Why a run cannot read the customer facts now (None when it can).

    The facts must exist (PostgreSQL), be complete, and have been built in settings.TIME_ZONE
    with the statuses that count today.
    """
    conn = using or connection
    if conn.vendor != "postgresql":
        return "customer facts are kept on PostgreSQL only"
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT time_zone, statuses, complete FROM {STATE} WHERE id = 1")
        row = cursor.fetchone()
    if row is None:
        return "the customer facts were never built (manage.py facts_rebuild)"
    zone, statuses, complete = row
    if not complete:
        return "the customer facts are being built or their build failed (facts_rebuild)"
    if zone != settings.TIME_ZONE:
        return (
            f"the customer facts were built in time zone {zone}, the project's is"
            f" {settings.TIME_ZONE} (manage.py facts_rebuild)"
        )
    if sorted(statuses) != sorted(str(status) for status in Order.COUNTED_STATUSES):
        return "the customer facts count other order statuses (manage.py facts_rebuild)"
    return None
