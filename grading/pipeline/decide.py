"""Score and decide: the pure layers (`grading.scoring`, `grading.policy`) on extracted frames."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from grading import policy
from grading.pipeline import extract
from grading.pipeline.rules import SchemeRules
from grading.scoring import score_facts
from grading.scoring.population import PopulationCuts


def score_period(
    *,
    rules: SchemeRules,
    as_of: dt.date,
    id_range: tuple[int, int] | None = None,
    cuts: PopulationCuts | None = None,
) -> pd.DataFrame:
    """Extract the period's facts (optionally one customer-id range) and score them."""
    facts = extract.extract_facts(as_of=as_of, params=rules.params, id_range=id_range)
    return score_facts(facts, params=rules.params, ladder=rules.ladder, cuts=cuts)


def decide(
    scores: pd.DataFrame, state: pd.DataFrame, *, rules: SchemeRules, as_of: dt.date
) -> pd.DataFrame:
    """Return the policy decision of every scored customer (pure; see grading.policy)."""
    frame = state.reindex(scores.index).copy()
    frame["computed_grade"] = scores["grade"].astype("str")
    frame["composite"] = scores["composite"].astype("float64")
    frame["frequency"] = scores["frequency"]
    frame["monetary_cents"] = scores["monetary_cents"]
    frame["periods_under"] = frame["periods_under"].fillna(0).astype("int64")
    frame["pending_downgrade"] = frame["pending_downgrade"].fillna(False).astype(bool)
    context = policy.RunContext.for_as_of(as_of)
    decisions = policy.decide(frame, ladder=rules.policy_ladder, context=context)
    # The counter before the run: the write step rewrites only the state rows that move.
    decisions["periods_under_before"] = frame["periods_under"]
    return decisions
