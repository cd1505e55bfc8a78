"""What-if: score today's population with a draft scheme before activating it (no writes).

Besides the grade-to-grade matrix it shows the effect on the reports (value distribution,
revenue and profit share, repurchase rate with the inversion alarm) under the draft grades,
computed from the in-memory scores frame plus one grouped read of the window's profit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from django.db.models import FloatField, Sum
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from common.dates import local_midnight
from customers.models import Order
from grading.models import CustomerGrade, Grade, GradingScheme
from grading.pipeline import decide
from grading.pipeline.rules import scheme_rules
from grading.reports import (
    REVENUE_SHARE_KINDS,
    Table,
    inversion_notes,
    percent,
    revenue_share_columns,
)


@dataclass
class WhatIf:
    """The draft's effect: moves between grades and the reports under the draft grades."""

    scheme: GradingScheme
    as_of: dt.date
    scored: int
    moved: int
    matrix: Table
    distribution: Table
    revenue: Table
    repurchase: Table

    def tables(self) -> dict[str, Table]:
        """Return the tables by export key, in page order."""
        return {
            "matrix": self.matrix,
            "distribution": self.distribution,
            "revenue": self.revenue,
            "repurchase": self.repurchase,
        }


def scheme_what_if(*, scheme: GradingScheme, as_of: dt.date) -> WhatIf:
    """Return how customers' current grades would move if `scheme` graded them at `as_of`.

    Reads the population with the pipeline's extract, scores it with the draft's rules and
    compares the computed grade with each customer's current grade; nothing is written. The
    draft grade is the grade the scores earn (before hysteresis, warnings and pins, which
    only a run applies). Also returns the reports under the draft grades: value
    distribution, revenue and profit share (buying customers: F >= 1) and repurchase rate
    (F >= 2 in the window) with the inversion alarm.
    """
    rules = scheme_rules(scheme)
    scores = decide.score_period(rules=rules, as_of=as_of)
    current = pd.Series(
        dict(CustomerGrade.objects.values_list("customer_id", "grade__code")), dtype="str"
    )
    frame = pd.DataFrame(
        {
            "current": current.reindex(scores.index).fillna("—"),
            "draft": scores["grade"].astype("str"),
            "composite": scores["composite"],
            "monetary": scores["monetary_cents"] / 100,
        }
    )
    grades = list(Grade.objects.order_by("-rank"))
    codes = [g.code for g in grades]
    names = {g.code: g.name for g in grades} | {"—": _("not graded")}
    counts = frame.groupby(["current", "draft"]).size()
    row_codes = [c for c in [*codes, "—"] if c in set(frame["current"])]
    matrix = Table(
        title=_("Current grade → grade under %(scheme)s") % {"scheme": scheme},
        columns=[_("current \\ draft"), *[names[c] for c in codes], _("total")],
        kinds=["text", *["count"] * (len(codes) + 1)],
        rows=[
            [
                names[r],
                *[int(counts.get((r, c), 0)) for c in codes],
                int(counts.xs(r, level=0).sum()) if r in counts.index.get_level_values(0) else 0,
            ]
            for r in row_codes
        ],
    )
    by_grade = frame.groupby("draft").agg(
        customers=("draft", "size"), composite=("composite", "mean"), monetary=("monetary", "sum")
    )
    total_monetary = float(by_grade["monetary"].sum())
    stats = by_grade.to_dict("index")
    distribution = Table(
        title=_("Value distribution under the draft"),
        columns=[
            _("grade"),
            _("customers"),
            _("share of customers %"),
            _("avg composite"),
            _("net purchases in window"),
            _("share of purchases %"),
        ],
        kinds=["text", "count", "percent", "score", "money", "percent"],
        rows=[
            [
                names[c],
                int(stats[c]["customers"]),
                percent(int(stats[c]["customers"]), len(frame)),
                round(float(stats[c]["composite"]), 2),
                round(float(stats[c]["monetary"]), 2),
                percent(float(stats[c]["monetary"]), total_monetary),
            ]
            for c in codes
            if c in stats
        ],
    )
    frame["frequency"] = scores["frequency"]
    frame["monetary_cents"] = scores["monetary_cents"]
    frame["profit"] = _window_profit(as_of=as_of, window_days=scheme.window_days).reindex(
        scores.index, fill_value=0.0
    )
    present = [c for c in codes if c in by_grade.index]
    moved = int((frame["current"] != frame["draft"]).sum())
    return WhatIf(
        scheme=scheme,
        as_of=as_of,
        scored=len(frame),
        moved=moved,
        matrix=matrix,
        distribution=distribution,
        revenue=_revenue_share(frame, present, names),
        repurchase=_repurchase(frame, present, names),
    )


