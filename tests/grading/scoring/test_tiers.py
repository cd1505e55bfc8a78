"""Grade assignment: score floors, hard gates, fallback to the lowest grade."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from grading.scoring import GradeRule, assign_grades, validate_ladder

LADDER = (
    GradeRule("bronze", 1, 0.0),
    GradeRule("silver", 2, 40.0),
    GradeRule("gold", 3, 70.0, min_frequency=5),
    GradeRule("platinum", 4, 90.0, min_frequency=5, min_monetary_cents=1_000_000),
)


def scored(rows: list[tuple[float, int, int]]) -> pd.DataFrame:
    """Rows of (composite, frequency, monetary_cents)."""
    return pd.DataFrame(
        {
            "composite": [r[0] for r in rows],
            "frequency": np.array([r[1] for r in rows], dtype=np.int64),
            "monetary_cents": np.array([r[2] for r in rows], dtype=np.int64),
        },
        index=pd.Index(np.arange(1, len(rows) + 1, dtype=np.int64), name="customer_id"),
    )


@pytest.mark.parametrize(
    ("row", "grade"),
    [
        ((95.0, 10, 2_000_000), "platinum"),
        ((90.0, 5, 1_000_000), "platinum"),  # every bound inclusive
        ((95.0, 10, 999_999), "gold"),  # money gate fails: next grade down
        ((95.0, 4, 5_000_000), "silver"),  # frequency gate fails for gold and platinum
        ((70.0, 5, 0), "gold"),
        ((69.9999, 5, 0), "silver"),
        ((40.0, 0, 0), "silver"),
        ((39.9999, 100, 10**9), "bronze"),
        ((0.0, 0, 0), "bronze"),
    ],
)
def test_highest_qualifying_grade(row: tuple[float, int, int], grade: str) -> None:
    assert assign_grades(scored([row]), LADDER).iloc[0] == grade


def test_nobody_qualifying_gets_the_lowest_grade() -> None:
    gated = (
        GradeRule("basic", 1, 10.0, min_frequency=1),
        GradeRule("plus", 2, 50.0),
    )
    grades = assign_grades(scored([(5.0, 0, 0), (math.nan, 3, 100), (60.0, 0, 0)]), gated)
    assert grades.tolist() == ["basic", "basic", "plus"]


def test_ladder_order_does_not_matter() -> None:
    frame = scored([(95.0, 10, 2_000_000), (50.0, 1, 1), (75.0, 6, 0)])
    forwards = assign_grades(frame, LADDER)
    backwards = assign_grades(frame, tuple(reversed(LADDER)))
    pd.testing.assert_series_equal(forwards, backwards)
    assert forwards.tolist() == ["platinum", "silver", "gold"]


def test_grades_are_an_ordered_categorical_by_rank() -> None:
    grades = assign_grades(scored([(95.0, 10, 2_000_000), (10.0, 0, 0)]), LADDER[::-1])
    assert list(grades.cat.categories) == ["bronze", "silver", "gold", "platinum"]
    assert grades.cat.ordered
    assert grades.iloc[0] > grades.iloc[1]
    assert grades.name == "grade"
    assert grades.index.tolist() == [1, 2]


def test_single_grade_ladder_grades_everybody() -> None:
    grades = assign_grades(scored([(0.0, 0, 0), (99.0, 9, 9)]), [GradeRule("all", 7, 50.0)])
    assert grades.tolist() == ["all", "all"]


def test_empty_frame_gives_empty_grades() -> None:
    grades = assign_grades(scored([]), LADDER)
    assert grades.empty
    assert list(grades.cat.categories) == ["bronze", "silver", "gold", "platinum"]


def test_empty_ladder_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        assign_grades(scored([(50.0, 1, 1)]), [])


@pytest.mark.parametrize(
    "ladder",
    [
        (GradeRule("a", 1, 0.0), GradeRule("b", 1, 50.0)),
        (GradeRule("a", 1, 0.0), GradeRule("a", 2, 50.0)),
    ],
)
def test_ambiguous_ladder_is_refused(ladder: tuple[GradeRule, ...]) -> None:
    with pytest.raises(ValueError, match="repeats"):
        validate_ladder(ladder)
