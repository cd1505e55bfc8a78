"""Reports that show whether grading pays off, aggregated in the database.

Each function returns a `Table` (column names + rows of plain values) so every report can be
rendered as HTML, charted, and exported to CSV or XLSX the same way. All aggregation runs in
SQL (GROUP BY over one run's snapshots, or a join of two runs): a million customers never
pass through Python one by one, except the Pareto curve, which reads one column of numbers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Avg, Count, Q, Sum
from django.utils.translation import gettext as _

from customers.models import Order
from grading.models import Grade, GradingRun, ScoreSnapshot


@dataclass
class Table:
    """A report table: translated column titles and rows of plain values."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)


def _grades() -> dict[int, Grade]:
    return {g.pk: g for g in Grade.objects.order_by("-rank")}


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def value_distribution(*, run: GradingRun) -> Table:
    """Return customers, average scores and window purchases per grade of `run`."""
    rows = (
        ScoreSnapshot.objects.filter(run=run)
        .values("grade_after__name", "grade_after__rank")
        .annotate(
            customers=Count("id"),
            composite=Avg("composite"),
            historical=Avg("historical"),
            potential=Avg("potential"),
            cooperation=Avg("cooperation"),
            monetary=Sum("monetary"),
        )
        .order_by("-grade_after__rank")
    )
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
        rows=[
            [
                r["grade_after__name"],
                r["customers"],
                _pct(r["customers"], total),
                round(r["composite"] or 0, 2),
                round(r["historical"] or 0, 2),
                round(r["potential"] or 0, 2),
                round(r["cooperation"] or 0, 2),
                r["monetary"] or Decimal(0),
                _pct(float(r["monetary"] or 0), float(revenue)),
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
                str(run.scheme),
                run.scored,
                run.assigned,
                up,
                down,
                run.downgrade_proposals,
                run.warned,
                flat,
                _pct(up, run.scored),
                _pct(down, run.scored),
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
        rows=rows,
    )


def transition_matrix(*, before: GradingRun, after: GradingRun) -> Table:
    """Return how many customers moved from each grade in `before` to each in `after`."""
    table = ScoreSnapshot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.grade_after_id, b.grade_after_id, COUNT(*) FROM {table} a"
            f" JOIN {table} b ON a.customer_id = b.customer_id"
            " WHERE a.run_id = %s AND b.run_id = %s GROUP BY a.grade_after_id, b.grade_after_id",
            [before.pk, after.pk],
        )
        counts = {(a, b): n for a, b, n in cursor.fetchall()}
    grades = list(_grades().values())
    rows = [
        [
            g.name,
            *[counts.get((g.pk, h.pk), 0) for h in grades],
            sum(counts.get((g.pk, h.pk), 0) for h in grades),
        ]
        for g in grades
    ]
    return Table(
        title=_("Grade transitions from %(before)s to %(after)s")
        % {"before": before.as_of, "after": after.as_of},
        columns=[_("from \\ to"), *[g.name for g in grades], _("total")],
        rows=rows,
    )


def revenue_profit_share(*, run: GradingRun) -> Table:
    """Return net revenue and profit of the run's window per grade, with shares."""
    start = run.as_of - dt.timedelta(days=run.scheme.window_days)
    from grading.engine import local_midnight

    orders = Order.objects.filter(
        status__in=[str(s) for s in Order.COUNTED_STATUSES],
        placed_at__gte=local_midnight(start),
        placed_at__lt=local_midnight(run.as_of),
        customer__snapshots__run=run,
    )
    rows = (
        orders.values(
            "customer__snapshots__grade_after__name", "customer__snapshots__grade_after__rank"
        )
        .annotate(
            revenue=Sum("amount") - Sum("refunded_amount"),
            profit=Sum("profit"),
            customers=Count("customer", distinct=True),
        )
        .order_by("-customer__snapshots__grade_after__rank")
    )
    total_revenue = sum(float(r["revenue"] or 0) for r in rows)
    total_profit = sum(float(r["profit"] or 0) for r in rows)
    return Table(
        title=_("Revenue and profit per grade"),
        columns=[
            _("grade"),
            _("buying customers"),
            _("net revenue"),
            _("revenue share %"),
            _("profit"),
            _("profit share %"),
        ],
        rows=[
            [
                r["customer__snapshots__grade_after__name"],
                r["customers"],
                r["revenue"] or Decimal(0),
                _pct(float(r["revenue"] or 0), total_revenue),
                r["profit"] or Decimal(0),
                _pct(float(r["profit"] or 0), total_profit),
            ]
            for r in rows
        ],
    )


@dataclass
class Pareto:
    """The cumulative revenue curve: x = share of customers (best first), y = revenue share."""

    points: list[tuple[float, float]]
    customers_for_80: float  # share of buying customers that make 80% of revenue (%)
    buyers: int


def pareto_curve(*, run: GradingRun, points: int = 20) -> Pareto:
    """Return the Pareto curve of window revenue among the run's buying customers."""
    values = np.fromiter(
        ScoreSnapshot.objects.filter(run=run, monetary__gt=0)
        .order_by("-monetary")
        .values_list("monetary", flat=True)
        .iterator(chunk_size=50_000),
        dtype=np.float64,
    )
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


def stage_distribution(*, run: GradingRun) -> tuple[Table, Table]:
    """Return the lifecycle-stage and value-pyramid distributions of `run`."""
    tables = []
    for column, title in (
        ("lifecycle", _("Lifecycle stages")),
        ("pyramid", _("Value pyramid")),
    ):
        rows = (
            ScoreSnapshot.objects.filter(run=run)
            .values(column)
            .annotate(customers=Count("id"), monetary=Sum("monetary"))
            .order_by("-customers")
        )
        total = sum(r["customers"] for r in rows)
        tables.append(
            Table(
                title=title,
                columns=[_("stage"), _("customers"), _("share %"), _("net purchases")],
                rows=[
                    [r[column], r["customers"], _pct(r["customers"], total), r["monetary"]]
                    for r in rows
                ],
            )
        )
    return tables[0], tables[1]


def repurchase_by_grade(*, run: GradingRun) -> Table:
    """Return each grade's repurchase rate and flag grade inversions.

    Repurchase rate = the share of the grade's customers with at least two counted orders in
    the run's window. A higher grade whose rate is below a lower grade's is an inversion: a
    sign that the weights reward something other than loyal buying.
    """
    rows = list(
        ScoreSnapshot.objects.filter(run=run)
        .values("grade_after__name", "grade_after__rank")
        .annotate(customers=Count("id"), repeat=Count("id", filter=Q(frequency__gte=2)))
        .order_by("-grade_after__rank")
    )
    rates = [(r["grade_after__name"], _pct(r["repeat"], r["customers"])) for r in rows]
    notes = []
    for i, (higher, high_rate) in enumerate(rates):
        for lower, low_rate in rates[i + 1 :]:
            if high_rate < low_rate:
                notes.append(
                    _(
                        "Inversion: %(higher)s repurchases %(high).2f%% but the lower grade "
                        "%(lower)s repurchases %(low).2f%%."
                    )
                    % {"higher": higher, "high": high_rate, "lower": lower, "low": low_rate}
                )
    return Table(
        title=_("Repurchase rate per grade"),
        columns=[_("grade"), _("customers"), _("repeat buyers"), _("repurchase rate %")],
        rows=[
            [r["grade_after__name"], r["customers"], r["repeat"], rate]
            for r, (_name, rate) in zip(rows, rates, strict=True)
        ],
        notes=notes,
    )
