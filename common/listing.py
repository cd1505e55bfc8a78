"""List pages that stay fast on million-row tables (issue #19).

- `EstimatedCountPaginator`: on PostgreSQL a list's count is the planner's row estimate when
  that estimate is large (an unfiltered million-row table: `pg_class.reltuples`; a filtered
  one: the estimate of `EXPLAIN`), and an exact `COUNT(*)` when it is small, so a filter
  down to a few hundred rows shows the exact figure. Pages are fetched as a deferred join:
  the page's primary keys first (an index-only scan, even deep into the list), then the rows.
- `choices_filter`: an admin list filter whose choices are given (the model's choices, a
  constant of the scoring package, a small table), never a `SELECT DISTINCT` over the table
  the list shows, which is what a list filter on a plain field does.

On SQLite (the embedded default) every count is exact: the tables are small there.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import ngettext

#: Below this many (estimated) rows the count is exact.
EXACT_COUNT_BELOW = 10_000


def row_estimate(queryset: QuerySet[Any]) -> int | None:
    """Return PostgreSQL's estimate of the rows `queryset` returns, or None elsewhere.

    An unfiltered queryset reads `pg_class.reltuples` (kept by ANALYZE and autovacuum); for a
    partitioned table (the score snapshots, one partition per run) the sum of its
    partitions' figures, because autovacuum never analyzes the parent (its own figure is
    what a manual ANALYZE once found, 0 if that was before the first run). A filtered
    queryset, or a partition never counted, gives the top plan node's row estimate from
    `EXPLAIN (FORMAT JSON)`; about a millisecond either way.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    query = queryset.query
    with connection.cursor() as cursor:
        if not query.where and not query.distinct and not query.combinator:
            cursor.execute(
                "SELECT CASE WHEN c.relkind <> 'p' THEN c.reltuples::bigint"
                " ELSE (SELECT CASE WHEN bool_and(p.reltuples >= 0)"
                " THEN coalesce(sum(p.reltuples), 0)::bigint ELSE -1 END"
                " FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid"
                " WHERE t.isleaf) END"
                " FROM pg_class c WHERE c.oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
            if row is not None and row[0] >= 0:
                return int(row[0])
        sql, params = queryset.values("pk").order_by().query.sql_with_params()
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A paginator whose count is estimated when it is large (PostgreSQL only).

    `count_is_estimate` tells a template to say "about". Pages are read by primary key
    first (`page_rows`), so a deep page costs an index scan over the skipped keys instead
    of joining and discarding every skipped row.
    """

    count_is_estimate = False
    #: Read even the first page's keys first: for lists whose joins the planner misjudges
    #: (a partitioned table, whose parent has no current statistics, joined to small ones:
    #: it would sort every row to find 50). The keys alone come from the primary key index.
    keys_first = False

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if isinstance(object_list, QuerySet):
            estimate = row_estimate(object_list)
            if estimate is not None and estimate >= EXACT_COUNT_BELOW:
                self.count_is_estimate = True
                return estimate
            return object_list.count()
        return len(object_list)

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self.page_rows(bottom, top), number, self)  # type: ignore[attr-defined]

    def validate_number(self, number: Any) -> int:
        # An estimate may be a little off: a page past the estimated end is simply empty
        # rather than an error, and the last page is never refused.
        if self.count_is_estimate:
            try:
                return max(int(number), 1)
            except (TypeError, ValueError):
                return super().validate_number(number)
        return super().validate_number(number)

    def page_rows(self, bottom: int, top: int) -> Any:
        object_list = self.object_list
        if (
            not isinstance(object_list, QuerySet)
            or (bottom == 0 and not self.keys_first)
            or object_list.query.combinator
        ):
            return object_list[bottom:top]
        keys = list(object_list.values_list("pk", flat=True)[bottom:top])
        return object_list.filter(pk__in=keys)


class KeysFirstPaginator(EstimatedCountPaginator):
    """`EstimatedCountPaginator` that reads every page's keys first (`keys_first`)."""

    keys_first = True


class ChoicesListFilter(admin.SimpleListFilter):
    """A list filter over one field with given choices (see `choices_filter`)."""

    field: str = ""
    choices_source: Callable[[], Iterable[tuple[str, Any]]] = staticmethod(lambda: ())

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(self.choices_source())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(**{self.field: value})


def choices_filter(
    field: str,
    title: Any,
    choices: Iterable[tuple[str, Any] | str] | Callable[[], Iterable[Any]],
) -> type[ChoicesListFilter]:
    """Return a list filter on `field` whose choices are `choices` (pairs, or a callable).

    Plain strings are accepted as choices and shown as they are.
    """

    def source() -> list[tuple[str, Any]]:
        items = choices() if callable(choices) else choices
        return [item if isinstance(item, tuple) else (item, item) for item in items]

    return type(
        f"{field.title().replace('_', '')}ChoicesFilter",
        (ChoicesListFilter,),
        {
            "title": title,
            "parameter_name": field,
            "field": field,
            "choices_source": staticmethod(source),
        },
    )


class PeriodListFilter(admin.SimpleListFilter):
    """A bounded date filter (the last 7, 30 or 365 days) in place of `date_hierarchy`.

    `date_hierarchy` lists the years, months and days present with a `SELECT DISTINCT
    DATE_TRUNC(...)` over the whole table on every page; these choices are fixed.
    """

    field: str = ""
    DAYS = (7, 30, 90, 365)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            (str(days), ngettext("Last %(days)d day", "Last %(days)d days", days) % {"days": days})
            for days in self.DAYS
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if value is None or not value.isdigit() or int(value) not in self.DAYS:
            return queryset
        since = timezone.now() - dt.timedelta(days=int(value))
        return queryset.filter(**{f"{self.field}__gte": since})


def period_filter(field: str, title: Any) -> type[PeriodListFilter]:
    """Return a `PeriodListFilter` on the date-time `field`."""
    return type(
        f"{field.title().replace('_', '')}PeriodFilter",
        (PeriodListFilter,),
        {"title": title, "parameter_name": f"{field}_within", "field": field},
    )


def indexed_values(model: type[Any], field: str, *, limit: int = 200) -> list[str]:
    """Return the distinct non-empty values of an indexed column, in order, at most `limit`.

    A loose index scan (a recursive CTE hopping from one value to the next through the
    column's b-tree: one index probe per value) instead of `SELECT DISTINCT`, which reads
    every row: sub-millisecond for the handful of industries of a million customers.
    """
    table = connections["default"].ops.quote_name(model._meta.db_table)
    column = connections["default"].ops.quote_name(model._meta.get_field(field).column)
    sql = (
        f"WITH RECURSIVE hop(value, n) AS ("
        f" SELECT MIN({column}), 1 FROM {table} WHERE {column} > ''"
        f" UNION ALL"
        f" SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > hop.value), n + 1"
        f" FROM hop WHERE hop.value IS NOT NULL AND n < %s"
        f") SELECT value FROM hop WHERE value IS NOT NULL"
    )
    with connections["default"].cursor() as cursor:
        cursor.execute(sql, [limit])
        return [row[0] for row in cursor.fetchall()]


def money_column(field: str, description: Any) -> Callable[[Any], str]:
    """Return a list column showing the money field `field` as people read it: ¥1,234.50.

    The admin's default shows a Decimal as it is stored (1234.50, no separators, no
    currency); this goes through `common.formatting.money` and still sorts by the field.
    """
    from common.formatting import money

    @admin.display(description=description, ordering=field)
    def column(obj: Any) -> str:
        return money(getattr(obj, field))

    column.__name__ = f"{field}_money"
    return column
