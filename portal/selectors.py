"""What the portal and the manager pages show about one customer's grade.

Reads only: the latest snapshot, the active ladder, cut points of the latest run, grade
history and benefits. A fixed number of queries per page, whatever the data (the cut
points of a run are cached: a finished run never changes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Min, Q
from django.utils import timezone

from appeals.labels import grade_label
from benefits.models import Benefit
from benefits.selectors import benefit_catalog_by_grade
from common.versions import versioned
from customers.models import Customer
from grading.labels import run_period
from grading.models import (
    Cadence,
    CustomerGrade,
    Grade,
    GradeAuditEntry,
    GradeChange,
    GradingRun,
    GradingScheme,
    SchemeGrade,
    ScoreSnapshot,
)
from grading.selectors import (
    LADDER_TTL,
    LADDER_VERSION,
    provisional_upgrade_latest,
    snapshot_latest_for_customer,
)
from portal.explain import (
    CutPoints,
    Dimension,
    Facts,
    Needs,
    Target,
    Weights,
    decision_sentence,
    dimensions,
    needs_sentence,
    next_grade_needs,
    next_run_date,
    provisional_sentence,
)


@dataclass(frozen=True)
class Rung:
    """One grade of the published ladder with its criteria and benefits."""

    grade: Grade
    min_score: Decimal
    min_frequency: int
    min_monetary: Decimal
    cadence: str
    benefits: list[Benefit] = field(default_factory=list)
    warn_after: int = 1
    downgrade_after: int = 2


@dataclass(frozen=True)
class GradeExplanation:
    """Everything needed to say why a customer has their grade and what comes next."""

    grade: Grade | None
    since: dt.datetime | None
    snapshot: ScoreSnapshot | None
    dimensions: list[Dimension]
    next_rung: Rung | None
    needs: Needs | None
    ladder: list[Rung]
    needs_text: str = ""
    decision_text: str = ""
    provisional_text: str = ""


def ladder_published() -> list[Rung]:
    """Return the active scheme's ladder, best grade first, with each grade's benefits today.

    Kept in the cache until a grade, scheme, rung or benefit changes (`LADDER_VERSION`): every
    portal home and manager's customer page shows it.
    """
    today = timezone.localdate()
    return versioned(
        LADDER_VERSION, f"ladder:{today:%Y-%m-%d}", lambda: _ladder_read(today), ttl=LADDER_TTL
    )


def _ladder_read(today: dt.date) -> list[Rung]:
    rungs = list(
        SchemeGrade.objects.filter(scheme__status=GradingScheme.Status.ACTIVE)
        .select_related("grade")
        .order_by("-grade__rank")
    )
    benefits = benefit_catalog_by_grade(today=today)
    return [
        Rung(
            grade=r.grade,
            min_score=r.min_score,
            min_frequency=r.min_frequency,
            min_monetary=r.min_monetary,
            cadence=r.cadence,
            benefits=benefits.get(r.grade_id, []),
            warn_after=r.warn_after,
            downgrade_after=r.downgrade_after,
        )
        for r in rungs
    ]


def cut_points_for_run(run: GradingRun) -> CutPoints:
    """Return the F/M cut points a run scored with (exact for thresholds and sharded runs).

    Otherwise (a single-process quintile run) they are read from its snapshots: for each
    score k, the smallest value among customers scoring k or more. Cached per run.
    """
    scheme = run.scheme
    if scheme.rfm_method == GradingScheme.RfmMethod.THRESHOLDS:
        f = [int(v) for v in scheme.f_thresholds or (2, 4, 8, 16)]
        m = [Decimal(str(v)) for v in scheme.m_thresholds or ("1000", "5000", "20000", "100000")]
        return CutPoints(
            frequency=dict(zip(range(2, 6), f, strict=False)),
            monetary=dict(zip(range(2, 6), m, strict=False)),
        )
    rfm = (run.population_cuts or {}).get("rfm")
    if rfm:
        return CutPoints(
            frequency={k: v for k, v in zip(range(2, 6), rfm["f"], strict=False) if v is not None},
            monetary={
                k: Decimal(v) / 100
                for k, v in zip(range(2, 6), rfm["m"], strict=False)
                if v is not None
            },
        )
    key = f"appeals:cut-points:{run.pk}"
    cached = cache.get(key)
    if cached is None:
        snapshots = ScoreSnapshot.objects.filter(run=run, frequency__gte=1)
        per_f = dict(
            snapshots.values_list("f_score")
            .annotate(v=Min("frequency"))
            .values_list("f_score", "v")
        )
        per_m = dict(
            snapshots.values_list("m_score").annotate(v=Min("monetary")).values_list("m_score", "v")
        )
        cached = (per_f, per_m)
        cache.set(key, cached, 24 * 3600)
    per_f, per_m = cached

    def floors(per_score: dict) -> dict:
        # t_k = the smallest value among members scoring >= k.
        return {
            k: min(v for s, v in per_score.items() if s >= k)
            for k in range(2, 6)
            if any(s >= k for s in per_score)
        }

    return CutPoints(frequency=floors(per_f), monetary=floors(per_m))


def grade_explanation_for_customer(
    *, customer: Customer, today: dt.date, ladder: list[Rung] | None = None
) -> GradeExplanation:
    """Return the customer's grade, why they have it and what the next grade needs."""
    state = _grade_state(customer)
    snapshot = snapshot_latest_for_customer(customer=customer)
    ladder = ladder if ladder is not None else ladder_published()
    grade = state.grade if state else None
    provisional = _provisional_text(customer)
    if snapshot is None:
        return GradeExplanation(
            grade,
            state.since if state else None,
            None,
            [],
            None,
            None,
            ladder,
            provisional_text=provisional,
        )

    scheme = snapshot.run.scheme
    facts = Facts(
        as_of=snapshot.run.as_of,
        window_days=scheme.window_days,
        recency_days=snapshot.recency_days,
        frequency=snapshot.frequency,
        monetary=snapshot.monetary,
        r_score=snapshot.r_score,
        f_score=snapshot.f_score,
        m_score=snapshot.m_score,
        rfm_label=snapshot.rfm_label,
        lifecycle=snapshot.lifecycle,
        historical=snapshot.historical,
        potential=snapshot.potential,
        cooperation=snapshot.cooperation,
        composite=snapshot.composite,
        growth_points=snapshot.growth_points,
    )
    rank = grade.rank if grade else -1
    above = [r for r in ladder if r.grade.rank > rank]
    next_rung = above[-1] if above else None
    needs = None
    if next_rung is not None:
        needs = next_grade_needs(
            facts=facts,
            target=Target(
                name=grade_label(next_rung.grade),
                min_score=float(next_rung.min_score),
                min_frequency=next_rung.min_frequency,
                min_monetary=next_rung.min_monetary,
            ),
            weights=Weights(
                r=float(scheme.weight_r),
                f=float(scheme.weight_f),
                m=float(scheme.weight_m),
                historical=float(scheme.weight_historical),
                potential=float(scheme.weight_potential),
                cooperation=float(scheme.weight_cooperation),
            ),
            cuts=cut_points_for_run(snapshot.run),
            # An upgrade happens at any run (docs/grading-policy.md), whatever the grade's
            # review cadence.
            deadline=next_run_date(today, cadence=Cadence.MONTHLY),
        )
    return GradeExplanation(
        grade=grade,
        since=state.since if state else None,
        snapshot=snapshot,
        dimensions=dimensions(facts),
        next_rung=next_rung,
        needs=needs,
        ladder=ladder,
        needs_text=needs_sentence(needs) if needs else "",
        decision_text=_decision_text(snapshot, ladder, today=today),
        provisional_text=provisional,
    )


