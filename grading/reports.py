"""Reports that show whether grading pays off, aggregated in the database.

Each function returns a `Table` (column names, the kind of each column, rows of plain values)
so every report can be rendered as HTML (through `common.formatting`), charted, and exported
to CSV (plain numbers) or XLSX (numeric cells with a number format) the same way. All
aggregation runs in SQL (GROUP BY over one run's snapshots, a join of two runs, or the
window's orders, redemptions and tickets joined to the run's snapshots): a million customers
never pass through Python one by one, except the Pareto curve, which reads one column of
numbers (and the appeal turnaround percentiles, computed from the few appeals' durations).
The per-grade, per-stage and per-layer tables add up one GROUP BY of the run's snapshots
(`snapshot_cells`), and a `ReportContext` shares every read between tables and languages.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Count, F, Model, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from common import formatting
from common.dates import local_midnight
from customers.models import Order
from grading.labels import lifecycle_label, pyramid_label, run_label
from grading.models import Grade, GradingRun, ScoreSnapshot
from grading.pipeline.extract import window_money_sql
from grading.pipeline.pgcopy import numeric_columns
from grading.scoring.rules import LIFECYCLE_STAGES, PYRAMID_LAYERS


@dataclass
class Table:
    """A report table: translated column titles and rows of plain values.

    `kinds` names what each column holds, aligned with `columns`: "text", "count", "money",
    "percent", "score", "number", "date" (`common.formatting`); pages format the cells by it,
    XLSX exports give the cells its number format, CSV keeps the plain values. A column
    without a kind is formatted by the type of its values. `notes` are alarms (shown
    highlighted: an inversion, a grade costing more than it earns); `remarks` explain how the
    figures were computed (assumptions, data left out).
    """

    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)

    def kind(self, index: int) -> str:
        """Return the kind of column `index` ("" when not given)."""
        return self.kinds[index] if index < len(self.kinds) else ""

    def display_rows(self) -> list[list[str]]:
        """Return the rows as people read them, in the active language."""
        return [
            [formatting.display(value, self.kind(i)) for i, value in enumerate(row)]
            for row in self.rows
        ]

    def numeric_columns(self) -> list[bool]:
        """Return, per column, whether it holds numbers (right-aligned on pages)."""
        return [self.kind(i) not in ("", "text", "date", "month") for i in range(len(self.columns))]

    def columns_with_alignment(self) -> list[tuple[str, bool]]:
        """Return (column title, is a number) pairs."""
        return list(zip(self.columns, self.numeric_columns(), strict=True))

    def display_cells(self) -> list[list[tuple[str, bool]]]:
        """Return the rows as (text for people, is a number) pairs, for the page's table."""
        numeric = self.numeric_columns()
        return [[(text, numeric[i]) for i, text in enumerate(row)] for row in self.display_rows()]


def grades_by_rank() -> dict[int, Grade]:
    return {g.pk: g for g in Grade.objects.order_by("-rank")}


def percent(part: float, whole: float) -> float:
    """Return `part` as a percentage of `whole`, 2 decimals (0.0 when `whole` is 0)."""
    return round(100.0 * part / whole, 2) if whole else 0.0


CENT = Decimal("0.01")


def run_window(run: GradingRun) -> tuple[dt.datetime, dt.datetime]:
    """Return the run's window [as_of - window_days, as_of) as aware local midnights."""
    start = run.as_of - dt.timedelta(days=run.scheme.window_days)
    return local_midnight(start), local_midnight(run.as_of)


def money(value: Any) -> Decimal:
    """Return a sum (Decimal; int or float on SQLite; None over no rows) to the cent."""
    return Decimal(str(value or 0)).quantize(CENT)


def per_grade(queryset: QuerySet[Any], grade: str, **aggregates: Any) -> dict[int, dict]:
    """Return {grade id: aggregates} of `queryset` grouped by the grade at path `grade`.

    Aggregate names must differ from the model's field names (Django would aggregate twice).
    """
    rows = queryset.values(run_grade=F(grade)).annotate(**aggregates).order_by()
    return {row.pop("run_grade"): row for row in rows}


