"""What-if: score today's population with a draft scheme before activating it (no writes).

Besides the grade-to-grade matrix it shows the effect on the reports (value distribution,
revenue and profit share, repurchase rate with the inversion alarm) under the draft grades,
and lists the customers who would move, with the scores that put them there.

Scoring a population is the expensive part (the pipeline's extract and scoring, plus one
grouped read of the window's profit), so its result is kept in the cache
(`settings.CACHES`, as the report tables are: `grading.services.report_cache`) in a
language-neutral form: per (current grade, draft grade) sums, and one row per mover. The
key holds the draft's rules (an edited draft is scored again), the as-of date and a stamp
of the data (the latest order and grade audit row), so the page, its filters, its pages and
its exports read the same result. Tables and rows are built from it in the reader's
language on each request; "Recompute" on the page scores again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db.models import FloatField, Max, Sum
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from common.dates import local_midnight
from customers.models import Customer, Order
from grading.models import CustomerGrade, Grade, GradeAuditEntry, GradeChange, GradingScheme
from grading.pipeline import decide
from grading.pipeline.rules import SchemeRules, scheme_rules
from grading.reports import (
    REVENUE_SHARE_KINDS,
    Table,
    inversion_notes,
    percent,
    revenue_share_columns,
)

#: Bump when the cached figures' shape changes, so old entries are ignored.
CACHE_VERSION = 1
#: What "not graded yet" is called in the frames (a customer without a grade state).
NOT_GRADED = "—"
#: The movers' score columns, in page and export order.
MOVER_SCORES = (
    "composite",
    "historical",
    "potential",
    "cooperation",
    "r_score",
    "f_score",
    "m_score",
)
#: Sums per (current grade, draft grade) from which every table is built.
_PAIR_SUMS = ("customers", "composite", "monetary_cents", "buyers", "buyer_profit", "repeat")


@dataclass(frozen=True)
class WhatIfFigures:
    """The language-neutral result of scoring the population under a draft (cached).

    `pairs` is indexed by (current code, draft code) with the `_PAIR_SUMS` columns;
    `movers` has one row per customer whose draft grade differs from the current one,
    indexed by customer id, with "current", "draft" (codes; `NOT_GRADED` for none) and
    `MOVER_SCORES`.
    """

    scored: int
    pairs: pd.DataFrame
    movers: pd.DataFrame
    computed_at: dt.datetime


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
    movers: pd.DataFrame = field(repr=False)
    grades: dict[str, Grade] = field(repr=False)
    computed_at: dt.datetime | None = None

    def tables(self) -> dict[str, Table]:
        """Return the tables by export key, in page order."""
        return {
            "matrix": self.matrix,
            "distribution": self.distribution,
            "revenue": self.revenue,
            "repurchase": self.repurchase,
        }

    def grade_name(self, code: str) -> str:
        """Return a grade's name in the reader's language ("not graded" for none)."""
        grade = self.grades.get(code)
        return grade.name if grade is not None else _("not graded")


def scheme_what_if(*, scheme: GradingScheme, as_of: dt.date, refresh: bool = False) -> WhatIf:
    """Return how customers' current grades would move if `scheme` graded them at `as_of`.

    Reads the population with the pipeline's extract, scores it with the draft's rules and
    compares the computed grade with each customer's current grade; nothing is written. The
    draft grade is the grade the scores earn (before hysteresis, warnings and pins, which
    only a run applies). Also returns the reports under the draft grades: value
    distribution, revenue and profit share (buying customers: F >= 1) and repurchase rate
    (F >= 2 in the window) with the inversion alarm, and the movers (`what_if_movers`).

    The scoring is cached (see the module docstring); `refresh` scores again.
    """
    rules = scheme_rules(scheme)
    key = _cache_key(scheme=scheme, rules=rules, as_of=as_of)
    figures = None if refresh else cache.get(key)
    if figures is None:
        figures = _score(scheme=scheme, rules=rules, as_of=as_of)
        cache.set(key, figures, settings.TIERHUB_REPORT_CACHE_SECONDS)
    return _tables(scheme=scheme, as_of=as_of, figures=figures)


def _cache_key(*, scheme: GradingScheme, rules: SchemeRules, as_of: dt.date) -> str:
    """Return the cache key of `scheme` scored at `as_of` on today's data.

    The rules' repr is deterministic (frozen dataclasses of numbers, strings and tuples), so
    any edit of a weight, threshold or rung gives another key. The data stamp is the latest
    order and the latest grade audit row (every grade change writes one: an override, a
    review or a run changes it); orders edited in place show after the cache timeout or a
    "Recompute".
    """
    rules_hash = hashlib.sha256(repr((rules.params, rules.ladder)).encode()).hexdigest()[:20]
    last_order = Order.objects.aggregate(last=Max("pk"))["last"] or 0
    last_audit = GradeAuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0
    return (
        f"tierhub:whatif:v{CACHE_VERSION}:{scheme.pk}:{rules_hash}:{as_of.isoformat()}"
        f":{last_order}:{last_audit}"
    )


def _score(*, scheme: GradingScheme, rules: SchemeRules, as_of: dt.date) -> WhatIfFigures:
    """Score the population under `rules` and reduce it to the cached figures."""
    scores = decide.score_period(rules=rules, as_of=as_of)
    current = pd.Series(
        dict(CustomerGrade.objects.values_list("customer_id", "grade__code")), dtype="str"
    )
    frame = pd.DataFrame(
        {
            "current": current.reindex(scores.index).fillna(NOT_GRADED),
            "draft": scores["grade"].astype("str"),
            "composite": scores["composite"].astype("float64"),
            "monetary_cents": scores["monetary_cents"].astype("int64"),
            "buyers": scores["frequency"] >= 1,
            "repeat": scores["frequency"] >= 2,
        }
    )
    profit = _window_profit(as_of=as_of, window_days=scheme.window_days).reindex(
        scores.index, fill_value=0.0
    )
    frame["buyer_profit"] = profit.where(frame["buyers"], 0.0)
    pairs = frame.groupby(["current", "draft"]).agg(
        customers=("draft", "size"),
        composite=("composite", "sum"),
        monetary_cents=("monetary_cents", "sum"),
        buyers=("buyers", "sum"),
        buyer_profit=("buyer_profit", "sum"),
        repeat=("repeat", "sum"),
    )
    moved = frame["current"] != frame["draft"]
    movers = pd.concat(
        [frame.loc[moved, ["current", "draft"]], scores.loc[moved, list(MOVER_SCORES)]], axis=1
    )
    movers.index.name = "customer_id"
    return WhatIfFigures(scored=len(frame), pairs=pairs, movers=movers, computed_at=timezone.now())


def _tables(*, scheme: GradingScheme, as_of: dt.date, figures: WhatIfFigures) -> WhatIf:
    """Build the page's tables from `figures`, in the reader's language."""
    grades = {g.code: g for g in Grade.objects.order_by("-rank")}
    codes = list(grades)
    names = {code: g.name for code, g in grades.items()} | {NOT_GRADED: _("not graded")}
    pairs = figures.pairs
    counts = pairs["customers"]
    present_current = set(pairs.index.get_level_values(0))
    row_codes = [c for c in [*codes, NOT_GRADED] if c in present_current]
    matrix = Table(
        title=_("Current grade → grade under %(scheme)s") % {"scheme": scheme},
        columns=[_("current \\ draft"), *[names[c] for c in codes], _("total")],
        kinds=["text", *["count"] * (len(codes) + 1)],
        rows=[
            [
                names[r],
                *[int(counts.get((r, c), 0)) for c in codes],
                int(counts.xs(r, level=0).sum()),
            ]
            for r in row_codes
        ],
    )
    by_draft = pairs.groupby(level="draft").sum()
    stats: dict[str, dict[str, Any]] = {
        str(code): {str(k): v for k, v in row.items()} for code, row in by_draft.iterrows()
    }
    total_customers = int(by_draft["customers"].sum())
    total_cents = int(by_draft["monetary_cents"].sum())
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
                percent(int(stats[c]["customers"]), total_customers),
                round(float(stats[c]["composite"]) / int(stats[c]["customers"]), 2),
                round(int(stats[c]["monetary_cents"]) / 100, 2),
                percent(int(stats[c]["monetary_cents"]), total_cents),
            ]
            for c in codes
            if c in stats
        ],
    )
    present = [c for c in codes if c in stats]
    return WhatIf(
        scheme=scheme,
        as_of=as_of,
        scored=figures.scored,
        moved=len(figures.movers),
        matrix=matrix,
        distribution=distribution,
        revenue=_revenue_share(stats, present, names),
        repurchase=_repurchase(stats, present, names),
        movers=figures.movers,
        grades=grades,
        computed_at=figures.computed_at,
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


def _revenue_share(
    stats: dict[str, dict[str, Any]], codes: list[str], names: dict[str, str]
) -> Table:
    """Return net revenue and profit per draft grade with shares (as `revenue_profit_share`).

    Only buying customers (F >= 1) count; a grade without any is left out.
    """
    buying = [c for c in codes if int(stats[c]["buyers"]) > 0]
    total_cents = sum(int(stats[c]["monetary_cents"]) for c in buying)
    total_profit = sum(float(stats[c]["buyer_profit"]) for c in buying)
    return Table(
        title=_("Revenue and profit per grade under the draft"),
        columns=revenue_share_columns(),
        kinds=REVENUE_SHARE_KINDS,
        rows=[
            [
                names[c],
                int(stats[c]["buyers"]),
                Decimal(int(stats[c]["monetary_cents"])).scaleb(-2),
                percent(int(stats[c]["monetary_cents"]), total_cents),
                round(float(stats[c]["buyer_profit"]), 2),
                percent(float(stats[c]["buyer_profit"]), total_profit),
            ]
            for c in buying
        ],
    )


def _repurchase(stats: dict[str, dict[str, Any]], codes: list[str], names: dict[str, str]) -> Table:
    """Return the repurchase rate per draft grade and the inversion alarm under the draft."""
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


# ----------------------------------------------------------------------------------- movers


@dataclass(frozen=True)
class Mover:
    """One customer who would change grade under the draft, ready to show or export."""

    customer_id: int
    code: str
    name: str
    current: str
    draft: str
    direction: str
    direction_label: str
    scores: dict[str, float]


def move_key(current: str, draft: str) -> str:
    """Return the filter value of a move ("key>growth"; `NOT_GRADED` stays as is)."""
    return f"{current}>{draft}"


def _directions(result: WhatIf, movers: pd.DataFrame) -> pd.Series:
    """Return each mover's direction: GradeChange.Direction's up, down or assign (first)."""
    ranks = {code: grade.rank for code, grade in result.grades.items()}
    current = movers["current"].map(ranks)
    draft = movers["draft"].map(ranks)
    direction = pd.Series(str(GradeChange.Direction.DOWN), index=movers.index, dtype="object")
    direction[draft > current] = str(GradeChange.Direction.UP)
    direction[current.isna()] = str(GradeChange.Direction.ASSIGN)
    return direction


def what_if_moves(result: WhatIf) -> list[tuple[str, str, int]]:
    """Return the moves present as (filter value, "Key → Growth", customers), largest first."""
    if result.movers.empty:
        return []
    counts = result.movers.groupby(["current", "draft"]).size().sort_values(ascending=False)
    return [
        (
            move_key(current, draft),
            f"{result.grade_name(current)} → {result.grade_name(draft)}",
            int(n),
        )
        for (current, draft), n in zip(counts.index, counts.to_list(), strict=True)
    ]


def what_if_movers(result: WhatIf, *, move: str = "", direction: str = "") -> pd.DataFrame:
    """Return the movers, filtered by one move ("key>growth") and/or a direction.

    Ordered by the draft grade's rank (highest first), then the composite score (highest
    first), then the customer id, so pages are stable. Adds the "direction" column.
    """
    movers = result.movers.assign(direction=_directions(result, result.movers))
    if move:
        current, _sep, draft = move.partition(">")
        movers = movers[(movers["current"] == current) & (movers["draft"] == draft)]
    if direction:
        movers = movers[movers["direction"] == direction]
    ranks = {code: grade.rank for code, grade in result.grades.items()}
    return (
        movers.assign(_rank=movers["draft"].map(ranks), _id=movers.index)
        .sort_values(["_rank", "composite", "_id"], ascending=[False, False, True])
        .drop(columns=["_rank", "_id"])
    )


#: Customer ids per name query: under SQLite's limit of bound parameters on every version.
_NAME_BATCH = 900


def what_if_mover_rows(result: WhatIf, movers: pd.DataFrame) -> list[Mover]:
    """Return `movers` (a slice of `what_if_movers`) with names (one query a page)."""
    ids = [int(pk) for pk in movers.index]
    customers: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ids), _NAME_BATCH):
        batch = ids[start : start + _NAME_BATCH]
        customers.update(
            (pk, (code, name))
            for pk, code, name in Customer.objects.filter(pk__in=batch).values_list(
                "pk", "code", "name"
            )
        )
    labels = dict(GradeChange.Direction.choices)
    rows = []
    for pk, mover in zip(ids, movers.itertuples(index=False), strict=True):
        code, name = customers.get(pk, ("", ""))
        rows.append(
            Mover(
                customer_id=pk,
                code=code,
                name=name,
                current=result.grade_name(mover.current),  # type: ignore[arg-type]
                draft=result.grade_name(mover.draft),  # type: ignore[arg-type]
                direction=str(mover.direction),
                direction_label=str(labels[str(mover.direction)]),
                scores={column: float(getattr(mover, column)) for column in MOVER_SCORES},
            )
        )
    return rows


def what_if_mover_table(result: WhatIf, movers: pd.DataFrame) -> Table:
    """Return `movers` as an export table: localized headers, numbers as numbers."""
    return Table(
        title=_("Customers who would change grade under %(scheme)s") % {"scheme": result.scheme},
        columns=[
            _("customer code"),
            _("customer"),
            _("current grade"),
            _("grade under the draft"),
            _("direction"),
            _("composite"),
            _("historical value"),
            _("potential value"),
            _("cooperation value"),
            _("R score"),
            _("F score"),
            _("M score"),
        ],
        kinds=[*["text"] * 5, "score", "score", "score", "score", "count", "count", "count"],
        rows=[
            [
                row.code,
                row.name,
                row.current,
                row.draft,
                row.direction_label,
                round(row.scores["composite"], 2),
                round(row.scores["historical"], 2),
                round(row.scores["potential"], 2),
                round(row.scores["cooperation"], 2),
                int(row.scores["r_score"]),
                int(row.scores["f_score"]),
                int(row.scores["m_score"]),
            ]
            for row in what_if_mover_rows(result, movers)
        ],
    )