def _grade_state(customer: Customer) -> CustomerGrade | None:
    """The customer's grade row with its grade: the one loaded with the customer when its
    selector joined it (`select_related("grade_state__grade")`), else one query."""
    if Customer.grade_state.is_cached(customer):
        state: CustomerGrade | None = getattr(customer, "grade_state", None)
        if state is None or CustomerGrade.grade.is_cached(state):
            return state
    return CustomerGrade.objects.select_related("grade").filter(customer=customer).first()


def _provisional_text(customer: Customer) -> str:
    """Say when the customer was upgraded provisionally and what the next run made of it."""
    upgrade = provisional_upgrade_latest(customer_id=customer.pk)
    if upgrade is None:
        return ""
    return provisional_sentence(
        verdict=upgrade.verdict,
        grade=grade_label(upgrade.change.to_grade),
        day=upgrade.day,
        period=run_period(upgrade.run.as_of) if upgrade.run else "",
    )


def _decision_text(snapshot: ScoreSnapshot, ladder: list[Rung], *, today: dt.date) -> str:
    """Say in words which rule of the grade policy the latest grading applied.

    The grade judged is the one held before the run (for a first grading, an upgrade or a
    pin, the one after); its cadence and counts are read from the published ladder.
    """
    new_grade = snapshot.rule in ("first_grading", "score_above_grade", "override")
    judged = snapshot.grade_after if new_grade else snapshot.grade_before or snapshot.grade_after
    rung = next((r for r in ladder if r.grade.pk == judged.pk), None)
    cadence = rung.cadence if rung else Cadence.MONTHLY
    return decision_sentence(
        rule=snapshot.rule,
        action=snapshot.action,
        grade=grade_label(judged),
        cadence=cadence,
        count=snapshot.periods_under,
        downgrade_after=rung.downgrade_after if rung else None,
        next_review=next_run_date(today, cadence=cadence),
    )


def grade_history_for_customer(*, customer: Customer, limit: int = 50) -> list[GradeAuditEntry]:
    """Return the grades the customer held, newest first (the append-only audit)."""
    return list(
        GradeAuditEntry.objects.filter(customer=customer)
        .select_related("old_grade", "new_grade", "run__scheme")
        .order_by("-created_at", "-id")[:limit]
    )


def downgrades_for_customer(*, customer: Customer, limit: int = 20) -> list[GradeChange]:
    """Return the customer's recent downgrades (applied or proposed), newest first."""
    return list(
        GradeChange.objects.filter(customer=customer, direction=GradeChange.Direction.DOWN)
        .filter(Q(status=GradeChange.Status.PROPOSED) | Q(status=GradeChange.Status.APPLIED))
        .select_related("from_grade", "to_grade", "run")
        .order_by("-created_at", "-id")[:limit]
    )