def customers_per_grade(run: GradingRun, **aggregates: Any) -> dict[int, dict]:
    return per_grade(
        ScoreSnapshot.objects.filter(run=run), "grade_after_id", customers=Count("id"), **aggregates
    )


#: The sums of `snapshot_cells`, per (grade, lifecycle stage, pyramid layer).
CELL_SUMS = (
    "customers",
    "sum_composite",
    "sum_historical",
    "sum_potential",
    "sum_cooperation",
    "sum_monetary",
    "buyers",
    "repeat",
    "sum_profit_cents",
    "sum_unknown_profit",
    "no_profit",
)


def snapshot_cells(run: GradingRun) -> list[dict[str, Any]]:
    """Return the run's snapshots summed per (grade after, lifecycle stage, pyramid layer).

    One GROUP BY over the run's snapshots (at most grades x 6 x 4 rows) from which every
    per-grade, per-stage and per-layer table of the run is added up (`cells_by`), instead of
    one scan of the snapshots per table: customers, the sums of composite, historical,
    potential and cooperation, net purchases in the window (`sum_monetary`, exact), buying
    customers (F >= 1) and repeat buyers (F >= 2), the window's recorded profit in cents and
    orders without a recorded profit, and the snapshots that do not keep those (written
    before they were kept: `no_profit`). Language-neutral: the tables of every
    language are built from the same cells.
    """
    rows = (
        ScoreSnapshot.objects.filter(run=run)
        .values("grade_after_id", "lifecycle", "pyramid")
        .annotate(
            customers=Count("id"),
            sum_composite=Sum("composite"),
            sum_historical=Sum("historical"),
            sum_potential=Sum("potential"),
            sum_cooperation=Sum("cooperation"),
            sum_monetary=Sum("monetary"),
            buyers=Count("id", filter=Q(frequency__gte=1)),
            repeat=Count("id", filter=Q(frequency__gte=2)),
            sum_profit_cents=Sum("window_profit_cents"),
            sum_unknown_profit=Sum("unknown_profit"),
            no_profit=Count("id", filter=Q(unknown_profit__isnull=True)),
        )
        .order_by()
    )
    cells: list[dict[str, Any]] = []
    for row in rows:
        cell: dict[str, Any] = dict(row)
        cell["sum_monetary"] = cell["sum_monetary"] or Decimal(0)
        cell["sum_profit_cents"] = int(cell["sum_profit_cents"] or 0)
        cell["sum_unknown_profit"] = int(cell["sum_unknown_profit"] or 0)
        cell.update({name: float(cell[name] or 0) for name in CELL_SUMS[1:5]})
        cells.append(cell)
    return cells


