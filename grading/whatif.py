"""What-if: score today's population with a draft scheme before activating it (no writes).

Besides the grade-to-grade matrix it shows the effect on the reports (value distribution,
revenue and profit share, repurchase rate with the inversion alarm) under the draft grades,
and lists the customers who would move, with the scores that put them there.

When a run graded the same as-of date with the same window and the population has not
changed since (`what_if_source`), the draft scores the facts that run stored on its
snapshots (one read of the run's snapshots, no order read: the facts do not depend on the
scheme's weights, thresholds, priors or RFM method, only on its window); otherwise, from the
orders (the pipeline's extract), and the page says why (docs/operations.md, "Check its
what-if"). Scoring a population is the expensive part (the facts, with the window's profit
per customer, and the scoring), so its result is kept in the cache
(`settings.CACHES`, as the report tables are: `grading.services.report_cache`) in a
language-neutral form: per (current grade, draft grade) sums, and one row per mover. The
key holds the draft's rules (an edited draft is scored again), the as-of date, the run
whose facts it read (or none) and a stamp of the data (the latest order and grade audit
row), so the page, its filters, its pages and
its exports read the same result. Tables and rows are built from it in the reader's
language on each request; "Recompute" on the page scores again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from common import formatting
from customers.models import Customer, Order
from grading.labels import run_label
from grading.models import (
    CustomerGrade,
    Grade,
    GradeAuditEntry,
    GradeChange,
    GradingRun,
    GradingScheme,
    ScoreSnapshot,
)
from grading.pipeline import decide
from grading.pipeline.extract import UNKNOWN_PROFIT, WINDOW_PROFIT_CENTS, window_profit
from grading.pipeline.pgcopy import numeric_columns
from grading.pipeline.rules import SchemeRules, scheme_rules
from grading.reports import (
    REVENUE_SHARE_KINDS,
    Table,
    inversion_notes,
    percent,
    revenue_share_columns,
)
from grading.scoring import FACT_COLUMNS, score_facts
from grading.scoring import inputs as col
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

#: Bump when the cached figures' shape changes, so old entries are ignored.
CACHE_VERSION = 2
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
    `MOVER_SCORES`. `source`: where the facts came from (`WhatIfSource`).
    """

    scored: int
    pairs: pd.DataFrame
    movers: pd.DataFrame
    computed_at: dt.datetime
    source: WhatIfSource


