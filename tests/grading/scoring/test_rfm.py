"""RFM scores (quintiles and thresholds), segments and labels, with hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from grading.scoring import (
    RFM_LABELS,
    RFM_SEGMENTS,
    ScoringParams,
    rfm_label,
    rfm_scores,
    rfm_segment,
    value_pyramid,
)

QUINTILE = ScoringParams()
THRESHOLDS = ScoringParams(rfm_method="thresholds")


def facts(
    *,
    frequency: list[int],
    monetary: list[int] | None = None,
    recency: list[int | None] | None = None,
) -> pd.DataFrame:
    """A minimal facts frame (customer ids 1..n) with the columns RFM scoring reads."""
    size = len(frequency)
    monetary = monetary if monetary is not None else [100 * f for f in frequency]
    if recency is None:
        recency = [10 if f else None for f in frequency]
    return pd.DataFrame(
        {
            "recency_days": pd.array(recency, dtype="Int64"),
            "frequency": np.array(frequency, dtype=np.int64),
            "monetary_cents": np.array(monetary, dtype=np.int64),
        },
        index=pd.Index(np.arange(1, size + 1, dtype=np.int64), name="customer_id"),
    )


def scores_frame(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        np.array(rows, dtype=np.int64).reshape(-1, 3),
        columns=["r_score", "f_score", "m_score"],
        index=pd.Index(np.arange(1, len(rows) + 1, dtype=np.int64), name="customer_id"),
    )


# --------------------------------------------------------------------------- quintiles


def test_all_tied_customers_share_one_score() -> None:
    # n = 4, all tied: average rank 2.5, ceil(5 * 2.5 / 4) = ceil(3.125) = 4.
    scores = rfm_scores(facts(frequency=[1, 1, 1, 1]), params=QUINTILE)
    assert scores.to_numpy().tolist() == [[4, 4, 4]] * 4


def test_one_customer_scores_five() -> None:
    scores = rfm_scores(facts(frequency=[3]), params=QUINTILE)
    assert scores.to_numpy().tolist() == [[5, 5, 5]]


def test_five_distinct_values_give_one_to_five_exactly() -> None:
    # The floating-point trap: a share accumulated in floats, 0.2 + 0.2 + 0.2, times 5 is
    # 3.0000000000000004, whose ceiling is 4. The integer formula gives the 3rd exactly 3.
    assert math.ceil((0.2 + 0.2 + 0.2) * 5) == 4
    scores = rfm_scores(
        facts(frequency=[1, 2, 3, 4, 5], monetary=[50, 10, 40, 20, 30]), params=QUINTILE
    )
    assert scores["f_score"].tolist() == [1, 2, 3, 4, 5]
    assert scores["m_score"].tolist() == [5, 1, 4, 2, 3]


def test_ten_distinct_values_give_two_per_quintile() -> None:
    scores = rfm_scores(facts(frequency=list(range(1, 11))), params=QUINTILE)
    assert scores["f_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_partial_ties_use_the_average_rank() -> None:
    # Values 10, 10, 20: the tie holds ranks 1-2 (avg 1.5 -> ceil(2.5) = 3), 20 has rank 3 (5).
    # Values 7, 7, 7, 9, 9: ranks 1-3 avg 2 -> ceil(2) = 2; ranks 4-5 avg 4.5 -> ceil(4.5) = 5.
    three = rfm_scores(facts(frequency=[1, 1, 1], monetary=[10, 10, 20]), params=QUINTILE)
    assert three["m_score"].tolist() == [3, 3, 5]
    five = rfm_scores(facts(frequency=[1] * 5, monetary=[7, 9, 7, 9, 7]), params=QUINTILE)
    assert five["m_score"].tolist() == [2, 5, 2, 5, 2]


def test_smaller_recency_scores_higher() -> None:
    scores = rfm_scores(facts(frequency=[1] * 5, recency=[300, 1, 30, 200, 90]), params=QUINTILE)
    assert scores["r_score"].tolist() == [1, 5, 4, 2, 3]


def test_customers_without_window_orders_get_ones_and_stay_out_of_the_population() -> None:
    frame = facts(
        frequency=[0, 2, 0, 4],
        monetary=[0, 200, 0, 400],
        recency=[None, 10, 400, 20],
    )
    scores = rfm_scores(frame, params=QUINTILE)
    assert scores.loc[[1, 3]].to_numpy().tolist() == [[1, 1, 1], [1, 1, 1]]
    # n = 2: ranks 1 and 2 give ceil(2.5) = 3 and 5.
    assert scores.loc[[2, 4]].to_numpy().tolist() == [[5, 3, 3], [3, 5, 5]]


def test_zero_monetary_window_customers_are_ranked() -> None:
    scores = rfm_scores(facts(frequency=[1, 1], monetary=[0, 0]), params=QUINTILE)
    # n = 2, tied: avg rank 1.5, ceil(3.75) = 4.
    assert scores["m_score"].tolist() == [4, 4]


def test_empty_facts_give_empty_scores() -> None:
    scores = rfm_scores(facts(frequency=[]), params=QUINTILE)
    assert scores.empty
    assert scores.dtypes.tolist() == [np.int64] * 3


# --------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize(
    ("recency", "expected"),
    [(0, 5), (30, 5), (31, 4), (90, 4), (91, 3), (180, 3), (181, 2), (365, 2), (366, 1)],
)
def test_recency_thresholds_are_inclusive_upper_bounds(recency: int, expected: int) -> None:
    scores = rfm_scores(facts(frequency=[1], recency=[recency]), params=THRESHOLDS)
    assert scores.loc[1, "r_score"] == expected


@pytest.mark.parametrize(
    ("frequency", "expected"), [(1, 1), (2, 2), (3, 2), (4, 3), (7, 3), (8, 4), (16, 5), (99, 5)]
)
def test_frequency_thresholds_are_inclusive_lower_bounds(frequency: int, expected: int) -> None:
    scores = rfm_scores(facts(frequency=[frequency]), params=THRESHOLDS)
    assert scores.loc[1, "f_score"] == expected


@pytest.mark.parametrize(
    ("monetary", "expected"),
    [
        (0, 1),
        (99_999, 1),
        (100_000, 2),
        (499_999, 2),
        (500_000, 3),
        (2_000_000, 4),
        (9_999_999, 4),
        (10_000_000, 5),
    ],
)
def test_monetary_thresholds_are_inclusive_lower_bounds(monetary: int, expected: int) -> None:
    scores = rfm_scores(facts(frequency=[1], monetary=[monetary]), params=THRESHOLDS)
    assert scores.loc[1, "m_score"] == expected


def test_thresholds_give_ones_without_window_orders() -> None:
    scores = rfm_scores(facts(frequency=[0], monetary=[0], recency=[5]), params=THRESHOLDS)
    assert scores.to_numpy().tolist() == [[1, 1, 1]]


def test_thresholds_do_not_depend_on_the_population() -> None:
    one = rfm_scores(facts(frequency=[4], monetary=[600_000]), params=THRESHOLDS)
    many = rfm_scores(facts(frequency=[4, 20, 1], monetary=[600_000, 1, 2]), params=THRESHOLDS)
    assert list(one.loc[1]) == list(many.loc[1]) == [5, 3, 3]


def test_within_pyramid_is_ignored_by_thresholds() -> None:
    frame = facts(frequency=list(range(1, 21)), monetary=[i * 50_000 for i in range(1, 21)])
    plain = rfm_scores(frame, params=THRESHOLDS)
    layered = rfm_scores(
        frame, params=ScoringParams(rfm_method="thresholds", rfm_within_pyramid=True)
    )
    pd.testing.assert_frame_equal(plain, layered)


# --------------------------------------------------------------------------- within pyramid


def test_quintiles_within_pyramid_layers() -> None:
    # 100 customers, M = 100 * k, same recency. Pyramid by M descending: k = 100 top (rank 1),
    # 96-99 large (ranks 2-5), 81-95 medium (ranks 6-20), 1-80 small.
    frame = facts(frequency=[1] * 100, monetary=[100 * k for k in range(1, 101)])
    layered = rfm_scores(frame, params=ScoringParams(rfm_within_pyramid=True))
    m = layered["m_score"]
    assert m.loc[100] == 5  # n = 1
    assert m.loc[96:99].tolist() == [2, 3, 4, 5]  # ceil(5k / 4)
    assert m.loc[81:95].tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]  # ceil(k / 3)
    assert m.loc[1:80].tolist() == [math.ceil(k / 16) for k in range(1, 81)]
    # All recencies tied: ceil(5 (n + 1) / (2 n)) per layer size n = 1, 4, 15, 80.
    r = layered["r_score"]
    assert (r.loc[100], r.loc[96], r.loc[81], r.loc[1]) == (5, 4, 3, 3)
    plain = rfm_scores(frame, params=QUINTILE)
    assert plain["m_score"].tolist() == [math.ceil(k / 20) for k in range(1, 101)]
    assert set(plain["r_score"]) == {3}  # ceil(5 * 50.5 / 100) = ceil(2.525)


def test_within_pyramid_accepts_a_precomputed_pyramid() -> None:
    frame = facts(frequency=[1] * 30, monetary=list(range(30)))
    params = ScoringParams(rfm_within_pyramid=True)
    pyramid = value_pyramid(frame, params=params)
    pd.testing.assert_frame_equal(
        rfm_scores(frame, params=params), rfm_scores(frame, params=params, pyramid=pyramid)
    )
    with pytest.raises(ValueError, match="pyramid"):
        rfm_scores(frame, params=params, pyramid=pyramid.iloc[1:])


# --------------------------------------------------------------------------- segments


@pytest.mark.parametrize(
    ("r", "f", "m", "segment"),
    [
        (5, 5, 5, "important_value"),
        (3, 3, 3, "important_value"),
        (5, 2, 5, "important_develop"),
        (2, 5, 5, "important_keep"),
        (1, 1, 3, "important_retain"),
        (4, 4, 2, "general_value"),
        (3, 1, 1, "general_develop"),
        (2, 3, 2, "general_keep"),
        (2, 2, 2, "general_retain"),
        (1, 1, 1, "general_retain"),
    ],
)
def test_every_segment(r: int, f: int, m: int, segment: str) -> None:
    result = rfm_segment(scores_frame([(r, f, m)]))
    assert result.iloc[0] == segment
    assert list(result.cat.categories) == list(RFM_SEGMENTS)
    assert result.name == "rfm_segment"


# --------------------------------------------------------------------------- labels

# Transcribed from the scheme: R x FM grid, FM = (f + m + 1) // 2.
LABEL_GRID = {
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
LABEL_OF_KEY = {key: label for label, keys in LABEL_GRID.items() for key in keys}


@pytest.mark.parametrize("key", sorted(LABEL_OF_KEY))
def test_every_label_key(key: int) -> None:
    r, fm = divmod(key, 10)
    # f = m = FM, and the half-up pair (FM - 1, FM) where it exists, give the same FM.
    rows = [(r, fm, fm)] + ([(r, fm - 1, fm)] if fm > 1 else [])
    scores = scores_frame(rows)
    labels = rfm_label(scores, facts(frequency=[1] * len(rows)))
    assert labels.tolist() == [LABEL_OF_KEY[key]] * len(rows)


def test_fm_rounds_half_up() -> None:
    # (f, m) = (1, 2) -> FM = 2; (4, 5) -> 5; (2, 5) -> 4; with r = 5: 52, 55, 54.
    labels = rfm_label(scores_frame([(5, 1, 2), (5, 4, 5), (5, 2, 5)]), facts(frequency=[1] * 3))
    assert labels.tolist() == ["potential_loyalist", "champions", "champions"]


def test_customers_without_window_orders_are_lost_or_prospects() -> None:
    frame = facts(frequency=[0, 0, 2], monetary=[0, 0, 5], recency=[400, None, 3])
    labels = rfm_label(scores_frame([(1, 1, 1), (1, 1, 1), (5, 5, 5)]), frame)
    assert labels.tolist() == ["lost", "prospect", "champions"]
    assert list(labels.cat.categories) == list(RFM_LABELS)