def cells_by(cells: Sequence[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    """Return the `CELL_SUMS` of `cells` added up per value of `key` ("grade_after_id",
    "lifecycle" or "pyramid")."""
    totals: dict[Any, dict[str, Any]] = {}
    for cell in cells:
        total = totals.setdefault(
            cell[key], {name: Decimal(0) if name == "sum_monetary" else 0 for name in CELL_SUMS}
        )
        for name in CELL_SUMS:
            total[name] += cell[name]
    return totals


def by_run_grade(
    run: GradingRun,
    model: type[Model],
    *,
    at: str,
    select: Sequence[str],
    select_params: Sequence[Any] = (),
    join: str = "",
    where: str = "",
    params: Sequence[Any] = (),
) -> dict[int, tuple[Any, ...]]:
    """Return {grade id: aggregates} of `model`'s rows dated in the run's window.

    One statement grouping the rows (alias `t`, column `at` in [start, end)) by the run's
    grade of their customer (`s.grade_after_id`). The rows join the run's snapshots on
    `customer_id` directly: the ORM path `customer__snapshots` would also join the customers
    table, a hash of every customer on each report at scale. A customer has at most one
    snapshot per run, so no row is counted twice. `select` are SQL aggregates; `join` and
    `where` add clauses; table and column names come from the models, values are parameters.
    """
    start, end = (connection.ops.adapt_datetimefield_value(d) for d in run_window(run))
    sql = (
        f"SELECT s.grade_after_id, {', '.join(select)} FROM {model._meta.db_table} t"
        f" JOIN {ScoreSnapshot._meta.db_table} s ON s.customer_id = t.customer_id {join}"
        f" WHERE s.run_id = %s AND t.{at} >= %s AND t.{at} < %s {where}"
        " GROUP BY s.grade_after_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*select_params, run.pk, start, end, *params])
        return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}


def window_orders_by_grade(
    *, run: GradingRun, cells: Sequence[dict[str, Any]] | None = None
) -> dict[int, dict[str, Any]]:
    """Return per grade of `run` the counted orders of the window: revenue and profit.

    {grade id: {"revenue": net amount, "profit": sum of recorded profits, "unknown_profit":
    orders with no recorded profit}} over paid/completed orders placed in [as_of -
    window_days, as_of), by the run's grade of their customer, for the grades with such
    orders. From the run's `snapshot_cells` (read when not given): revenue is the snapshots'
    `monetary` (the same window, statuses and refunds), profit and unknown orders what the
    run wrote next to it; no order is read. A run whose snapshots do not keep the profit
    (written before it was kept) reads it in one statement over the customer facts where
    they can be read (`extract.window_money_sql`), else over the window's orders, as they
    are now. The reports page computes it once for the revenue and cost-to-serve tables
    (pass it as `orders=`).
    """
    totals = cells_by(snapshot_cells(run) if cells is None else cells, "grade_after_id")
    if not any(total["no_profit"] for total in totals.values()):
        return {
            grade_id: {
                "revenue": money(total["sum_monetary"]),
                "profit": money(Decimal(total["sum_profit_cents"]) / 100),
                "unknown_profit": total["sum_unknown_profit"],
            }
            for grade_id, total in totals.items()
            if total["buyers"]
        }
    money_sql = window_money_sql(as_of=run.as_of, window_days=run.scheme.window_days)
    if money_sql is not None:
        sql, params = money_sql
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT s.grade_after_id, sum(w.net_cents), sum(w.profit_cents),"
                f" sum(w.unknown_profit) FROM ({sql}) w"
                f" JOIN {ScoreSnapshot._meta.db_table} s ON s.customer_id = w.customer_id"
                " WHERE s.run_id = %s GROUP BY s.grade_after_id",
                [*params, run.pk],
            )
            cents = {row[0]: row[1:] for row in cursor.fetchall()}
        return {
            grade_id: {
                "revenue": money(Decimal(revenue) / 100),
                "profit": money(Decimal(profit) / 100),
                "unknown_profit": int(unknown),
            }
            for grade_id, (revenue, profit, unknown) in cents.items()
        }
    counted = [str(s) for s in Order.COUNTED_STATUSES]
    rows = by_run_grade(
        run,
        Order,
        at="placed_at",
        select=["SUM(t.amount - t.refunded_amount)", "SUM(t.profit)", "COUNT(*) - COUNT(t.profit)"],
        where=f"AND t.status IN ({', '.join(['%s'] * len(counted))})",
        params=counted,
    )
    return {
        grade_id: {"revenue": money(revenue), "profit": money(profit), "unknown_profit": unknown}
        for grade_id, (revenue, profit, unknown) in rows.items()
    }


def value_distribution(*, run: GradingRun, cells: Sequence[dict[str, Any]] | None = None) -> Table:
    """Return customers, average scores and window purchases per grade of `run`.

    From the run's `snapshot_cells` (read when not given), highest grade first.
    """
    per = cells_by(snapshot_cells(run) if cells is None else cells, "grade_after_id")
    rows = [
        {
            "grade_name": grade.name,
            "customers": per[grade.pk]["customers"],
            **{
                name: per[grade.pk][f"sum_{name}"] / per[grade.pk]["customers"]
                for name in ("composite", "historical", "potential", "cooperation")
            },
            "monetary": per[grade.pk]["sum_monetary"],
        }
        for grade in grades_by_rank().values()
        if grade.pk in per
    ]
    total = sum(r["customers"] for r in rows)
    revenue = sum((r["monetary"] or Decimal(0)) for r in rows)
    return Table(
        title=_("Value distribution per grade"),
        columns=[
            _("grade"),
            _("customers"),
            _("share of customers %"),
            _("avg composite"),
            _("avg historical"),
            _("avg potential"),
            _("avg cooperation"),
            _("net purchases in window"),
            _("share of purchases %"),
        ],
        kinds=["text", "count", "percent", "score", "score", "score", "score", "money", "percent"],
        rows=[
            [
                r["grade_name"],
                r["customers"],
                percent(r["customers"], total),
                round(r["composite"] or 0, 2),
                round(r["historical"] or 0, 2),
                round(r["potential"] or 0, 2),
                round(r["cooperation"] or 0, 2),
                money(r["monetary"]),
                percent(float(r["monetary"] or 0), float(revenue)),
            ]
            for r in rows
        ],
    )


def grade_movement(*, limit: int = 24) -> Table:
    """Return up / down / flat counts and rates of the latest succeeded runs."""
    runs = GradingRun.objects.filter(status=GradingRun.Status.SUCCEEDED).select_related("scheme")[
        :limit
    ]
    rows = []
    for run in runs:
        up = run.upgraded
        down = run.downgraded
        flat = run.scored - up - down - run.assigned
        rows.append(
            [
                run.as_of,
                run.scheme.name,
                run.scored,
                run.assigned,
                up,
                down,
                run.downgrade_proposals,
                run.warned,
                flat,
                percent(up, run.scored),
                percent(down, run.scored),
            ]
        )
    return Table(
        title=_("Grade movement per run"),
        columns=[
            _("as of"),
            _("scheme"),
            _("scored"),
            _("first grades"),
            _("up"),
            _("down"),
            _("downgrade proposals"),
            _("warned"),
            _("flat"),
            _("up rate %"),
            _("down rate %"),
        ],
        kinds=["date", "text", *["count"] * 7, "percent", "percent"],
        rows=rows,
    )


def transition_counts(*, before: GradingRun, after: GradingRun) -> dict[tuple[int, int], int]:
    """Return {(grade id in `before`, grade id in `after`): customers} (one statement)."""
    table = ScoreSnapshot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.grade_after_id, b.grade_after_id, COUNT(*) FROM {table} a"
            f" JOIN {table} b ON a.customer_id = b.customer_id"
            " WHERE a.run_id = %s AND b.run_id = %s GROUP BY a.grade_after_id, b.grade_after_id",
            [before.pk, after.pk],
        )
        return {(a, b): n for a, b, n in cursor.fetchall()}


