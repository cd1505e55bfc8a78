"""A grading scheme turned into the plain values the pure layers take (scoring, policy)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from grading import policy
from grading.models import GradingScheme, SchemeGrade
from grading.scoring import GradeRule, ScoringParams


@dataclass(frozen=True)
class SchemeRules:
    """A scheme turned into the plain values the pure layers take."""

    params: ScoringParams
    ladder: tuple[GradeRule, ...]
    policy_ladder: policy.Ladder
    grade_ids: dict[str, int]

    @property
    def grade_codes(self) -> dict[int, str]:
        return {pk: code for code, pk in self.grade_ids.items()}


def cents(value: Any) -> int:
    """Return a money amount (Decimal, str or number) as whole cents, rounded half-even."""
    return int((Decimal(str(value)) * 100).to_integral_value())


def scheme_rules(scheme: GradingScheme) -> SchemeRules:
    """Return the scoring parameters and ladders of `scheme` (one query for the ladder)."""
    rungs = list(SchemeGrade.objects.filter(scheme=scheme).select_related("grade"))
    if not rungs:
        raise ValueError(f"Scheme {scheme} has no grades in its ladder.")

    def weight(value: Decimal) -> float:
        return float(value)

    params = ScoringParams(
        window_days=scheme.window_days,
        rfm_method=scheme.rfm_method,  # type: ignore[arg-type]
        r_thresholds=tuple(int(v) for v in scheme.r_thresholds or (30, 90, 180, 365)),  # type: ignore[arg-type]
        f_thresholds=tuple(int(v) for v in scheme.f_thresholds or (2, 4, 8, 16)),  # type: ignore[arg-type]
        m_thresholds_cents=tuple(  # type: ignore[arg-type]
            cents(v) for v in scheme.m_thresholds or ("1000", "5000", "20000", "100000")
        ),
        weight_r=weight(scheme.weight_r),
        weight_f=weight(scheme.weight_f),
        weight_m=weight(scheme.weight_m),
        weight_historical=weight(scheme.weight_historical),
        weight_potential=weight(scheme.weight_potential),
        weight_cooperation=weight(scheme.weight_cooperation),
        weight_breadth=weight(scheme.weight_breadth),
        weight_stability=weight(scheme.weight_stability),
        weight_growth=weight(scheme.weight_growth),
        weight_industry=weight(scheme.weight_industry),
        industry_priors={str(k): float(v) for k, v in (scheme.industry_priors or {}).items()},
        default_industry_prior=float(scheme.default_industry_prior),
        weight_campaign=weight(scheme.weight_campaign),
        weight_referral=weight(scheme.weight_referral),
        weight_complaint=weight(scheme.weight_complaint),
        weight_on_time=weight(scheme.weight_on_time),
        weight_review=weight(scheme.weight_review),
        referral_cap=scheme.referral_cap,
        review_cap=scheme.review_cap,
        points_rate=float(scheme.points_rate),
        points_cap=float(scheme.points_cap),
        new_days=scheme.new_days,
        dormant_days=scheme.dormant_days,
        churn_days=scheme.churn_days,
        growth_ratio=scheme.growth_ratio,
        pyramid_cuts=(scheme.pyramid_top, scheme.pyramid_large, scheme.pyramid_medium),
        rfm_within_pyramid=scheme.rfm_within_pyramid,
    )
    ladder = tuple(
        GradeRule(
            code=r.grade.code,
            rank=r.grade.rank,
            min_score=float(r.min_score),
            min_frequency=r.min_frequency,
            min_monetary_cents=cents(r.min_monetary),
        )
        for r in rungs
    )
    policy_ladder = policy.Ladder(
        policy.GradePolicy(
            code=r.grade.code,
            rank=r.grade.rank,
            min_score=float(r.min_score),
            hysteresis=float(r.hysteresis),
            cadence=r.cadence,  # type: ignore[arg-type]
            warn_after=r.warn_after,
            downgrade_after=r.downgrade_after,
            downgrade_needs_review=r.downgrade_needs_review,
            min_frequency=r.min_frequency,
            min_monetary_cents=cents(r.min_monetary),
        )
        for r in rungs
    )
    return SchemeRules(
        params=params,
        ladder=ladder,
        policy_ladder=policy_ladder,
        grade_ids={r.grade.code: r.grade_id for r in rungs},
    )
