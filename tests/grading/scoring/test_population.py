"""score_population end to end: a hand-computed population and the empty cases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from grading.scoring import (
    SCORE_COLUMNS,
    GradeRule,
    ScoringParams,
    empty_customers,
    empty_orders,
    score_population,
)

AS_OF = dt.date(2024, 7, 1)  # window [2023-07-02, 2024-07-01), second half from 2024-01-01
PARAMS = ScoringParams()
LADDER = (
    GradeRule("bronze", 1, 0.0),
    GradeRule("silver", 2, 20.0),
    GradeRule("gold", 3, 80.0, min_frequency=3),
)


def orders_frame(rows: list[tuple[int, str, int, int | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": np.array([r[0] for r in rows], dtype=np.int64),
            "order_date": pd.Series(pd.to_datetime([r[1] for r in rows]), dtype="datetime64[s]"),
            "net_cents": np.array([r[2] for r in rows], dtype=np.int64),
            "category_id": pd.array([r[3] for r in rows], dtype="Int64"),
        }
    )


def population() -> tuple[pd.DataFrame, pd.DataFrame]:
    orders = orders_frame(
        [
            (1, "2024-01-01", 100, 1),
            (1, "2024-03-01", 200, 2),
            (1, "2024-06-01", 300, None),
            (2, "2024-05-01", 50, 1),
            (3, "2022-01-01", 10, None),
            (1, "2024-07-01", 99_999, 3),  # on as_of: ignored
            (77, "2024-05-01", 10**9, 1),  # not a graded customer: ignored
        ]
    )
    customers = pd.DataFrame(
        {
            "customer_id": [4, 3, 2, 1],
            "industry": ["", "a", None, "b"],
            "campaign_invitations": [0, 0, 4, 0],
            "campaign_joins": [0, 0, 2, 0],
            "referrals": [0, 0, 1, 0],
            "reviews": [0, 0, 5, 0],
            "on_time_orders": [0, 0, 1, 0],
            "rated_orders": [0, 0, 2, 0],
            "growth_points": [0, 0, 30, 0],
        }
    )
    return orders, customers


def test_hand_computed_population() -> None:
    orders, customers = population()
    result = score_population(orders, customers, as_of=AS_OF, params=PARAMS, ladder=LADDER)
    assert result.index.tolist() == [1, 2, 3, 4]
    assert list(result.columns) == list(SCORE_COLUMNS)

    one, two, three, four = (result.loc[i] for i in (1, 2, 3, 4))
    # Customer 1: three window orders, all in the second half; gaps 60 and 92 days.
    assert (one["recency_days"], one["frequency"], one["monetary_cents"]) == (30, 3, 600)
    assert (one["categories"], one["first_half_cents"], one["second_half_cents"]) == (2, 0, 600)
    assert one["gap_cv"] == 16 / 76
    # n = 2: the better customer ranks 2 -> 5, the other ranks 1 -> ceil(2.5) = 3.
    assert (one["r_score"], one["f_score"], one["m_score"]) == (5, 5, 5)
    assert (two["r_score"], two["f_score"], two["m_score"]) == (3, 3, 3)
    assert result["rfm_segment"].tolist() == [
        "important_value",
        "important_value",
        "general_retain",
        "general_retain",
    ]
    assert result["rfm_label"].tolist() == ["champions", "potential_loyalist", "lost", "prospect"]
    assert result["lifecycle"].tolist() == ["growing", "new", "churned", "prospect"]
    assert result["pyramid"].tolist() == ["small"] * 4  # the leader's share is 1/2

    assert result["historical"].tolist() == [100.0, 50.0, 0.0, 0.0]
    # P1 = 100 * (1 + 60/76 + 1 + 0.5) / 4 = 82.23684..; P2 = 100 * (0.5 + 0 + 1 + 0.5) / 4.
    assert result["potential"].tolist() == [82.2368, 50.0, 12.5, 12.5]
    # C2 = 100 * (0.3 * 0.5 + 0.2 / 3 + 0.2 * 1 + 0.2 * 0.5 + 0.1 * 1) + 30 * 0.1 = 64.6667
    assert result["cooperation"].tolist() == [20.0, 64.6667, 0.0, 0.0]
    # 0.6 * 100 + 0.3 * 82.2368 + 0.1 * 20 = 86.67104; 30 + 15 + 6.46667 = 51.46667.
    assert result["composite"].tolist() == [86.671, 51.4667, 3.75, 3.75]
    assert result["grade"].tolist() == ["gold", "silver", "bronze", "bronze"]
    assert three["recency_days"] == 912
    assert four["recency_days"] is pd.NA


def test_one_customer_with_one_order() -> None:
    orders = orders_frame([(5, "2024-06-30", 1_000, None)])
    customers = pd.DataFrame({"customer_id": [5]})
    result = score_population(orders, customers, as_of=AS_OF, params=PARAMS, ladder=LADDER)
    row = result.loc[5]
    assert (row["r_score"], row["f_score"], row["m_score"]) == (5, 5, 5)
    assert (row["rfm_label"], row["lifecycle"], row["pyramid"]) == ("champions", "new", "small")
    assert row["historical"] == 100.0


def test_customers_without_any_orders() -> None:
    customers = pd.DataFrame({"customer_id": [1, 2], "industry": ["x", None]})
    params = ScoringParams(industry_priors={"x": 1.0})
    result = score_population(empty_orders(), customers, as_of=AS_OF, params=params, ladder=LADDER)
    assert result["r_score"].tolist() == [1, 1]
    assert result["rfm_label"].tolist() == ["prospect", "prospect"]
    assert result["lifecycle"].tolist() == ["prospect", "prospect"]
    assert result["potential"].tolist() == [25.0, 12.5]  # the industry prior alone
    assert result["composite"].tolist() == [7.5, 3.75]
    assert result["grade"].tolist() == ["bronze", "bronze"]


def test_empty_population_has_the_same_columns_and_dtypes() -> None:
    orders, customers = population()
    full = score_population(orders, customers, as_of=AS_OF, params=PARAMS, ladder=LADDER)
    for orders_in in (orders, empty_orders()):
        empty = score_population(
            orders_in, empty_customers(), as_of=AS_OF, params=PARAMS, ladder=LADDER
        )
        assert empty.empty
        assert list(empty.columns) == list(SCORE_COLUMNS)
        pd.testing.assert_series_equal(empty.dtypes, full.dtypes)
        assert empty.index.name == "customer_id"
        assert empty.index.dtype == np.int64


def test_empty_ladder_is_refused_even_for_an_empty_population() -> None:
    with pytest.raises(ValueError, match="empty"):
        score_population(empty_orders(), empty_customers(), as_of=AS_OF, params=PARAMS, ladder=())


def test_inputs_are_not_modified() -> None:
    orders, customers = population()
    before = (orders.copy(deep=True), customers.copy(deep=True))
    score_population(orders, customers, as_of=AS_OF, params=PARAMS, ladder=LADDER)
    pd.testing.assert_frame_equal(orders, before[0])
    pd.testing.assert_frame_equal(customers, before[1])


def test_within_pyramid_scores_end_to_end() -> None:
    # 25 customers with one order each, spend 1..25: the leader is large (share 1/25 = 0.04),
    # and as a population of one inside its layer it scores 5/5/5.
    rows: list[tuple[int, str, int, int | None]] = [
        (i, "2024-06-01", 100 * i, None) for i in range(1, 26)
    ]
    customers = pd.DataFrame({"customer_id": list(range(1, 26))})
    params = ScoringParams(rfm_within_pyramid=True)
    result = score_population(
        orders_frame(rows), customers, as_of=AS_OF, params=params, ladder=LADDER
    )
    assert result.loc[25, "pyramid"] == "large"
    assert result["pyramid"].value_counts().to_dict() == {
        "small": 20,
        "medium": 4,
        "large": 1,
        "top": 0,
    }
    assert list(result.loc[25, ["r_score", "f_score", "m_score"]]) == [5, 5, 5]
    # Medium layer (ranks 2-5, customers 21-24): M ranks 1..4 of 4 -> 2, 3, 4, 5.
    assert result.loc[21:24, "m_score"].tolist() == [2, 3, 4, 5]