def transition_matrix(
    *,
    before: GradingRun,
    after: GradingRun,
    counts: dict[tuple[int, int], int] | None = None,
) -> Table:
    """Return how many customers moved from each grade in `before` to each in `after`
    (`transition_counts`, or `counts` already read)."""
    counts = transition_counts(before=before, after=after) if counts is None else counts
    grades = list(grades_by_rank().values())
    rows: list[list[Any]] = [
        [
            g.name,
            *[counts.get((g.pk, h.pk), 0) for h in grades],
            sum(counts.get((g.pk, h.pk), 0) for h in grades),
        ]
        for g in grades
    ]
    return Table(
        title=_("Grade transitions from %(before)s to %(after)s")
        % {"before": run_label(before), "after": run_label(after)},
        columns=[_("from \\ to"), *[g.name for g in grades], _("total")],
        kinds=["text", *["count"] * (len(grades) + 1)],
        rows=rows,
    )


#: The kinds of `revenue_share_columns`.
REVENUE_SHARE_KINDS = ["text", "count", "money", "percent", "money", "percent"]


def revenue_share_columns() -> list[str]:
    """Return the columns of a revenue and profit share table (here and under a draft)."""
    return [
        _("grade"),
        _("buying customers"),
        _("net revenue"),
        _("revenue share %"),
        _("profit"),
        _("profit share %"),
    ]


