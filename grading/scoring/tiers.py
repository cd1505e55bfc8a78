"""Composite score -> grade code, through a ladder of `GradeRule`s."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from grading.scoring.rules import GradeRule

# Columns of the scores frame this module reads (the names compute.py produces).
COMPOSITE_COLUMN = "composite"
FREQUENCY_COLUMN = "frequency"
MONETARY_COLUMN = "monetary_cents"


def validate_ladder(ladder: Sequence[GradeRule]) -> tuple[GradeRule, ...]:
    """Return the ladder sorted by rank ascending (lowest grade first).

    Raises ValueError when the ladder is empty or repeats a code or a rank (a repeated rank
    would make "the highest-rank grade" ambiguous).
    """
    rules = tuple(ladder)
    if not rules:
        raise ValueError("the grade ladder is empty")
    if len({rule.code for rule in rules}) != len(rules):
        raise ValueError("the grade ladder repeats a grade code")
    if len({rule.rank for rule in rules}) != len(rules):
        raise ValueError("the grade ladder repeats a rank")
    return tuple(sorted(rules, key=lambda rule: rule.rank))


def assign_grades(scores: pd.DataFrame, ladder: Sequence[GradeRule]) -> pd.Series:
    """Return each row's grade code: the highest-rank grade it qualifies for.

    A row qualifies for a grade when composite >= min_score (points; `composite` is expected
    to be already rounded to 4 decimals, so a value exactly on the floor qualifies) and
    frequency >= min_frequency and monetary_cents >= min_monetary_cents (hard gates, inclusive).
    Rows that qualify for no grade, including rows with a NaN composite, get the lowest-rank
    grade. The result is an ordered categorical (categories = codes by rank ascending) named
    "grade", indexed like `scores`. Raises ValueError for an empty or ambiguous ladder.
    """
    rules = validate_ladder(ladder)
    composite = scores[COMPOSITE_COLUMN].to_numpy(dtype=np.float64, na_value=np.nan)
    frequency = scores[FREQUENCY_COLUMN].to_numpy(dtype=np.int64)
    monetary = scores[MONETARY_COLUMN].to_numpy(dtype=np.int64)
    codes = np.zeros(composite.size, dtype=np.int64)
    # Ascending rank: a later (higher) grade that also qualifies overwrites a lower one.
    for position, rule in enumerate(rules):
        qualifies = (
            (composite >= rule.min_score)
            & (frequency >= rule.min_frequency)
            & (monetary >= rule.min_monetary_cents)
        )
        codes[qualifies] = position
    grades = pd.Categorical.from_codes(
        codes, categories=pd.Index([rule.code for rule in rules]), ordered=True
    )
    return pd.Series(grades, index=scores.index, name="grade")
