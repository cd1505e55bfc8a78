"""Historical, potential and cooperation values and the composite, computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from grading.scoring import (
    ScoringParams,
    composite_value,
    cooperation_value,
    historical_value,
    potential_value,
)

PARAMS = ScoringParams()


def index(size: int) -> pd.Index:
    return pd.Index(np.arange(1, size + 1, dtype=np.int64), name="customer_id")


def scores_frame(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        np.array(rows, dtype=np.int64).reshape(-1, 3),
        columns=["r_score", "f_score", "m_score"],
        index=index(len(rows)),
    )


def value_facts(size: int, **columns: list) -> pd.DataFrame:
    """A facts frame of `size` customers; unspecified columns are neutral (zero / NA)."""
    base: dict[str, object] = {
        "frequency": [0] * size,
        "categories": [0] * size,
        "gap_cv": [math.nan] * size,
        "first_half_cents": [0] * size,
        "second_half_cents": [0] * size,
        "industry": [None] * size,
        "campaign_invitations": [0] * size,
        "campaign_joins": [0] * size,
        "referrals": [0] * size,
        "complaints": [0] * size,
        "reviews": [0] * size,
        "on_time_orders": [0] * size,
        "rated_orders": [0] * size,
        "growth_points": [0] * size,
    }
    base.update(columns)
    frame = pd.DataFrame(base, index=index(size))
    frame["industry"] = frame["industry"].astype("str")
    return frame


# --------------------------------------------------------------------------- historical


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ((1, 1, 1), 0.0),
        ((5, 5, 5), 100.0),
        ((5, 3, 1), 50.0),  # 100 * (4 + 2 + 0) / 12
        ((2, 1, 1), 8.3333),  # 100 / 12 = 8.3333...
        ((3, 3, 2), 41.6667),  # 500 / 12 = 41.666...
    ],
)
def test_historical_value(scores: tuple[int, int, int], expected: float) -> None:
    assert historical_value(scores_frame([scores]), params=PARAMS).iloc[0] == expected


def test_historical_value_uses_the_rfm_weights() -> None:
    params = ScoringParams(weight_r=2.0, weight_f=1.0, weight_m=1.0)
    # 100 * (2*4 + 1*2 + 1*0) / (4 * 4) = 62.5
    assert historical_value(scores_frame([(5, 3, 1)]), params=params).iloc[0] == 62.5
    only_m = ScoringParams(weight_r=0.0, weight_f=0.0, weight_m=1.0)
    assert historical_value(scores_frame([(1, 1, 4)]), params=only_m).iloc[0] == 75.0


# --------------------------------------------------------------------------- potential


def test_breadth_is_the_average_rank_share_of_categories() -> None:
    # Active categories 0, 2, 2, 5 -> ranks 1, 2.5, 2.5, 4 of n = 4; the inactive customer 0.
    facts = value_facts(5, frequency=[1, 3, 2, 9, 0], categories=[0, 2, 2, 5, 0])
    breadth = potential_value(facts, params=PARAMS)["breadth"]
    assert breadth.tolist() == [0.25, 0.625, 0.625, 1.0, 0.0]


@pytest.mark.parametrize(
    ("frequency", "gap_cv", "expected"),
    [
        (0, math.nan, 0.0),
        (2, 0.1, 0.0),  # fewer than 3 window orders
        (3, math.nan, 1.0),  # all on one day: mean gap 0
        (3, 0.0, 1.0),
        (4, 0.25, 0.75),
        (5, 1.0, 0.0),
        (5, 1.5, 0.0),  # clipped
    ],
)
def test_stability(frequency: int, gap_cv: float, expected: float) -> None:
    facts = value_facts(1, frequency=[frequency], gap_cv=[gap_cv])
    assert potential_value(facts, params=PARAMS)["stability"].iloc[0] == expected


@pytest.mark.parametrize(
    ("first", "second", "expected"), [(0, 0, 0.0), (100, 300, 0.75), (100, 0, 0.0), (0, 5, 1.0)]
)
def test_growth_component(first: int, second: int, expected: float) -> None:
    facts = value_facts(1, first_half_cents=[first], second_half_cents=[second])
    assert potential_value(facts, params=PARAMS)["growth"].iloc[0] == expected


def test_industry_prior_lookup() -> None:
    params = ScoringParams(industry_priors={"retail": 0.8, "": 0.1}, default_industry_prior=0.4)
    facts = value_facts(4, industry=["retail", "", None, "games"])
    priors = potential_value(facts, params=params)["industry_prior"]
    assert priors.tolist() == [0.8, 0.1, 0.4, 0.4]


def test_potential_is_the_weighted_mean_in_points() -> None:
    # breadth 1 (single active), stability 0.75, growth 0.75, prior 0.5 (default):
    # 100 * (0.25 + 0.1875 + 0.1875 + 0.125) = 75.0
    facts = value_facts(
        1,
        frequency=[4],
        categories=[3],
        gap_cv=[0.25],
        first_half_cents=[100],
        second_half_cents=[300],
    )
    result = potential_value(facts, params=PARAMS)
    assert result.loc[1, "potential"] == 75.0
    weighted = ScoringParams(
        weight_breadth=0.0, weight_stability=0.0, weight_growth=1.0, weight_industry=3.0
    )
    # 100 * (0.75 + 3 * 0.5) / 4 = 56.25
    assert potential_value(facts, params=weighted).loc[1, "potential"] == 56.25


def test_potential_is_rounded_to_four_decimals() -> None:
    facts = value_facts(3, frequency=[1, 1, 1], categories=[1, 2, 3])
    # Breadth 1/3, 2/3, 1; prior 0.5: P = 100 * (breadth + 0.5) / 4.
    potential = potential_value(facts, params=PARAMS)["potential"]
    assert potential.tolist() == [20.8333, 29.1667, 37.5]


# --------------------------------------------------------------------------- cooperation


def test_cooperation_components_and_caps() -> None:
    facts = value_facts(
        4,
        frequency=[4, 4, 0, 2],
        campaign_invitations=[2, 4, 0, 1],
        campaign_joins=[3, 1, 5, 1],
        referrals=[5, 1, 0, 3],
        complaints=[2, 10, 0, 0],
        reviews=[10, 2, 0, 5],
        on_time_orders=[3, 0, 0, 4],
        rated_orders=[4, 0, 0, 4],
        growth_points=[150, 500, 0, 1000],
    )
    result = cooperation_value(facts, params=PARAMS)
    assert result["campaign_rate"].tolist() == [1.0, 0.25, 0.0, 1.0]
    assert result["referral_score"].tolist() == pytest.approx([1.0, 1 / 3, 0.0, 1.0], abs=0)
    assert result["complaint_score"].tolist() == [0.5, 0.0, 0.0, 1.0]
    assert result["on_time_rate"].tolist() == [0.75, 0.0, 0.0, 1.0]
    assert result["review_score"].tolist() == [1.0, 0.4, 0.0, 1.0]
    assert result["points_bonus"].tolist() == [15.0, 20.0, 0.0, 20.0]
    # 1: 100 * (0.3 + 0.2 + 0.1 + 0.15 + 0.1) + 15 = 100.0 (85 + 15)
    # 2: 100 * (0.075 + 0.0666.. + 0 + 0 + 0.04) + 20 = 38.1667
    # 3: 0; 4: 100 + 20 capped at 100.
    assert result["cooperation"].tolist() == [100.0, 38.1667, 0.0, 100.0]


def test_cooperation_without_any_engagement_is_zero() -> None:
    result = cooperation_value(value_facts(1, frequency=[3]), params=PARAMS)
    # No complaints with window orders scores the full complaint weight: 100 * 0.2.
    assert result.loc[1, "complaint_score"] == 1.0
    assert result.loc[1, "cooperation"] == 20.0


def test_points_rate_and_cap_are_parameters() -> None:
    params = ScoringParams(points_rate=0.5, points_cap=7.5)
    facts = value_facts(2, growth_points=[10, 100])
    assert cooperation_value(facts, params=params)["cooperation"].tolist() == [5.0, 7.5]


# --------------------------------------------------------------------------- composite


def test_composite_weights_the_components() -> None:
    values = pd.DataFrame(
        {"historical": [50.0, 100.0], "potential": [75.0, 100.0], "cooperation": [20.0, 100.0]},
        index=index(2),
    )
    composite = composite_value(values, params=PARAMS)
    # 0.6 * 50 + 0.3 * 75 + 0.1 * 20 = 54.5
    assert composite.tolist() == [54.5, 100.0]
    assert composite.name == "composite"


def test_composite_is_computed_from_the_rounded_components() -> None:
    # Customer 1 of 12: breadth 1/12, P = 100 * (1/12 + 0.5) / 4 = 14.58333.. -> 14.5833;
    # C = 100 * 0.2 * 3/11 = 5.45454.. -> 5.4545; H = 0.
    facts = value_facts(
        12,
        frequency=[1] * 12,
        categories=list(range(12)),
        complaints=[1] * 12,
        on_time_orders=[3] * 12,
        rated_orders=[11] * 12,
    )
    potential = potential_value(facts, params=PARAMS)["potential"].iloc[0]
    cooperation = cooperation_value(facts, params=PARAMS)["cooperation"].iloc[0]
    assert (potential, cooperation) == (14.5833, 5.4545)
    values = pd.DataFrame(
        {"historical": [0.0], "potential": [potential], "cooperation": [cooperation]},
        index=index(1),
    )
    # 0.3 * 14.5833 + 0.1 * 5.4545 = 4.92044 -> 4.9204; the unrounded parts would give 4.9205.
    assert composite_value(values, params=PARAMS).iloc[0] == 4.9204
    assert np.round(0.3 * (100 * (1 / 12 + 0.5) / 4) + 0.1 * (100 * 0.2 * 3 / 11), 4) == 4.9205