@dataclass(frozen=True)
class WhatIfSource:
    """Where a what-if reads the population's facts: a run's snapshots or the orders.

    `run_id` is the succeeded run whose snapshots hold the facts (None: scored from the
    orders). Otherwise `reason` says why, language-neutral (it is cached): "no_run" (no
    succeeded run graded `as_of`), "window" (the draft's window, `draft_days`, differs from
    the run's, `run_days`), "customers" (active customers were added, removed or reactivated
    since the run) or "gone" (the run's snapshots left the database).
    """

    run_id: int | None
    reason: str = ""
    draft_days: int = 0
    run_days: int = 0


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
    source: WhatIfSource | None = None
    source_run: GradingRun | None = None

    def source_note(self) -> str:
        """Return where the facts came from, in the reader's language, for the page."""
        source = self.source
        if source is None:
            return ""
        if self.source_run is not None:
            return _(
                "Scored from the facts stored by the run %(run)s (%(n)s customers); no order "
                "was read. Orders imported since that run do not count."
            ) % {"run": run_label(self.source_run), "n": formatting.count(self.scored)}
        reasons = {
            "no_run": _("no grading run graded this date"),
            "window": _(
                "the draft's window (%(draft)s days) differs from the last run's (%(run)s days)"
            )
            % {"draft": source.draft_days, "run": source.run_days},
            "customers": _("customers were added or removed since the last run"),
            "gone": _("the last run's snapshots are no longer in the database"),
        }
        return _("Scored from the orders: %(reason)s.") % {
            "reason": reasons.get(source.reason, source.reason)
        }

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

    The facts come from the run that graded `as_of` when `what_if_source` allows it, else
    from the orders. The scoring is cached (see the module docstring); `refresh` scores
    again.
    """
    rules = scheme_rules(scheme)
    run, source = what_if_source(as_of=as_of, window_days=rules.params.window_days)
    key = _cache_key(scheme=scheme, rules=rules, as_of=as_of, run=run)
    figures = None if refresh else cache.get(key)
    if figures is None:
        facts = None if run is None else snapshot_facts(run=run)
        if run is not None and facts is None:
            run, source = None, WhatIfSource(run_id=None, reason="gone")
        figures = _score(scheme=scheme, rules=rules, as_of=as_of, facts=facts, source=source)
        cache.set(key, figures, settings.TIERHUB_REPORT_CACHE_SECONDS)
    return _tables(scheme=scheme, as_of=as_of, figures=figures)


def what_if_source(*, as_of: dt.date, window_days: int) -> tuple[GradingRun | None, WhatIfSource]:
    """Return the run whose snapshots a what-if at `as_of` may score, and the source.

    The latest succeeded run graded `as_of` (any scheme) qualifies when its window is
    `window_days` (the window is the only rule that shapes the facts: weights, thresholds,
    priors, the RFM method and the ladder only score them) and its population is today's:
    as many active customers as the run scored, none created since it started. Otherwise
    (None, the reason). Two small statements and a count of active customers.
    """
    run = (
        GradingRun.objects.filter(status=GradingRun.Status.SUCCEEDED, as_of=as_of)
        .select_related("scheme")
        .order_by("-finished_at", "-id")
        .first()
    )
    if run is None:
        return None, WhatIfSource(run_id=None, reason="no_run")
    if run.scheme.window_days != window_days:
        return None, WhatIfSource(
            run_id=None, reason="window", draft_days=window_days, run_days=run.scheme.window_days
        )
    active = Customer.objects.filter(is_active=True)
    started = run.started_at or run.finished_at
    if active.count() != run.scored or (
        started is not None and active.filter(created_at__gte=started).exists()
    ):
        return None, WhatIfSource(run_id=None, reason="customers")
    return run, WhatIfSource(run_id=run.pk)


def snapshot_facts(*, run: GradingRun) -> pd.DataFrame | None:
    """Return the facts `run` stored on its snapshots as a `FACT_COLUMNS` frame, or None.

    One statement: the run's snapshots of customers active now, with each customer's
    industry (read now, as the extract does; a draft may change the industry priors). Money
    is whole cents, as the extract gives it; a missing recency is a customer who never
    ordered. Snapshots do not keep the first order date, so `first_order_date` and
    `tenure_days` are unknown (NaT / NA): they feed only the lifecycle stage, which neither
    the grade nor the what-if reads (`grading.scoring.compute.score_facts`: the grade is
    the composite with the F and M gates). The window's profit the run kept
    (`extract.WINDOW_PROFIT_CENTS`, `UNKNOWN_PROFIT`) follows the fact columns, unless any
    snapshot lacks it (written before it was kept). None when the run's snapshots are no
    longer in the database (retention) or it scored no one.
    """
    s = ScoreSnapshot._meta.db_table
    c = Customer._meta.db_table
    postgresql = connection.vendor == "postgresql"
    industries = sorted(
        Customer.objects.filter(is_active=True)
        .values_list("industry", flat=True)
        .distinct()
        .order_by()
    )
    if postgresql:
        industry_sql = "coalesce(array_position(%s::text[], c.industry::text), 0)"
        gap_sql = "coalesce(s.gap_cv, 'NaN'::double precision)"
        params: list[Any] = [industries, run.pk]
    else:
        # SQLite: the industry's 1-based position by a CASE (few industries); NULL is NaN.
        industry_sql = (
            "CASE c.industry "
            + " ".join("WHEN %s THEN " + str(i + 1) for i in range(len(industries)))
            + " ELSE 0 END"
            if industries
            else "0"
        )
        gap_sql = "s.gap_cv"
        params = [*industries, run.pk]
    counts = col.ENGAGEMENT_COUNT_COLUMNS
    sql = (
        f"SELECT s.customer_id, {industry_sql}, coalesce(s.recency_days, -1), s.frequency,"
        " CAST(round(s.monetary * 100) AS bigint), s.categories,"
        " CAST(round(s.first_half_amount * 100) AS bigint),"
        f" CAST(round(s.second_half_amount * 100) AS bigint), {gap_sql},"
        + ", ".join(f"s.{name}" for name in counts)
        + ", coalesce(s.window_profit_cents, 0), CAST(coalesce(s.unknown_profit, -1) AS bigint)"
        + f" FROM {s} s JOIN {c} c ON c.id = s.customer_id"
        " WHERE c.is_active AND s.run_id = %s"
    )
    columns = [
        ("customer_id", "i8"),
        ("industry", "i4"),
        ("recency", "i4"),
        ("frequency", "i4"),
        ("monetary", "i8"),
        ("categories", "i4"),
        ("first_half", "i8"),
        ("second_half", "i8"),
        ("gap_cv", "f8"),
        *[(name, "i4") for name in counts],
        (WINDOW_PROFIT_CENTS, "i8"),
        (UNKNOWN_PROFIT, "i8"),
    ]
    rows = numeric_columns(sql, params, columns)
    if rows["customer_id"].size == 0:
        return None
    order = np.argsort(rows["customer_id"], kind="stable")
    rows = {name: values[order] for name, values in rows.items()}
    labels = np.array([*industries, ""], dtype=object)  # code 0 (an industry saved since): ""
    customers = pd.DataFrame(
        {
            col.CUSTOMER_ID: rows["customer_id"],
            col.INDUSTRY: pd.array(labels[rows["industry"] - 1], dtype="str"),
            **{name: rows[name].astype(np.int64) for name in counts},
        }
    )
    table = col.customer_table(customers)
    recency = rows["recency"].astype(np.int64)
    ever = recency >= 0
    as_of_day = col.date_to_day(run.as_of)
    last = ((as_of_day - recency) * 86_400).astype("datetime64[s]")
    last[~ever] = np.datetime64("NaT", "s")
    frequency = rows["frequency"].astype(np.int64)
    monetary = rows["monetary"]
    unknown = np.full(frequency.size, np.datetime64("NaT", "s"), dtype="datetime64[s]")
    facts = pd.DataFrame(
        {
            FIRST_ORDER_DATE: unknown,
            LAST_ORDER_DATE: last,
            RECENCY_DAYS: pd.arrays.IntegerArray(recency, ~ever),
            FREQUENCY: frequency,
            MONETARY_CENTS: monetary,
            CATEGORIES: rows["categories"].astype(np.int64),
            FIRST_HALF_CENTS: rows["first_half"],
            SECOND_HALF_CENTS: rows["second_half"],
            GAP_CV: rows["gap_cv"],
            ORDER_COUNT_WINDOW: frequency.copy(),
            TENURE_DAYS: pd.arrays.IntegerArray(
                np.zeros(frequency.size, dtype=np.int64), np.ones(frequency.size, dtype=bool)
            ),
        },
        index=table.index,
    )
    facts = pd.concat([facts, table], axis=1)[list(FACT_COLUMNS)]
    if (rows[UNKNOWN_PROFIT] >= 0).all():  # NULL (-1): written before the profit was kept
        facts[WINDOW_PROFIT_CENTS] = rows[WINDOW_PROFIT_CENTS].astype(np.int64)
        facts[UNKNOWN_PROFIT] = rows[UNKNOWN_PROFIT].astype(np.int64)
    return facts


def _cache_key(
    *, scheme: GradingScheme, rules: SchemeRules, as_of: dt.date, run: GradingRun | None
) -> str:
    """Return the cache key of `scheme` scored at `as_of` on today's data.

    The rules' repr is deterministic (frozen dataclasses of numbers, strings and tuples), so
    any edit of a weight, threshold or rung gives another key. The data stamp is the run
    whose facts are scored (its snapshots never change) or, scored from the orders, the
    latest order; and the latest grade audit row (every grade change writes one: an
    override, a review or a run changes it); orders edited in place show after the cache
    timeout or a "Recompute".
    """
    rules_hash = hashlib.sha256(repr((rules.params, rules.ladder)).encode()).hexdigest()[:20]
    if run is not None:
        data = f"run{run.pk}"
    else:
        data = f"order{Order.objects.aggregate(last=Max('pk'))['last'] or 0}"
    last_audit = GradeAuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0
    return (
        f"tierhub:whatif:v{CACHE_VERSION}:{scheme.pk}:{rules_hash}:{as_of.isoformat()}"
        f":{data}:{last_audit}"
    )


def _score(
    *,
    scheme: GradingScheme,
    rules: SchemeRules,
    as_of: dt.date,
    facts: pd.DataFrame | None,
    source: WhatIfSource,
) -> WhatIfFigures:
    """Score the population under `rules` and reduce it to the cached figures.

    `facts` (a run's, `snapshot_facts`) are scored as they are; None reads the orders.
    """
    if facts is not None:
        scores = score_facts(facts, params=rules.params, ladder=rules.ladder)
    else:
        scores = decide.score_period(rules=rules, as_of=as_of)
    current = _current_grades()
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
    if WINDOW_PROFIT_CENTS in scores:
        # The window's profit the run stored (snapshot facts) or the extract read.
        profit = scores[WINDOW_PROFIT_CENTS].astype("float64") / 100
    else:
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
    return WhatIfFigures(
        scored=len(frame),
        pairs=pairs,
        movers=movers,
        computed_at=timezone.now(),
        source=source,
    )


def _current_grades() -> pd.Series:
    """Return each graded customer's current grade code, by customer_id: one read of the
    grade states' two id columns (a binary COPY on PostgreSQL), the codes mapped here."""
    codes = dict(Grade.objects.values_list("pk", "code"))
    rows = numeric_columns(
        f"SELECT customer_id, grade_id FROM {CustomerGrade._meta.db_table}",
        [],
        [("customer_id", "i8"), ("grade_id", "i8")],
    )
    grade_ids, positions = np.unique(rows["grade_id"], return_inverse=True)
    names = np.array([codes.get(int(pk), NOT_GRADED) for pk in grade_ids], dtype=object)
    return pd.Series(
        names[positions], index=pd.Index(rows["customer_id"], name="customer_id"), dtype="str"
    )


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
        source=figures.source,
        source_run=(
            GradingRun.objects.select_related("scheme").filter(pk=figures.source.run_id).first()
            if figures.source.run_id is not None
            else None
        ),
    )


def _window_profit(*, as_of: dt.date, window_days: int) -> pd.Series:
    """Return the profit of each customer's counted orders in the window, by customer_id.

    For scores without it (a run's snapshots written before the profit was kept): the
    extract's read (`extract.window_profit`: the customer facts where they can be read, else
    the window's orders); orders with no recorded profit count as 0, as in
    `benefits.reports.cost_to_serve`.
    """
    cents = window_profit(as_of=as_of, window_days=window_days)[WINDOW_PROFIT_CENTS]
    return cents.astype("float64") / 100


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