def revenue_profit_share(
    *,
    run: GradingRun,
    orders: dict[int, dict[str, Any]] | None = None,
    cells: Sequence[dict[str, Any]] | None = None,
) -> Table:
    """Return net revenue and profit of the run's window per grade, with shares.

    Grades with at least one counted order in the window, highest first. Revenue and profit
    come from the orders (`window_orders_by_grade`, or `orders` already computed); buying
    customers are the grade's snapshots with F >= 1 (the same orders, counted by the run;
    from `snapshot_cells`, or `cells` already read).
    """
    orders = window_orders_by_grade(run=run) if orders is None else orders
    buyers = cells_by(snapshot_cells(run) if cells is None else cells, "grade_after_id")
    total_revenue = sum(float(o["revenue"]) for o in orders.values())
    total_profit = sum(float(o["profit"]) for o in orders.values())
    return Table(
        title=_("Revenue and profit per grade"),
        columns=revenue_share_columns(),
        kinds=REVENUE_SHARE_KINDS,
        rows=[
            [
                grade.name,
                buyers.get(grade.pk, {}).get("buyers", 0),
                orders[grade.pk]["revenue"],
                percent(float(orders[grade.pk]["revenue"]), total_revenue),
                orders[grade.pk]["profit"],
                percent(float(orders[grade.pk]["profit"]), total_profit),
            ]
            for grade in grades_by_rank().values()
            if grade.pk in orders
        ],
    )


@dataclass
class Pareto:
    """The cumulative revenue curve: x = share of customers (best first), y = revenue share."""

    points: list[tuple[float, float]]
    customers_for_80: float  # share of buying customers that make 80% of revenue (%)
    buyers: int


def pareto_curve(*, run: GradingRun, points: int = 20) -> Pareto:
    """Return the Pareto curve of window revenue among the run's buying customers.

    One read of the buying customers' window purchases as floats (a binary COPY on
    PostgreSQL), sorted largest first here.
    """
    values = numeric_columns(
        f"SELECT CAST(monetary AS double precision) FROM {ScoreSnapshot._meta.db_table}"
        " WHERE run_id = %s AND monetary > 0",
        [run.pk],
        [("monetary", "f8")],
    )["monetary"]
    values = -np.sort(-values)
    if values.size == 0:
        return Pareto(points=[(0.0, 0.0), (100.0, 100.0)], customers_for_80=0.0, buyers=0)
    cumulative = np.cumsum(values) / values.sum()
    needed = int(np.searchsorted(cumulative, 0.8 - 1e-12)) + 1
    xs = np.linspace(0, values.size, points + 1).astype(int)
    curve = [(0.0, 0.0)] + [
        (round(100.0 * x / values.size, 2), round(100.0 * float(cumulative[x - 1]), 2))
        for x in xs[1:]
    ]
    return Pareto(
        points=curve, customers_for_80=round(100.0 * needed / values.size, 2), buyers=values.size
    )


def stage_distribution(
    *, run: GradingRun, cells: Sequence[dict[str, Any]] | None = None
) -> tuple[Table, Table]:
    """Return the lifecycle-stage and value-pyramid distributions of `run`.

    From the run's `snapshot_cells` (read when not given); stages and layers with the most
    customers first (ties in the order the stages and layers are defined).
    """
    cells = snapshot_cells(run) if cells is None else cells
    tables = []
    for column, title, heading, label, order in (
        (
            "lifecycle",
            _("Lifecycle stages"),
            _("lifecycle stage"),
            lifecycle_label,
            LIFECYCLE_STAGES,
        ),
        ("pyramid", _("Value pyramid"), _("pyramid layer"), pyramid_label, PYRAMID_LAYERS),
    ):
        per = cells_by(cells, column)
        position = {value: i for i, value in enumerate(order)}
        rows = sorted(
            ({column: value, **sums} for value, sums in per.items()),
            key=lambda r: (-r["customers"], position.get(r[column], len(order)), r[column]),
        )
        total = sum(r["customers"] for r in rows)
        tables.append(
            Table(
                title=title,
                columns=[heading, _("customers"), _("share %"), _("net purchases")],
                kinds=["text", "count", "percent", "money"],
                rows=[
                    [
                        label(r[column]),
                        r["customers"],
                        percent(r["customers"], total),
                        money(r["sum_monetary"]),
                    ]
                    for r in rows
                ],
            )
        )
    return tables[0], tables[1]


