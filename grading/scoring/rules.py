"""Scoring parameters, grade rules and the stable codes the scoring package emits.

Everything here is plain data: frozen, hashable dataclasses and tuples of codes. The Django side
builds a `ScoringParams` from a stored grading scheme and `GradeRule`s from its grades, and builds
model choices from the code tuples.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Literal

# Version of the scoring *algorithm* (the definitions in docs/grading.md).
# A scheme's own version string is stored by the Django side; this one changes only when the
# maths changes, so a snapshot can record both.
ALGORITHM_VERSION = "scheme-v1"

RFM_METHODS: tuple[str, ...] = ("quintile", "thresholds")

RFM_SEGMENTS: tuple[str, ...] = (
    "important_value",
    "important_develop",
    "important_keep",
    "important_retain",
    "general_value",
    "general_develop",
    "general_keep",
    "general_retain",
)

RFM_LABELS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalist",
    "recent",
    "promising",
    "needs_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
    "prospect",
)

# R x FM grid: key = 10 * r_score + (f_score + m_score + 1) // 2. "prospect" has no key: it is
# given only to customers without any counted order.
RFM_LABEL_KEYS: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        "champions": (55, 54, 45),
        "loyal": (53, 44, 35, 34),
        "potential_loyalist": (52, 42, 33, 43),
        "recent": (51,),
        "promising": (41, 31),
        "needs_attention": (32, 23, 22),
        "about_to_sleep": (21,),
        "at_risk": (25, 24, 13),
        "cant_lose": (15, 14),
        "hibernating": (12,),
        "lost": (11,),
    }
)

LIFECYCLE_STAGES: tuple[str, ...] = ("prospect", "new", "churned", "dormant", "growing", "mature")

PYRAMID_LAYERS: tuple[str, ...] = ("top", "large", "medium", "small")

# Upper bound of window_days (about 270 years): keeps per-customer sums of squared gaps exact
# in float64 and their products in int64.
MAX_WINDOW_DAYS = 100_000

RfmMethod = Literal["quintile", "thresholds"]
IndustryPriors = tuple[tuple[str, float], ...]


def _non_decreasing_ints(name: str, values: tuple[int, ...], length: int) -> tuple[int, ...]:
    out = tuple(values)
    if len(out) != length or not all(isinstance(v, int) and not isinstance(v, bool) for v in out):
        raise ValueError(f"{name} must be {length} integers, got {values!r}")
    if any(b < a for a, b in itertools.pairwise(out)):
        raise ValueError(f"{name} must be non-decreasing, got {values!r}")
    return out


def _to_decimal(name: str, value: Decimal | int | str) -> Decimal:
    # Floats are refused: Decimal(0.1) is not 0.1, and these values are compared exactly.
    if isinstance(value, (float, bool)):
        raise TypeError(f"{name} must be a Decimal, int or str, not {type(value).__name__}")
    dec = Decimal(value)
    if not dec.is_finite():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return dec


@dataclass(frozen=True, slots=True)
class ScoringParams:
    """Weights, thresholds and cut-offs of one grading scheme (defaults = scheme v1).

    Day counts are in days, money in integer cents, weights are non-negative floats whose group
    sums must be positive (they are normalised within each group; the composite weights are not).

    `industry_priors` accepts a mapping {industry: prior in 0..1} or an iterable of pairs and is
    stored as a tuple of (industry, prior) pairs sorted by industry, so the dataclass stays frozen
    and hashable; read it as a mapping with `industry_prior_map`.

    `growth_ratio` and `pyramid_cuts` are Decimals (ints or strings are converted; floats are
    refused) because they are compared exactly with integer arithmetic.

    `rfm_within_pyramid` applies only to the quintile method: fixed thresholds are absolute, so
    scoring them inside each pyramid layer gives the same scores and the flag is ignored.
    """

    window_days: int = 365
    rfm_method: RfmMethod = "quintile"
    r_thresholds: tuple[int, int, int, int] = (30, 90, 180, 365)
    f_thresholds: tuple[int, int, int, int] = (2, 4, 8, 16)
    m_thresholds_cents: tuple[int, int, int, int] = (100_000, 500_000, 2_000_000, 10_000_000)
    weight_r: float = 1.0
    weight_f: float = 1.0
    weight_m: float = 1.0
    weight_historical: float = 0.6
    weight_potential: float = 0.3
    weight_cooperation: float = 0.1
    weight_breadth: float = 0.25
    weight_stability: float = 0.25
    weight_growth: float = 0.25
    weight_industry: float = 0.25
    industry_priors: Mapping[str, float] | IndustryPriors = ()
    default_industry_prior: float = 0.5
    weight_campaign: float = 0.3
    weight_referral: float = 0.2
    weight_complaint: float = 0.2
    weight_on_time: float = 0.2
    weight_review: float = 0.1
    referral_cap: int = 3
    review_cap: int = 5
    points_rate: float = 0.1
    points_cap: float = 20.0
    new_days: int = 90
    dormant_days: int = 180
    churn_days: int = 365
    growth_ratio: Decimal = Decimal("1.2")
    pyramid_cuts: tuple[Decimal, Decimal, Decimal] = (
        Decimal("0.01"),
        Decimal("0.05"),
        Decimal("0.20"),
    )
    rfm_within_pyramid: bool = False

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        if not isinstance(self.window_days, int) or not 1 <= self.window_days <= MAX_WINDOW_DAYS:
            raise ValueError(
                f"window_days must be an integer in 1..{MAX_WINDOW_DAYS}, got {self.window_days!r}"
            )
        if self.rfm_method not in RFM_METHODS:
            raise ValueError(f"rfm_method must be one of {RFM_METHODS}, got {self.rfm_method!r}")
        put("r_thresholds", _non_decreasing_ints("r_thresholds", self.r_thresholds, 4))
        put("f_thresholds", _non_decreasing_ints("f_thresholds", self.f_thresholds, 4))
        put(
            "m_thresholds_cents",
            _non_decreasing_ints("m_thresholds_cents", self.m_thresholds_cents, 4),
        )
        for name in ("new_days", "dormant_days", "churn_days", "referral_cap", "review_cap"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.referral_cap == 0 or self.review_cap == 0:
            raise ValueError("referral_cap and review_cap must be positive")

        groups = {
            "RFM": ("weight_r", "weight_f", "weight_m"),
            "composite": ("weight_historical", "weight_potential", "weight_cooperation"),
            "potential": ("weight_breadth", "weight_stability", "weight_growth", "weight_industry"),
            "cooperation": (
                "weight_campaign",
                "weight_referral",
                "weight_complaint",
                "weight_on_time",
                "weight_review",
            ),
        }
        for group, names in groups.items():
            for name in names:
                value = float(getattr(self, name))
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"{name} must be a finite non-negative number")
                put(name, value)
            if group != "composite" and sum(getattr(self, n) for n in names) <= 0:
                raise ValueError(f"the {group} weights must not all be zero")
        for name in ("points_rate", "points_cap", "default_industry_prior"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite non-negative number")
            put(name, value)
        if self.default_industry_prior > 1:
            raise ValueError("default_industry_prior must be within 0..1")

        raw: Iterable[tuple[str, float]]
        if isinstance(self.industry_priors, Mapping):
            raw = self.industry_priors.items()
        else:
            raw = self.industry_priors
        priors = {str(k): float(v) for k, v in raw}
        if any(not (0.0 <= v <= 1.0) for v in priors.values()):
            raise ValueError("industry priors must be within 0..1")
        put("industry_priors", tuple(sorted(priors.items())))

        ratio = _to_decimal("growth_ratio", self.growth_ratio)
        if ratio < 0:
            raise ValueError("growth_ratio must be non-negative")
        put("growth_ratio", ratio)
        cuts = tuple(_to_decimal("pyramid_cuts", c) for c in self.pyramid_cuts)
        if len(cuts) != 3 or not (0 < cuts[0] <= cuts[1] <= cuts[2] <= 1):
            raise ValueError(f"pyramid_cuts must be 3 non-decreasing values in (0, 1], got {cuts}")
        put("pyramid_cuts", cuts)
        put("rfm_within_pyramid", bool(self.rfm_within_pyramid))

    @property
    def industry_prior_map(self) -> Mapping[str, float]:
        """Return the industry priors as a read-only mapping {industry: prior in 0..1}."""
        return MappingProxyType(dict(self.industry_priors))

    @property
    def growth_fraction(self) -> Fraction:
        """Return `growth_ratio` as an exact fraction."""
        return Fraction(self.growth_ratio)

    @property
    def pyramid_fractions(self) -> tuple[Fraction, Fraction, Fraction]:
        """Return `pyramid_cuts` as exact fractions (top, large, medium upper bounds)."""
        top, large, medium = (Fraction(c) for c in self.pyramid_cuts)
        return top, large, medium


@dataclass(frozen=True, slots=True)
class GradeRule:
    """One grade of a ladder: its code, rank (higher = better), score floor and hard gates.

    A customer qualifies when the rounded composite >= `min_score` (0..100 points) and
    frequency >= `min_frequency` (orders in the window) and monetary >= `min_monetary_cents`.
    `min_score` is stored as a float (a Decimal from the database is converted).
    """

    code: str
    rank: int
    min_score: float
    min_frequency: int = 0
    min_monetary_cents: int = 0

    def __post_init__(self) -> None:
        if not self.code:
            raise ValueError("a grade needs a non-empty code")
        score = float(self.min_score)
        if math.isnan(score):
            raise ValueError(f"grade {self.code!r}: min_score must be a number")
        object.__setattr__(self, "min_score", score)
        for name in ("rank", "min_frequency", "min_monetary_cents"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"grade {self.code!r}: {name} must be an int, got {value!r}")
