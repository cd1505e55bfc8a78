"""Lifecycle stages (rule precedence, exact growth ratio) and the value pyramid (exact cuts)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from grading.scoring import (
    LIFECYCLE_STAGES,
    PYRAMID_LAYERS,
    ScoringParams,
    customer_facts,
    lifecycle_stage,
    value_pyramid,
)

PARAMS = ScoringParams()


def lifecycle_facts(rows: list[tuple[int | None, int | None, int, int]]) -> pd.DataFrame:
    """Rows of (tenure_days, recency_days, first_half_cents, second_half_cents)."""
    return pd.DataFrame(
        {
            "tenure_days": pd.array([r[0] for r in rows], dtype="Int64"),
            "recency_days": pd.array([r[1] for r in rows], dtype="Int64"),
            "first_half_cents": np.array([r[2] for r in rows], dtype=np.int64),
            "second_half_cents": np.array([r[3] for r in rows], dtype=np.int64),
        },
        index=pd.Index(np.arange(1, len(rows) + 1, dtype=np.int64), name="customer_id"),
    )


def stage(tenure: int | None, recency: int | None, first: int, second: int, **params) -> str:
    facts = lifecycle_facts([(tenure, recency, first, second)])
    return str(lifecycle_stage(facts, params=ScoringParams(**params)).iloc[0])


def pyramid_facts(monetary: list[int], frequency: list[int] | None = None) -> pd.DataFrame:
    frequency = frequency if frequency is not None else [1] * len(monetary)
    return pd.DataFrame(
        {
            "frequency": np.array(frequency, dtype=np.int64),
            "monetary_cents": np.array(monetary, dtype=np.int64),
        },
        index=pd.Index(np.arange(1, len(monetary) + 1, dtype=np.int64), name="customer_id"),
    )


# --------------------------------------------------------------------------- lifecycle


def test_prospect_has_no_order_at_all() -> None:
    assert stage(None, None, 0, 0) == "prospect"


@pytest.mark.parametrize(("tenure", "expected"), [(0, "new"), (90, "new"), (91, "mature")])
def test_new_means_first_order_within_new_days(tenure: int, expected: str) -> None:
    assert stage(tenure, 5, 100, 0) == expected


def test_new_wins_over_growing() -> None:
    assert stage(30, 1, 0, 500) == "new"


@pytest.mark.parametrize(
    ("recency", "expected"),
    [(180, "mature"), (181, "dormant"), (365, "dormant"), (366, "churned"), (2000, "churned")],
)
def test_dormant_and_churned_bounds(recency: int, expected: str) -> None:
    assert stage(3000, recency, 0, 0) == expected


def test_churned_wins_over_dormant_and_dormant_over_growing() -> None:
    # Inconsistent on purpose (a real dormant customer has no second-half spend): the order of
    # the rules decides.
    assert stage(3000, 400, 0, 100) == "churned"
    assert stage(3000, 200, 0, 100) == "dormant"


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (500, 600, "growing"),  # exactly 1.2 x
        (500, 599, "mature"),
        (0, 1, "growing"),  # anything from nothing
        (0, 0, "mature"),  # no spend is not growth
        (100, 0, "mature"),
    ],
)
def test_growing_compares_halves_exactly(first: int, second: int, expected: str) -> None:
    assert stage(400, 10, first, second) == expected


def test_growth_ratio_is_compared_without_floats() -> None:
    # 1.1 * 50 == 55.00000000000001 in floats, which would wrongly reject 55 >= 1.1 * 50.
    assert 1.1 * 50 > 55
    assert stage(400, 10, 50, 55, growth_ratio=Decimal("1.1")) == "growing"
    assert stage(400, 10, 50, 54, growth_ratio=Decimal("1.1")) == "mature"


def test_growth_ratio_with_huge_amounts_stays_exact() -> None:
    # ratio * first = 2**61 + 2.305843009213693952: int64 products would overflow.
    first = 2**61
    ratio = Decimal("1.000000000000000001")
    assert stage(400, 10, first, first + 2, growth_ratio=ratio) == "mature"
    assert stage(400, 10, first, first + 3, growth_ratio=ratio) == "growing"


def test_lifecycle_through_customer_facts() -> None:
    as_of = dt.date(2025, 7, 1)

    def order(cid: int, days_before: int, cents: int) -> tuple[int, dt.date, int, None]:
        return cid, as_of - dt.timedelta(days=days_before), cents, None

    rows = [
        order(1, 10, 100),  # new
        order(2, 400, 100),  # churned (R 400)
        order(3, 500, 100),
        order(3, 200, 100),  # dormant (R 200)
        order(4, 300, 100),
        order(4, 20, 120),  # growing: first half 100, second half 120
        order(5, 300, 100),
        order(5, 20, 119),  # mature
    ]
    orders = pd.DataFrame(rows, columns=["customer_id", "order_date", "net_cents", "category_id"])
    orders["category_id"] = orders["category_id"].astype("Int64")
    customers = pd.DataFrame({"customer_id": [1, 2, 3, 4, 5, 6]})
    facts = customer_facts(orders, customers, as_of=as_of, params=PARAMS)
    stages = lifecycle_stage(facts, params=PARAMS)
    assert stages.tolist() == ["new", "churned", "dormant", "growing", "mature", "prospect"]
    assert list(stages.cat.categories) == list(LIFECYCLE_STAGES)
    assert stages.name == "lifecycle"


# --------------------------------------------------------------------------- pyramid


def test_pyramid_cuts_with_one_hundred_distinct_customers() -> None:
    # M descending: customer 100 has rank 1 (share 0.01 -> top), 96..99 ranks 2..5 (<= 0.05,
    # large), 81..95 ranks 6..20 (<= 0.20, medium), the rest small. Cuts are inclusive.
    layers = value_pyramid(pyramid_facts([100 * k for k in range(1, 101)]), params=PARAMS)
    assert layers.loc[100] == "top"
    assert set(layers.loc[96:99]) == {"large"}
    assert set(layers.loc[81:95]) == {"medium"}
    assert set(layers.loc[1:80]) == {"small"}
    assert layers.value_counts().to_dict() == {"small": 80, "medium": 15, "large": 4, "top": 1}


def test_pyramid_ties_share_their_average_rank() -> None:
    # Two tied leaders hold ranks 1-2: share 1.5 / 100 > 0.01, so both are large, not top.
    # A tie over ranks 20-21 (share 0.205) falls wholly below the medium cut.
    monetary = list(range(1, 101))
    monetary[99] = monetary[98] = 1_000
    monetary[80] = monetary[79] = 80  # customers 80 and 81 hold ranks 20-21 together
    layers = value_pyramid(pyramid_facts(monetary), params=PARAMS)
    assert layers.loc[[99, 100]].tolist() == ["large", "large"]
    assert layers.loc[[80, 81]].tolist() == ["small", "small"]
    assert layers.loc[82] == "medium"  # rank 19


def test_all_tied_population_lands_in_one_layer() -> None:
    layers = value_pyramid(pyramid_facts([500] * 10), params=PARAMS)
    assert set(layers) == {"small"}  # average rank 5.5 of 10


def test_pyramid_of_small_population() -> None:
    # n = 5: the leader's share is 1/5 = 0.20 exactly: medium (inclusive cut).
    layers = value_pyramid(pyramid_facts([5, 4, 3, 2, 1]), params=PARAMS)
    assert layers.tolist() == ["medium", "small", "small", "small", "small"]
    one = value_pyramid(pyramid_facts([7]), params=PARAMS)
    assert one.tolist() == ["small"]  # share 1/1


def test_customers_without_window_orders_are_small_and_not_ranked() -> None:
    # Four customers without window orders do not dilute the population of one.
    facts = pyramid_facts([0, 0, 0, 0, 10], frequency=[0, 0, 0, 0, 1])
    custom = ScoringParams(pyramid_cuts=(Decimal("1"), Decimal("1"), Decimal("1")))
    assert value_pyramid(facts, params=custom).tolist() == ["small"] * 4 + ["top"]


def test_zero_spend_window_customers_are_in_the_population() -> None:
    # The nine zero-spend customers tie over ranks 2-10: average rank 6, share 0.6.
    facts = pyramid_facts([0, 0, 0, 0, 0, 0, 0, 0, 0, 100])
    cuts = (Decimal("0.1"), Decimal("0.5"), Decimal("0.6"))
    layers = value_pyramid(facts, params=ScoringParams(pyramid_cuts=cuts))
    assert layers.tolist() == ["medium"] * 9 + ["top"]
    cuts = (Decimal("0.1"), Decimal("0.5"), Decimal("0.59"))
    layers = value_pyramid(facts, params=ScoringParams(pyramid_cuts=cuts))
    assert layers.tolist() == ["small"] * 9 + ["top"]


def test_custom_cuts_are_compared_exactly() -> None:
    # n = 30, cut 0.1: ranks 1-3 share 1/30, 2/30, 3/30 = 0.1 exactly (inclusive: top).
    facts = pyramid_facts(list(range(30, 0, -1)))
    params = ScoringParams(pyramid_cuts=(Decimal("0.1"), Decimal("0.3"), Decimal("0.7")))
    layers = value_pyramid(facts, params=params)
    assert layers.value_counts().to_dict() == {"small": 9, "medium": 12, "large": 6, "top": 3}


def test_pyramid_dtype_and_empty_input() -> None:
    layers = value_pyramid(pyramid_facts([]), params=PARAMS)
    assert layers.empty
    assert list(layers.cat.categories) == list(PYRAMID_LAYERS)
    assert layers.name == "pyramid"