def repurchase_by_grade(*, run: GradingRun, cells: Sequence[dict[str, Any]] | None = None) -> Table:
    """Return each grade's repurchase rate and flag grade inversions.

    Repurchase rate = the share of the grade's customers with at least two counted orders in
    the run's window. A higher grade whose rate is below a lower grade's is an inversion: a
    sign that the weights reward something other than loyal buying. From the run's
    `snapshot_cells` (read when not given).
    """
    per = cells_by(snapshot_cells(run) if cells is None else cells, "grade_after_id")
    rows = [
        {
            "grade_name": grade.name,
            "customers": per[grade.pk]["customers"],
            "repeat": per[grade.pk]["repeat"],
        }
        for grade in grades_by_rank().values()
        if grade.pk in per
    ]
    rates = [(r["grade_name"], percent(r["repeat"], r["customers"])) for r in rows]
    notes = inversion_notes(rates)
    return Table(
        title=_("Repurchase rate per grade"),
        columns=[_("grade"), _("customers"), _("repeat buyers"), _("repurchase rate %")],
        kinds=["text", "count", "count", "percent"],
        rows=[
            [r["grade_name"], r["customers"], r["repeat"], rate]
            for r, (_name, rate) in zip(rows, rates, strict=True)
        ],
        notes=notes,
    )


def inversion_notes(rates: Sequence[tuple[str, float]]) -> list[str]:
    """Return one alarm per pair (higher, lower) whose higher grade repurchases less.

    `rates` is [(grade name, repurchase rate %)], highest grade first. Shared by the run's
    report and the what-if under a draft scheme.
    """
    notes = []
    for i, (higher, high_rate) in enumerate(rates):
        for lower, low_rate in rates[i + 1 :]:
            if high_rate < low_rate:
                notes.append(
                    _(
                        "Inversion: %(higher)s repurchases %(high)s but the lower grade "
                        "%(lower)s repurchases %(low)s."
                    )
                    % {
                        "higher": higher,
                        "high": formatting.percent(high_rate),
                        "lower": lower,
                        "low": formatting.percent(low_rate),
                    }
                )
    return notes


# ------------------------------------------------------------------ reports of other apps
#
# Apps that build on grading (docs/architecture.md, "Layers": customers <- grading <-
# benefits, appeals) add their tables to the reports page by registering a `ReportSection`
# in their AppConfig's `ready()`: grading never imports them.


@dataclass
class ReportContext:
    """What a section's builder gets: the run, the run it is compared with, shared reads."""

    run: GradingRun
    before: GradingRun | None = None
    _reads: dict[Any, Any] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def window_orders(self) -> dict[int, dict[str, Any]]:
        """`window_orders_by_grade` of the run (from `cells`), once per page for every table
        using it."""
        return window_orders_by_grade(run=self.run, cells=self.cells)

    @functools.cached_property
    def cells(self) -> list[dict[str, Any]]:
        """`snapshot_cells` of the run: the one read of its snapshots for the per-grade,
        per-stage and per-layer tables."""
        return snapshot_cells(self.run)

    @functools.cached_property
    def customers_per_grade(self) -> dict[int, dict[str, Any]]:
        """{grade id: {"customers": n}} of the run, from `cells`."""
        return {
            grade: {"customers": sums["customers"]}
            for grade, sums in cells_by(self.cells, "grade_after_id").items()
        }

    def read(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Return `compute()` once per context and `key`: a language-neutral read that
        several tables, or the same table in several languages, share."""
        if key not in self._reads:
            self._reads[key] = compute()
        return self._reads[key]


@dataclass(frozen=True)
class ReportSection:
    """A table another app adds to the reports page.

    `build` computes it; `after` is the key of the table it follows (appended when None);
    `per_run` tables belong to one run and are cached with its other tables; `chart`, when
    given, turns the table into (title, SVG) for the page's chart grid.
    """

    key: str
    build: Callable[[ReportContext], Table]
    after: str | None = None
    per_run: bool = True
    chart: Callable[[Table], tuple[str, str]] | None = None


_SECTIONS: dict[str, ReportSection] = {}


def report_register(section: ReportSection) -> None:
    """Add `section` to the reports page (registering a key again replaces it)."""
    _SECTIONS[section.key] = section


def registered_reports() -> tuple[ReportSection, ...]:
    """Return the sections other apps registered, in registration order."""
    return tuple(_SECTIONS.values())


def months_back(day: dt.date, months: int) -> dt.date:
    """Return the first day of the month `months` months before `day`'s month."""
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)