def _window_profit(*, as_of: dt.date, window_days: int) -> pd.Series:
    """Return the profit of each customer's counted orders in the window, by customer_id.

    One grouped query (profit is not a scoring input, so the scores frame lacks it); orders
    with no recorded profit count as 0, as in `benefits.reports.cost_to_serve`.
    """
    start = local_midnight(as_of - dt.timedelta(days=window_days))
    rows = list(
        Order.objects.filter(
            status__in=[str(s) for s in Order.COUNTED_STATUSES],
            placed_at__gte=start,
            placed_at__lt=local_midnight(as_of),
            profit__isnull=False,
        )
        .values("customer_id")
        .annotate(total=Cast(Sum("profit"), FloatField()))
        .order_by()
        .values_list("customer_id", "total")
    )
    ids, profits = zip(*rows, strict=True) if rows else ((), ())
    return pd.Series(list(profits), index=pd.Index(list(ids), dtype="int64"), dtype="float64")


def _revenue_share(frame: pd.DataFrame, codes: list[str], names: dict[str, str]) -> Table:
    """Return net revenue and profit per draft grade with shares (as `revenue_profit_share`)."""
    buyers = frame[frame["frequency"] >= 1]
    by_grade = buyers.groupby("draft").agg(
        customers=("draft", "size"), cents=("monetary_cents", "sum"), profit=("profit", "sum")
    )
    total_cents = int(by_grade["cents"].sum())
    total_profit = float(by_grade["profit"].sum())
    stats = by_grade.to_dict("index")
    return Table(
        title=_("Revenue and profit per grade under the draft"),
        columns=revenue_share_columns(),
        kinds=REVENUE_SHARE_KINDS,
        rows=[
            [
                names[c],
                int(stats[c]["customers"]),
                Decimal(int(stats[c]["cents"])).scaleb(-2),
                percent(int(stats[c]["cents"]), total_cents),
                round(float(stats[c]["profit"]), 2),
                percent(float(stats[c]["profit"]), total_profit),
            ]
            for c in codes
            if c in stats
        ],
    )


def _repurchase(frame: pd.DataFrame, codes: list[str], names: dict[str, str]) -> Table:
    """Return the repurchase rate per draft grade and the inversion alarm under the draft."""
    by_grade = (
        frame.assign(repeat=frame["frequency"] >= 2)
        .groupby("draft")
        .agg(customers=("draft", "size"), repeat=("repeat", "sum"))
    )
    stats = by_grade.to_dict("index")
    rows: list[list[Any]] = [
        [
            names[c],
            int(stats[c]["customers"]),
            int(stats[c]["repeat"]),
            percent(int(stats[c]["repeat"]), int(stats[c]["customers"])),
        ]
        for c in codes
    ]
    return Table(
        title=_("Repurchase rate per grade under the draft"),
        columns=[_("grade"), _("customers"), _("repeat buyers"), _("repurchase rate %")],
        kinds=["text", "count", "count", "percent"],
        rows=rows,
        notes=inversion_notes([(row[0], row[3]) for row in rows]),
    )
