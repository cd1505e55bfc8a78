"""Tests for the pure grade policy, ``grading.policy`` (docs/grading-policy.md).

No database: small hand-built frames with exact expected decisions for every case of the
policy (docs/grading-policy.md has the same cases as a table), multi-period scenarios that
feed each run's output back as the next run's state, and property tests: against a
row-by-row reference written from the docs/grading-policy.md text, monotonicity of "under
target" in the composite for fixed gate inputs, and runs dated between quarter starts never
touching a quarterly count.
"""

from __future__ import annotations

import ast
import math
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grading import policy
from grading.policy import (
    ACTIONS,
    CADENCES,
    DEFAULT_COUNTS,
    OUTPUT_COLUMNS,
    RULES,
    STATE_COLUMNS,
    GradePolicy,
    Ladder,
    RunContext,
    cadences_due,
    decide,
    default_counts,
)

MONTH_END = RunContext(frozenset({"monthly"}))
QUARTER_END = RunContext(frozenset({"monthly", "quarterly"}))

# diamond: quarterly top grade with the design defaults (warn 2, downgrade 3, reviewed) and a
# spend gate of 10,000.00. gold: monthly (warn 1, downgrade 2, reviewed), gate of 6 orders.
# silver: never warns, downgrades by itself after 3 periods. bronze: the floor.
LADDER = Ladder(
    [
        GradePolicy("bronze", rank=1, min_score=0.0),
        GradePolicy(
            "silver",
            rank=2,
            min_score=40.0,
            warn_after=0,
            downgrade_after=3,
            downgrade_needs_review=False,
        ),
        GradePolicy("gold", rank=3, min_score=70.0, hysteresis=5.0, min_frequency=6),
        GradePolicy(
            "diamond",
            rank=4,
            min_score=90.0,
            hysteresis=5.0,
            cadence="quarterly",
            min_monetary_cents=1_000_000,
        ),
    ]
)

# By default a customer passes every gate of LADDER.
DEFAULT_ROW: dict[str, Any] = {
    "frequency": 12,
    "monetary_cents": 5_000_000,
    "current_grade": None,
    "periods_under": 0,
    "override_grade": None,
    "locked_grade": None,
    "pending_downgrade": False,
}
GRADE_COLUMNS = ("computed_grade", "current_grade", "override_grade", "locked_grade")


def make_state(*rows: dict[str, Any], index: list[Any] | None = None) -> pd.DataFrame:
    """Build a state frame from partial rows; missing fields take the defaults above."""
    full = [DEFAULT_ROW | row for row in rows]
    columns: dict[str, Any] = {column: [row[column] for row in full] for column in STATE_COLUMNS}
    for column in GRADE_COLUMNS:
        columns[column] = pd.array(columns[column], dtype="str")
    columns["composite"] = np.array(columns["composite"], dtype=float)
    for column in ("frequency", "monetary_cents", "periods_under"):
        columns[column] = np.array(columns[column], dtype=np.int64)
    columns["pending_downgrade"] = np.array(columns["pending_downgrade"], dtype=bool)
    ids = pd.Index(index if index is not None else range(1, len(full) + 1), name="customer_id")
    return pd.DataFrame(columns, index=ids)


def plain(value: Any) -> Any:
    """Return None for any missing marker and plain bools, so expectations read simply."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(value) if isinstance(value, np.bool_) else value


def decisions(out: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [
        tuple(plain(v) for v in row) for row in out[list(OUTPUT_COLUMNS)].itertuples(index=False)
    ]


def d(
    action: str,
    old: str | None,
    new: str | None,
    target: str | None,
    count: int,
    rule: str,
    *,
    under: bool = False,
    withdraw: bool = False,
) -> tuple[Any, ...]:
    """One expected decision, in OUTPUT_COLUMNS order."""
    return (action, old, new, target, count, rule, under, withdraw)


# --- Ladder ---------------------------------------------------------------------------------


def test_ladder_orders_grades_from_highest_rank_and_looks_them_up():
    assert LADDER.codes == ("diamond", "gold", "silver", "bronze")
    assert len(LADDER) == 4
    assert [grade.code for grade in LADDER] == list(LADDER.codes)
    assert LADDER.by_code("gold").rank == 3
    assert LADDER.lowest.code == "bronze"
    assert "gold" in LADDER
    assert "platinum" not in LADDER


@pytest.mark.parametrize(
    ("code", "expected"),
    [("diamond", "gold"), ("gold", "silver"), ("silver", "bronze"), ("bronze", None)],
)
def test_next_lower_is_one_step_down_and_none_at_the_bottom(code, expected):
    lower = LADDER.next_lower(code)
    assert (lower.code if lower else None) == expected


def test_unknown_code_raises_key_error_naming_the_code():
    with pytest.raises(KeyError, match="platinum"):
        LADDER.by_code("platinum")
    with pytest.raises(KeyError, match="platinum"):
        LADDER.next_lower("platinum")


def test_ladder_accepts_any_iterable_and_compares_by_grades():
    grades = [GradePolicy("a", rank=1, min_score=0.0), GradePolicy("b", rank=2, min_score=50.0)]
    assert Ladder(iter(grades)) == Ladder(tuple(reversed(grades)))
    assert hash(Ladder(grades)) == hash(Ladder(grades))


def _grade(**changes: Any) -> GradePolicy:
    return replace(GradePolicy("a", rank=1, min_score=0.0), **changes)


@pytest.mark.parametrize(
    ("grades", "message"),
    [
        ([], "at least one grade"),
        ([_grade(), _grade(rank=2)], r"codes must be unique, repeated: \['a'\]"),
        ([_grade(), _grade(code="b")], r"ranks must be unique, repeated: \[1\]"),
        ([_grade(warn_after=-1)], "warn_after must be >= 0"),
        ([_grade(downgrade_after=0, warn_after=0)], "downgrade_after must be >= 1"),
        ([_grade(warn_after=3, downgrade_after=2)], r"warn_after \(3\) must be <= downgrade_after"),
        ([_grade(cadence="weekly")], "cadence must be one of"),
        ([_grade(hysteresis=-1.0)], "hysteresis must be >= 0"),
        ([_grade(hysteresis=float("nan"))], "hysteresis must be >= 0"),
        ([_grade(min_frequency=-1)], "gates must be >= 0"),
        ([_grade(min_monetary_cents=-1)], "gates must be >= 0"),
    ],
)
def test_invalid_ladder_raises_value_error_with_clear_message(grades, message):
    with pytest.raises(ValueError, match=message):
        Ladder(grades)


def test_invalid_ladder_reports_every_problem_at_once():
    with pytest.raises(ValueError, match="invalid grade ladder") as error:
        Ladder([_grade(), _grade(warn_after=-1)])
    assert "codes must be unique" in str(error.value)
    assert "ranks must be unique" in str(error.value)
    assert "warn_after must be >= 0" in str(error.value)


def test_grade_policy_defaults_follow_the_design():
    # Two quarters short of target start the warning talk; a third without improvement
    # proposes the downgrade. Monthly grades warn after one month and propose after two.
    assert DEFAULT_COUNTS == {"monthly": (1, 2), "quarterly": (2, 3)}
    monthly = GradePolicy("gold", rank=3, min_score=70.0)
    assert (monthly.hysteresis, monthly.cadence) == (0.0, "monthly")
    assert (monthly.min_frequency, monthly.min_monetary_cents) == (0, 0)
    assert (monthly.warn_after, monthly.downgrade_after, monthly.downgrade_needs_review) == (
        1,
        2,
        True,
    )
    quarterly = GradePolicy("key", rank=4, min_score=55.0, cadence="quarterly")
    assert (quarterly.warn_after, quarterly.downgrade_after) == (2, 3)
    assert default_counts("quarterly") == (2, 3)
    assert default_counts("monthly") == (1, 2)


def test_explicit_counts_win_over_the_cadence_defaults():
    grade = GradePolicy("key", rank=4, min_score=55.0, cadence="quarterly", warn_after=0)
    assert (grade.warn_after, grade.downgrade_after) == (0, 3)
    grade = GradePolicy("key", rank=4, min_score=55.0, cadence="quarterly", downgrade_after=5)
    assert (grade.warn_after, grade.downgrade_after) == (2, 5)


# --- Run context ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2026, 4, 1), {"monthly", "quarterly"}),  # run for March = Q1 end
        (date(2026, 7, 1), {"monthly", "quarterly"}),
        (date(2026, 10, 1), {"monthly", "quarterly"}),
        (date(2027, 1, 1), {"monthly", "quarterly"}),  # run for December = Q4 end
        (date(2026, 2, 1), {"monthly"}),
        (date(2026, 3, 1), {"monthly"}),
        (date(2026, 5, 1), {"monthly"}),
        (date(2026, 12, 1), {"monthly"}),
        (date(2026, 3, 31), {"monthly"}),  # not the first day after a period
        (date(2026, 4, 2), {"monthly"}),
    ],
)
def test_cadences_due_counts_as_of_as_first_day_after_the_period(as_of, expected):
    assert cadences_due(as_of) == frozenset(expected)
    assert RunContext.cadences_due(as_of) == frozenset(expected)
    assert RunContext.for_as_of(as_of).due_cadences == frozenset(expected)


def test_run_context_normalises_to_frozenset_and_rejects_unknown_cadences():
    assert RunContext({"monthly"}).due_cadences == frozenset({"monthly"})
    with pytest.raises(ValueError, match="unknown cadences"):
        RunContext(frozenset({"Monthly"}))


# --- decide: every case of the policy -----------------------------------------------------------

# (id, row, context, expected decision); the row's fields not given are DEFAULT_ROW's.
RULE_CASES = [
    # 1. an override pins, whatever the scores, counters, locks or pending proposals say
    (
        "override_pins_above_score",
        {"computed_grade": "diamond", "composite": 99, "current_grade": "silver"}
        | {"override_grade": "gold", "periods_under": 2},
        MONTH_END,
        d("pinned", "silver", "gold", None, 0, "override"),
    ),
    (
        "override_pins_below_score",
        {"computed_grade": "bronze", "composite": 1, "current_grade": "gold"}
        | {"override_grade": "gold", "periods_under": 5, "pending_downgrade": True},
        QUARTER_END,
        d("pinned", "gold", "gold", None, 0, "override"),
    ),
    (
        "override_beats_appeal_lock",
        {"computed_grade": "bronze", "composite": 1, "current_grade": "gold"}
        | {"override_grade": "diamond", "locked_grade": "gold"},
        MONTH_END,
        d("pinned", "gold", "diamond", None, 0, "override"),
    ),
    (
        "override_beats_first_grading",
        {"computed_grade": "bronze", "composite": 10, "override_grade": "gold"},
        MONTH_END,
        d("pinned", None, "gold", None, 0, "override"),
    ),
    (
        "override_may_name_a_retired_grade",
        {"computed_grade": "bronze", "composite": 10, "current_grade": "legacy_vip"}
        | {"override_grade": "legacy_vip"},
        MONTH_END,
        d("pinned", "legacy_vip", "legacy_vip", None, 0, "override"),
    ),
    # 2. an appeal lock keeps the current grade
    (
        "lock_keeps_grade_below_target",
        {"computed_grade": "bronze", "composite": 5, "current_grade": "gold"}
        | {"locked_grade": "gold", "periods_under": 1},
        MONTH_END,
        d("locked", "gold", "gold", None, 0, "appeal_lock"),
    ),
    (
        "lock_beats_upgrade",
        {"computed_grade": "diamond", "composite": 95, "current_grade": "gold"}
        | {"locked_grade": "gold"},
        QUARTER_END,
        d("locked", "gold", "gold", None, 0, "appeal_lock"),
    ),
    (
        "lock_without_current_grade_uses_locked_grade",
        {"computed_grade": "bronze", "composite": 5, "locked_grade": "silver"},
        MONTH_END,
        d("locked", None, "silver", None, 0, "appeal_lock"),
    ),
    (
        "lock_reports_current_grade_even_if_different",
        {"computed_grade": "bronze", "composite": 5, "current_grade": "gold"}
        | {"locked_grade": "silver"},
        MONTH_END,
        d("locked", "gold", "gold", None, 0, "appeal_lock"),
    ),
    # 3. first grading assigns the computed grade without review
    (
        "first_grading_assigns_top_grade",
        {"computed_grade": "diamond", "composite": 93},
        MONTH_END,
        d("assign", None, "diamond", "diamond", 0, "first_grading"),
    ),
    (
        "first_grading_assigns_low_grade_and_resets_counter",
        {"computed_grade": "bronze", "composite": 3, "periods_under": 4, "pending_downgrade": True},
        QUARTER_END,
        d("assign", None, "bronze", "bronze", 0, "first_grading"),
    ),
    # 4. upgrades: at any run, straight to the computed grade; a pending proposal is withdrawn
    (
        "upgrade_one_step",
        {"computed_grade": "silver", "composite": 45, "current_grade": "bronze"},
        MONTH_END,
        d("upgrade", "bronze", "silver", "silver", 0, "score_above_grade"),
    ),
    (
        "upgrade_to_a_quarterly_grade_jumps_off_quarter",
        {"computed_grade": "diamond", "composite": 91, "current_grade": "bronze"}
        | {"periods_under": 2},
        MONTH_END,
        d("upgrade", "bronze", "diamond", "diamond", 0, "score_above_grade"),
    ),
    (
        "upgrade_withdraws_a_pending_proposal",
        {"computed_grade": "diamond", "composite": 91, "current_grade": "gold"}
        | {"periods_under": 2, "pending_downgrade": True},
        MONTH_END,
        d("upgrade", "gold", "diamond", "diamond", 0, "score_above_grade", withdraw=True),
    ),
    # 5a. a run that does not review the rung, on target: the count stays, so does a proposal
    (
        "quarterly_recovery_off_quarter_leaves_the_count",
        {"computed_grade": "diamond", "composite": 92, "current_grade": "diamond"}
        | {"periods_under": 1},
        MONTH_END,
        d("keep", "diamond", "diamond", None, 1, "on_target_not_due"),
    ),
    (
        "quarterly_within_band_off_quarter_leaves_the_count",
        {"computed_grade": "gold", "composite": 86, "current_grade": "diamond"}
        | {"periods_under": 2},
        MONTH_END,
        d("keep", "diamond", "diamond", None, 2, "on_target_not_due"),
    ),
    (
        "quarterly_recovery_off_quarter_keeps_the_proposal",
        {"computed_grade": "diamond", "composite": 93, "current_grade": "diamond"}
        | {"periods_under": 3, "pending_downgrade": True},
        MONTH_END,
        d("keep", "diamond", "diamond", None, 3, "on_target_not_due"),
    ),
    # 5b. a run that does not review the rung, under target: the count stays
    (
        "quarterly_shortfall_off_quarter_leaves_the_count",
        {"computed_grade": "gold", "composite": 80, "current_grade": "diamond"}
        | {"periods_under": 1},
        MONTH_END,
        d("keep", "diamond", "diamond", None, 1, "cadence_not_due", under=True),
    ),
    (
        "quarterly_gate_failure_off_quarter_leaves_the_count",
        {"computed_grade": "gold", "composite": 93, "current_grade": "diamond"}
        | {"monetary_cents": 500_000, "periods_under": 1},
        MONTH_END,
        d("keep", "diamond", "diamond", None, 1, "cadence_not_due", under=True),
    ),
    (
        "cadence_checked_before_pending",
        {"computed_grade": "bronze", "composite": 10, "current_grade": "diamond"}
        | {"periods_under": 2, "pending_downgrade": True},
        MONTH_END,
        d("keep", "diamond", "diamond", None, 2, "cadence_not_due", under=True),
    ),
    (
        "nothing_due_keeps_monthly_grade",
        {"computed_grade": "silver", "composite": 50, "current_grade": "gold"},
        RunContext(frozenset()),
        d("keep", "gold", "gold", None, 0, "cadence_not_due", under=True),
    ),
    # 6a. a review on target withdraws a pending proposal and resets the count
    (
        "review_on_target_withdraws_the_proposal",
        {"computed_grade": "gold", "composite": 72, "current_grade": "gold"}
        | {"periods_under": 2, "pending_downgrade": True},
        MONTH_END,
        d("keep", "gold", "gold", None, 0, "proposal_withdrawn", withdraw=True),
    ),
    (
        "review_within_band_withdraws_the_proposal",
        {"computed_grade": "silver", "composite": 66, "current_grade": "gold"}
        | {"periods_under": 2, "pending_downgrade": True},
        MONTH_END,
        d("keep", "gold", "gold", None, 0, "proposal_withdrawn", withdraw=True),
    ),
    (
        "quarter_start_recovery_withdraws_a_quarterly_proposal",
        {"computed_grade": "diamond", "composite": 91, "current_grade": "diamond"}
        | {"periods_under": 3, "pending_downgrade": True},
        QUARTER_END,
        d("keep", "diamond", "diamond", None, 0, "proposal_withdrawn", withdraw=True),
    ),
    # 6b. a review at the same grade resets the count
    (
        "same_grade_resets_counter",
        {"computed_grade": "gold", "composite": 72, "current_grade": "gold", "periods_under": 1},
        MONTH_END,
        d("keep", "gold", "gold", None, 0, "same_grade"),
    ),
    (
        "quarterly_same_grade_at_quarter_start_resets",
        {"computed_grade": "diamond", "composite": 92, "current_grade": "diamond"}
        | {"periods_under": 2},
        QUARTER_END,
        d("keep", "diamond", "diamond", None, 0, "same_grade"),
    ),
    # 6c. every gate passes and the composite is within the margin: on target
    (
        "hysteresis_keeps_grade",
        {"computed_grade": "silver", "composite": 67.5, "current_grade": "gold"}
        | {"periods_under": 1},
        MONTH_END,
        d("keep", "gold", "gold", None, 0, "within_hysteresis"),
    ),
    (
        "hysteresis_bound_is_inclusive",
        {"computed_grade": "silver", "composite": 65.0, "current_grade": "gold"},
        MONTH_END,
        d("keep", "gold", "gold", None, 0, "within_hysteresis"),
    ),
    (
        "gate_exactly_met_passes",
        {"computed_grade": "silver", "composite": 66.0, "current_grade": "gold"}
        | {"frequency": 6, "periods_under": 1},
        MONTH_END,
        d("keep", "gold", "gold", None, 0, "within_hysteresis"),
    ),
    (
        "quarterly_within_band_at_quarter_start_resets",
        {"computed_grade": "gold", "composite": 86, "current_grade": "diamond"}
        | {"periods_under": 1},
        QUARTER_END,
        d("keep", "diamond", "diamond", None, 0, "within_hysteresis"),
    ),
    # 7. under target: a score below the margin, or any failed gate (below, within, above)
    (
        "just_below_hysteresis_counts",
        {"computed_grade": "silver", "composite": 64.999, "current_grade": "gold"},
        MONTH_END,
        d("warn", "gold", "gold", None, 1, "warn_after", under=True),
    ),
    (
        "missing_composite_is_below_the_margin",
        {"computed_grade": "silver", "composite": float("nan"), "current_grade": "gold"},
        MONTH_END,
        d("warn", "gold", "gold", None, 1, "warn_after", under=True),
    ),
    (
        "gate_failure_below_the_margin_counts",
        {"computed_grade": "silver", "composite": 60.0, "current_grade": "gold", "frequency": 4},
        MONTH_END,
        d("warn", "gold", "gold", None, 1, "warn_after", under=True),
    ),
    (
        "gate_failure_within_the_margin_is_not_forgiven",
        {"computed_grade": "silver", "composite": 67.0, "current_grade": "gold", "frequency": 4},
        MONTH_END,
        d("warn", "gold", "gold", None, 1, "warn_after", under=True),
    ),
    (
        "gate_failure_above_min_score_counts",
        {"computed_grade": "silver", "composite": 75.0, "current_grade": "gold", "frequency": 5},
        MONTH_END,
        d("warn", "gold", "gold", None, 1, "warn_after", under=True),
    ),
    (
        "spend_gate_failure_counts_at_quarter_start",
        {"computed_grade": "gold", "composite": 93.0, "current_grade": "diamond"}
        | {"monetary_cents": 999_999},
        QUARTER_END,
        d("under_target", "diamond", "diamond", None, 1, "under_target", under=True),
    ),
    # 7a. a pending proposal is never proposed again; the count keeps counting
    (
        "pending_review_counts_on",
        {"computed_grade": "silver", "composite": 50, "current_grade": "gold"}
        | {"periods_under": 2, "pending_downgrade": True},
        MONTH_END,
        d("keep", "gold", "gold", None, 3, "pending_review", under=True),
    ),
    # 7b. downgrade_after reached: one step down, proposed or applied
    (
        "propose_downgrade_one_step",
        {"computed_grade": "silver", "composite": 50, "current_grade": "gold"}
        | {"periods_under": 1},
        MONTH_END,
        d("propose_downgrade", "gold", "gold", "silver", 2, "downgrade_after", under=True),
    ),
    (
        "quarterly_grade_proposes_one_step_at_the_third_review",
        {"computed_grade": "bronze", "composite": 2, "current_grade": "diamond"}
        | {"periods_under": 2},
        QUARTER_END,
        d("propose_downgrade", "diamond", "diamond", "gold", 3, "downgrade_after", under=True),
    ),
    (
        "propose_when_counter_already_past_threshold",
        {"computed_grade": "bronze", "composite": 2, "current_grade": "gold"}
        | {"periods_under": 7},
        MONTH_END,
        d("propose_downgrade", "gold", "gold", "silver", 8, "downgrade_after", under=True),
    ),
    (
        "downgrade_without_review_applies_and_resets",
        {"computed_grade": "bronze", "composite": 20, "current_grade": "silver"}
        | {"periods_under": 2},
        MONTH_END,
        d("downgrade", "silver", "bronze", "bronze", 0, "downgrade_after", under=True),
    ),
    # 7c. warn_after reached
    (
        "monthly_grade_warns_at_the_first_review",
        {"computed_grade": "silver", "composite": 50, "current_grade": "gold"},
        MONTH_END,
        d("warn", "gold", "gold", None, 1, "warn_after", under=True),
    ),
    (
        "quarterly_grade_warns_at_the_second_review",
        {"computed_grade": "gold", "composite": 80, "current_grade": "diamond"}
        | {"periods_under": 1},
        QUARTER_END,
        d("warn", "diamond", "diamond", None, 2, "warn_after", under=True),
    ),
    # 7d. under target, no warning yet (warn_after = 0 never warns)
    (
        "quarterly_grade_only_counts_the_first_review",
        {"computed_grade": "gold", "composite": 80, "current_grade": "diamond"},
        QUARTER_END,
        d("under_target", "diamond", "diamond", None, 1, "under_target", under=True),
    ),
    (
        "under_target_when_grade_never_warns",
        {"computed_grade": "bronze", "composite": 20, "current_grade": "silver"},
        MONTH_END,
        d("under_target", "silver", "silver", None, 1, "under_target", under=True),
    ),
    (
        "under_target_keeps_counting",
        {"computed_grade": "bronze", "composite": 20, "current_grade": "silver"}
        | {"periods_under": 1},
        MONTH_END,
        d("under_target", "silver", "silver", None, 2, "under_target", under=True),
    ),
]


@pytest.mark.parametrize(
    ("row", "context", "expected"),
    [pytest.param(row, context, expected, id=name) for name, row, context, expected in RULE_CASES],
)
def test_decide_applies_first_matching_rule(row, context, expected):
    out = decide(make_state(row), ladder=LADDER, context=context)
    assert decisions(out) == [expected]


def test_decide_handles_every_rule_case_in_one_vectorised_call():
    # Same cases, one frame per context: rows must not influence each other.
    for context in (MONTH_END, QUARTER_END):
        cases = [(row, expected) for _, row, ctx, expected in RULE_CASES if ctx == context]
        out = decide(make_state(*[row for row, _ in cases]), ladder=LADDER, context=context)
        assert decisions(out) == [expected for _, expected in cases]


def test_rule_cases_cover_every_action_and_rule():
    seen = {expected for *_, expected in RULE_CASES}
    assert {action for action, *_ in seen} == set(ACTIONS)
    assert {e[5] for e in seen} == set(RULES)


def test_docs_table_names_every_rule():
    docs = Path(__file__).resolve().parents[2] / "docs" / "grading-policy.md"
    text = docs.read_text(encoding="utf-8")
    assert all(f"`{rule}`" in text for rule in RULES)


def test_warn_and_downgrade_on_the_same_period_downgrades():
    ladder = Ladder(
        [
            GradePolicy("low", rank=1, min_score=0.0),
            GradePolicy("high", rank=2, min_score=50.0, warn_after=1, downgrade_after=1),
        ]
    )
    state = make_state({"computed_grade": "low", "composite": 10, "current_grade": "high"})
    out = decide(state, ladder=ladder, context=MONTH_END)
    assert decisions(out) == [
        d("propose_downgrade", "high", "high", "low", 1, "downgrade_after", under=True)
    ]


def test_missing_periods_under_pending_and_gate_inputs_count_as_zero_and_false():
    state = make_state(
        {"computed_grade": "silver", "composite": 67, "current_grade": "gold"},
        {"computed_grade": "silver", "composite": 67, "current_grade": "gold"},
    )
    state["periods_under"] = pd.array([None, 1], dtype="Int64")
    state["pending_downgrade"] = pd.array([None, None], dtype="boolean")
    # Missing order counts are 0 orders: gold's gate of 6 orders fails for the first row.
    state["frequency"] = pd.array([None, 6], dtype="Int64")
    state["monetary_cents"] = [np.nan, 1.0]
    out = decide(state, ladder=LADDER, context=MONTH_END)
    assert out["action"].tolist() == ["warn", "keep"]
    assert out["rule"].tolist() == ["warn_after", "within_hysteresis"]
    assert out["periods_under"].tolist() == [1, 0]


# --- decide: frame contract ---------------------------------------------------------------------

TEXT_COLUMNS = ("action", "old_grade", "new_grade", "target_grade", "rule")
FLAG_COLUMNS = ("under_target", "withdraw_proposal")


def test_empty_state_gives_empty_output_with_the_right_columns():
    state = make_state()
    out = decide(state, ladder=LADDER, context=MONTH_END)
    assert out.empty
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert out.index.name == "customer_id"
    assert out["periods_under"].dtype == np.int64
    assert all(out[c].dtype == "str" for c in TEXT_COLUMNS)
    assert all(out[c].dtype == bool for c in FLAG_COLUMNS)


def test_output_is_indexed_like_the_input_with_documented_dtypes():
    state = make_state(
        {"computed_grade": "gold", "composite": 75, "current_grade": "gold"},
        {"computed_grade": "silver", "composite": 45},
        {"computed_grade": "bronze", "composite": 5, "current_grade": "silver"},
        index=["c-9", "c-2", "c-5"],
    )
    out = decide(state, ladder=LADDER, context=MONTH_END)
    pd.testing.assert_index_equal(out.index, state.index)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert out["periods_under"].dtype == np.int64
    assert all(out[c].dtype == "str" for c in TEXT_COLUMNS)
    assert all(out[c].dtype == bool for c in FLAG_COLUMNS)
    assert out.loc["c-2", "action"] == "assign"
    assert out["target_grade"].isna().tolist() == [True, False, True]
    assert out["under_target"].tolist() == [False, False, True]


def test_input_is_not_mutated():
    state = make_state(
        {"computed_grade": "diamond", "composite": 95, "current_grade": "bronze"},
        {"computed_grade": "bronze", "composite": 5, "current_grade": "silver", "periods_under": 2},
        {"computed_grade": "bronze", "composite": 5, "current_grade": "gold", "periods_under": 1},
        {"computed_grade": "bronze", "composite": 5, "override_grade": "gold"},
    )
    state["extra"] = ["kept", "as", "it", "was"]
    before = state.copy(deep=True)
    out = decide(state, ladder=LADDER, context=MONTH_END)
    out.loc[:, "periods_under"] = 99
    pd.testing.assert_frame_equal(state, before)


@pytest.mark.parametrize("dtype", ["str", "object", "category"])
def test_grade_columns_of_any_text_dtype_give_the_same_result(dtype):
    state = make_state(*[row for _, row, ctx, _ in RULE_CASES if ctx == MONTH_END])
    expected = decide(state, ladder=LADDER, context=MONTH_END)
    converted = state.astype(dict.fromkeys(GRADE_COLUMNS, dtype))
    pd.testing.assert_frame_equal(decide(converted, ladder=LADDER, context=MONTH_END), expected)


def test_missing_column_raises():
    state = make_state({"computed_grade": "gold", "composite": 75}).drop(columns="frequency")
    with pytest.raises(ValueError, match=r"missing columns \['frequency'\]"):
        decide(state, ladder=LADDER, context=MONTH_END)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"computed_grade": "platinum", "composite": 75}, "computed_grade is not a ladder code"),
        ({"computed_grade": None, "composite": 75}, "computed_grade is missing"),
        (
            {"computed_grade": "gold", "composite": 75, "current_grade": "legacy"},
            "current_grade is not a ladder code",
        ),
        (
            {"computed_grade": "gold", "composite": 75, "periods_under": -1},
            "periods_under is negative",
        ),
    ],
)
def test_invalid_state_raises_naming_the_customers(row, message):
    state = make_state({"computed_grade": "gold", "composite": 75}, row, index=[10, 20])
    with pytest.raises(ValueError, match=rf"{message} for 1 customer\(s\), e.g. \[20\]"):
        decide(state, ladder=LADDER, context=MONTH_END)


def test_unknown_current_grade_is_fine_for_pinned_and_locked_customers():
    state = make_state(
        {"computed_grade": "gold", "composite": 75, "current_grade": "legacy"}
        | {"override_grade": "gold"},
        {"computed_grade": "gold", "composite": 75, "current_grade": "legacy"}
        | {"locked_grade": "legacy"},
    )
    out = decide(state, ladder=LADDER, context=MONTH_END)
    assert decisions(out) == [
        d("pinned", "legacy", "gold", None, 0, "override"),
        d("locked", "legacy", "legacy", None, 0, "appeal_lock"),
    ]


def test_policy_module_imports_only_stdlib_pandas_and_numpy():
    tree = ast.parse(Path(policy.__file__).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    roots = {name.split(".")[0] for name in imported}
    assert roots - set(sys.stdlib_module_names) <= {"numpy", "pandas"}


# --- decide over several runs: the timelines of docs/grading-policy.md -----------------------

# The shipped ladder with the design's default counts (migration 0010), and a gate of 6
# orders on Key for the gate timeline.
SHIPPED = Ladder(
    [
        GradePolicy("strategic", rank=5, min_score=70.0, hysteresis=2.0, cadence="quarterly"),
        GradePolicy("key", rank=4, min_score=55.0, hysteresis=2.0, cadence="quarterly"),
        GradePolicy("growth", rank=3, min_score=40.0, hysteresis=1.0),
        GradePolicy("standard", rank=2, min_score=25.0, downgrade_needs_review=False),
        GradePolicy("basic", rank=1, min_score=0.0, downgrade_needs_review=False),
    ]
)
GATED = Ladder(replace(g, min_frequency=6) if g.code == "key" else g for g in SHIPPED)

# Monthly runs are dated the first day after the month (the run for January is Feb 1).
RUNS_2026 = [date(2026, m, 1) for m in range(2, 13)] + [date(2027, 1, 1)]


def simulate(ladder: Ladder, start: dict[str, Any], periods: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Run one customer through several runs, feeding each decision back as state.

    Each period is (as_of date or RunContext, computed_grade, composite[, changes]).
    `changes` updates the state before the run (e.g. frequency, override_grade) and may hold
    "review": "approve" / "reject", a reviewer's decision on the pending proposal made
    before the run (as `grading.services.reviews` does: approving applies the proposal and
    resets the count, rejecting keeps the grade and resets the count). A proposal stays
    pending until it is decided, withdrawn or a downgrade is applied.
    """
    state = make_state({"computed_grade": ladder.lowest.code, "composite": 0.0} | start)
    proposal: str | None = None
    rows = []
    for when, computed, composite, *rest in periods:
        changes = dict(rest[0]) if rest else {}
        review = changes.pop("review", None)
        if review is not None:
            assert proposal is not None, "a review needs a pending proposal"
            grade = proposal if review == "approve" else state["current_grade"].iloc[0]
            state = state.assign(
                current_grade=pd.array([grade], dtype="str"),
                periods_under=[0],
                pending_downgrade=[False],
            )
            proposal = None
        for column, value in changes.items():
            state[column] = pd.array([value], dtype="str") if column in GRADE_COLUMNS else [value]
        context = when if isinstance(when, RunContext) else RunContext.for_as_of(when)
        state = state.assign(
            computed_grade=pd.array([computed], dtype="str"), composite=[float(composite)]
        )
        out = decide(state, ladder=ladder, context=context)
        row = out.iloc[0].copy()
        row["as_of"] = when
        rows.append(row)
        action = out["action"].iloc[0]
        if action == "propose_downgrade":
            proposal = out["target_grade"].iloc[0]
        elif out["withdraw_proposal"].iloc[0] or action == "downgrade":
            proposal = None
        state = state.assign(
            current_grade=out["new_grade"],
            periods_under=out["periods_under"],
            pending_downgrade=[proposal is not None],
        )
    return pd.DataFrame(rows).reset_index(drop=True)


def timeline(history: pd.DataFrame) -> list[tuple[str, str, int, str]]:
    """(as_of, rule, count, grade after) per run: the columns of the docs' timelines."""
    return [
        (
            f"{row['as_of']:%b %d}" if isinstance(row["as_of"], date) else "-",
            row["rule"],
            row["periods_under"],
            row["new_grade"],
        )
        for row in history.to_dict("records")
    ]


def test_timeline_a_two_quarters_start_the_warning_talk_a_third_proposes():
    # A Key customer short of target from January on (composite 48: Growth).
    history = simulate(SHIPPED, {"current_grade": "key"}, [(r, "growth", 48) for r in RUNS_2026])
    assert timeline(history) == [
        ("Feb 01", "cadence_not_due", 0, "key"),
        ("Mar 01", "cadence_not_due", 0, "key"),
        ("Apr 01", "under_target", 1, "key"),  # 1st quarter short: counted, nothing else
        ("May 01", "cadence_not_due", 1, "key"),
        ("Jun 01", "cadence_not_due", 1, "key"),
        ("Jul 01", "warn_after", 2, "key"),  # 2nd quarter short: the warning talk
        ("Aug 01", "cadence_not_due", 2, "key"),
        ("Sep 01", "cadence_not_due", 2, "key"),
        ("Oct 01", "downgrade_after", 3, "key"),  # still no improvement: proposed
        ("Nov 01", "cadence_not_due", 3, "key"),
        ("Dec 01", "cadence_not_due", 3, "key"),
        ("Jan 01", "pending_review", 4, "key"),  # no second proposal
    ]
    assert history["action"].tolist()[8] == "propose_downgrade"
    assert history["target_grade"].tolist()[8] == "growth"


def test_timeline_b_only_quarter_start_runs_reset_a_quarterly_count():
    scores = {4: 48, 5: 60, 6: 48, 7: 48, 8: 60, 9: 48, 10: 60}
    runs = [date(2026, m, 1) for m in scores]
    periods = [(r, "key" if scores[r.month] >= 55 else "growth", scores[r.month]) for r in runs]
    history = simulate(SHIPPED, {"current_grade": "key"}, periods)
    assert timeline(history) == [
        ("Apr 01", "under_target", 1, "key"),
        ("May 01", "on_target_not_due", 1, "key"),  # a mid-quarter recovery resets nothing
        ("Jun 01", "cadence_not_due", 1, "key"),
        ("Jul 01", "warn_after", 2, "key"),
        ("Aug 01", "on_target_not_due", 2, "key"),
        ("Sep 01", "cadence_not_due", 2, "key"),
        ("Oct 01", "same_grade", 0, "key"),  # on target at a review: reset
    ]


def test_timeline_c_the_margin_forgives_a_score_never_a_gate():
    # Key needs 55 and 6 orders, margin 2: 53 is on target with 8 orders, not with 5.
    periods = [
        (date(2026, 4, 1), "growth", 54, {"frequency": 8}),
        (date(2026, 7, 1), "growth", 54, {"frequency": 5}),
        (date(2026, 10, 1), "growth", 60, {"frequency": 5}),
        (date(2027, 1, 1), "growth", 53, {"frequency": 5}),
    ]
    history = simulate(GATED, {"current_grade": "key", "periods_under": 0}, periods)
    assert timeline(history) == [
        ("Apr 01", "within_hysteresis", 0, "key"),
        ("Jul 01", "under_target", 1, "key"),  # 54 is within the margin, 5 orders is not 6
        ("Oct 01", "warn_after", 2, "key"),  # 60 is above 55, the gate still fails
        ("Jan 01", "downgrade_after", 3, "key"),
    ]
    assert history["under_target"].tolist() == [False, True, True, True]


def test_timeline_d_a_review_on_target_withdraws_the_proposal():
    scores = [("standard", 30), ("standard", 30), ("standard", 30), ("standard", 39.5)]
    periods = [(r, c, s) for r, (c, s) in zip(RUNS_2026, scores, strict=False)]
    history = simulate(SHIPPED, {"current_grade": "growth"}, periods)
    assert timeline(history) == [
        ("Feb 01", "warn_after", 1, "growth"),
        ("Mar 01", "downgrade_after", 2, "growth"),
        ("Apr 01", "pending_review", 3, "growth"),
        ("May 01", "proposal_withdrawn", 0, "growth"),  # 39.5 is within the margin of 40
    ]
    assert history["withdraw_proposal"].tolist() == [False, False, False, True]


def test_timeline_e_approving_or_rejecting_resets_the_count():
    periods = [
        (RUNS_2026[0], "standard", 30),
        (RUNS_2026[1], "standard", 30),
        (RUNS_2026[2], "standard", 30, {"review": "reject"}),
        (RUNS_2026[3], "standard", 30),
        (RUNS_2026[4], "basic", 10, {"review": "approve"}),
        (RUNS_2026[5], "basic", 10),
        (RUNS_2026[6], "basic", 10),
    ]
    history = simulate(SHIPPED, {"current_grade": "growth"}, periods)
    assert timeline(history) == [
        ("Feb 01", "warn_after", 1, "growth"),
        ("Mar 01", "downgrade_after", 2, "growth"),
        ("Apr 01", "warn_after", 1, "growth"),  # rejected: counting starts again
        ("May 01", "downgrade_after", 2, "growth"),
        ("Jun 01", "warn_after", 1, "standard"),  # approved: Standard, from 0
        ("Jul 01", "downgrade_after", 0, "basic"),  # Standard needs no review: applied
        ("Aug 01", "same_grade", 0, "basic"),
    ]


def test_timeline_f_an_upgrade_acts_at_any_run_and_withdraws_a_proposal():
    periods = [
        (date(2026, 10, 1), "growth", 48, {"periods_under": 2}),
        (date(2026, 11, 1), "strategic", 75),
        (date(2026, 12, 1), "key", 60),
        (date(2027, 1, 1), "key", 60),
    ]
    history = simulate(SHIPPED, {"current_grade": "key"}, periods)
    assert timeline(history) == [
        ("Oct 01", "downgrade_after", 3, "key"),
        ("Nov 01", "score_above_grade", 0, "strategic"),  # mid-quarter, straight up
        ("Dec 01", "cadence_not_due", 0, "strategic"),
        ("Jan 01", "under_target", 1, "strategic"),
    ]
    assert history["withdraw_proposal"].tolist() == [False, True, False, False]


def test_timeline_g_pins_hold_the_grade_and_the_count_restarts_after():
    periods = [
        (RUNS_2026[0], "standard", 30),
        (RUNS_2026[1], "standard", 30, {"override_grade": "growth"}),
        (RUNS_2026[2], "basic", 5),
        (RUNS_2026[3], "standard", 30, {"override_grade": None, "locked_grade": "growth"}),
        (RUNS_2026[4], "standard", 30, {"locked_grade": None}),
    ]
    history = simulate(SHIPPED, {"current_grade": "growth"}, periods)
    assert timeline(history) == [
        ("Feb 01", "warn_after", 1, "growth"),
        ("Mar 01", "override", 0, "growth"),
        ("Apr 01", "override", 0, "growth"),
        ("May 01", "appeal_lock", 0, "growth"),
        ("Jun 01", "warn_after", 1, "growth"),
    ]


def test_timeline_h_without_a_warning_step():
    ladder = Ladder(replace(g, warn_after=0) if g.code == "growth" else g for g in SHIPPED)
    periods = [(r, "standard", 30) for r in RUNS_2026[:2]]
    history = simulate(ladder, {"current_grade": "growth"}, periods)
    assert timeline(history) == [
        ("Feb 01", "under_target", 1, "growth"),
        ("Mar 01", "downgrade_after", 2, "growth"),
    ]


def test_steady_customer_stays_put():
    periods = [(r, "growth", 45.0) for r in RUNS_2026[:6]]
    history = simulate(SHIPPED, {"current_grade": "growth"}, periods)
    assert history["action"].tolist() == ["keep"] * 6
    assert history["rule"].tolist() == ["same_grade"] * 6
    assert history["periods_under"].tolist() == [0] * 6


def test_first_grading_then_upgrades_are_immediate_and_can_jump():
    scores = [("basic", 20), ("basic", 22), ("strategic", 80)] + [("strategic", 85)] * 3
    periods = [(r, c, s) for r, (c, s) in zip(RUNS_2026, scores, strict=False)]
    history = simulate(SHIPPED, {}, periods)
    assert history["action"].tolist() == ["assign", "keep", "upgrade", "keep", "keep", "keep"]
    assert history["new_grade"].tolist() == ["basic", "basic"] + ["strategic"] * 4
    assert history["target_grade"].iloc[2] == "strategic"


def test_dip_inside_hysteresis_never_warns():
    scores = [39.0, 39.9, 39.0, 39.5]
    periods = [(r, "standard", s) for r, s in zip(RUNS_2026, scores, strict=False)]
    history = simulate(SHIPPED, {"current_grade": "growth"}, periods)
    assert history["rule"].tolist() == ["within_hysteresis"] * 4
    assert history["periods_under"].tolist() == [0] * 4


def test_grade_without_review_downgrades_one_step_per_downgrade_after_reviews():
    ladder = Ladder(
        [
            GradePolicy("c", rank=1, min_score=0.0),
            GradePolicy("b", rank=2, min_score=40.0, downgrade_needs_review=False),
            GradePolicy("a", rank=3, min_score=70.0, downgrade_needs_review=False),
        ]
    )
    history = simulate(ladder, {"current_grade": "a"}, [(MONTH_END, "c", 10.0)] * 6)
    assert history["action"].tolist() == ["warn", "downgrade", "warn", "downgrade", "keep", "keep"]
    assert history["new_grade"].tolist() == ["a", "b", "b", "c", "c", "c"]
    assert history["periods_under"].tolist() == [1, 0, 1, 0, 0, 0]


# --- properties ----------------------------------------------------------------------------------


def reference_decision(row: dict[str, Any], ladder: Ladder, due: frozenset[str]) -> tuple:
    """Decide one customer by reading docs/grading-policy.md line by line."""
    current, computed = row["current_grade"], row["computed_grade"]
    count, pending = row["periods_under"], row["pending_downgrade"]
    if row["override_grade"] is not None:
        return d("pinned", current, row["override_grade"], None, 0, "override")
    if row["locked_grade"] is not None:
        kept = current if current is not None else row["locked_grade"]
        return d("locked", current, kept, None, 0, "appeal_lock")
    if current is None:
        return d("assign", None, computed, computed, 0, "first_grading")
    cur, new = ladder.by_code(current), ladder.by_code(computed)
    # Upgrade: at any run, straight to the computed grade; the count resets.
    if new.rank > cur.rank:
        return d("upgrade", current, computed, computed, 0, "score_above_grade", withdraw=pending)
    # Under target: below, and a gate fails, or every gate passes and the score is under
    # the margin.
    gates = (
        row["frequency"] >= cur.min_frequency and row["monetary_cents"] >= cur.min_monetary_cents
    )
    score_short = not row["composite"] >= cur.min_score - cur.hysteresis
    under = new.rank < cur.rank and (not gates or score_short)
    # Runs that do not review a rung leave its count (and its proposal) alone.
    if cur.cadence not in due:
        rule = "cadence_not_due" if under else "on_target_not_due"
        return d("keep", current, current, None, count, rule, under=under)
    if not under:
        if pending:  # a review on target withdraws the proposal
            return d("keep", current, current, None, 0, "proposal_withdrawn", withdraw=True)
        rule = "same_grade" if new.rank == cur.rank else "within_hysteresis"
        return d("keep", current, current, None, 0, rule)
    n = count + 1
    if pending:  # no second proposal
        return d("keep", current, current, None, n, "pending_review", under=True)
    if n >= cur.downgrade_after:
        lower = ladder.next_lower(current)
        assert lower is not None
        assert lower.rank >= new.rank  # one step never goes below the computed grade
        if cur.downgrade_needs_review:
            return d(
                "propose_downgrade", current, current, lower.code, n, "downgrade_after", under=True
            )
        return d("downgrade", current, lower.code, lower.code, 0, "downgrade_after", under=True)
    if cur.warn_after > 0 and n >= cur.warn_after:
        return d("warn", current, current, None, n, "warn_after", under=True)
    return d("under_target", current, current, None, n, "under_target", under=True)


@st.composite
def ladders(draw: st.DrawFn, quarterly: bool = False) -> Ladder:
    size = draw(st.integers(1, 5))
    ranks = draw(st.lists(st.integers(-3, 9), min_size=size, max_size=size, unique=True))
    grades = []
    for i, rank in enumerate(ranks):
        downgrade_after = draw(st.integers(1, 4))
        grades.append(
            GradePolicy(
                code=f"g{i}",
                rank=rank,
                min_score=draw(st.sampled_from([0.0, 20.0, 50.0, 80.0])),
                hysteresis=draw(st.sampled_from([0.0, 2.5, 10.0])),
                cadence=draw(st.sampled_from(["monthly", "quarterly"])),
                warn_after=draw(st.integers(0, downgrade_after)),
                downgrade_after=downgrade_after,
                downgrade_needs_review=draw(st.booleans()),
                min_frequency=draw(st.sampled_from([0, 0, 3, 6])),
                min_monetary_cents=draw(st.sampled_from([0, 0, 100_000])),
            )
        )
    if quarterly:
        grades[0] = replace(grades[0], cadence="quarterly")
    return Ladder(grades)


FREQUENCIES = st.sampled_from([0, 2, 3, 5, 6, 9])
MONETARY = st.sampled_from([0, 99_999, 100_000, 400_000])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Ladder, frozenset[str], list[dict[str, Any]]]:
    ladder = draw(ladders())
    codes = st.sampled_from(ladder.codes)
    maybe_code = st.none() | codes
    rare_code = st.one_of(*[st.none()] * 4, codes, st.just("retired"))
    # Composites on the hysteresis floors and minimum scores exercise the inclusive bounds.
    bounds = [g.min_score - g.hysteresis for g in ladder] + [g.min_score for g in ladder]
    composite = st.sampled_from(bounds) | st.floats(-5, 100, allow_nan=False)
    row = st.fixed_dictionaries(
        {
            "computed_grade": codes,
            "composite": composite,
            "frequency": FREQUENCIES,
            "monetary_cents": MONETARY,
            "current_grade": maybe_code,
            "periods_under": st.integers(0, 5),
            "override_grade": rare_code,
            "locked_grade": rare_code,
            "pending_downgrade": st.booleans(),
        }
    )
    due = draw(st.sampled_from([frozenset(), frozenset({"monthly"}), frozenset(CADENCES)]))
    return ladder, due, draw(st.lists(row, max_size=30))


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_decide_matches_row_by_row_reference(scenario):
    ladder, due, rows = scenario
    out = decide(make_state(*rows), ladder=ladder, context=RunContext(due))
    assert decisions(out) == [reference_decision(row, ladder, due) for row in rows]


def computed_grade(ladder: Ladder, composite: float, frequency: int, monetary: int) -> str:
    """The grade scoring computes: the highest whose floor and gates are met, else the lowest
    (as `grading.scoring.tiers.assign_grades`)."""
    for grade in ladder:  # highest rank first
        if (
            composite >= grade.min_score
            and frequency >= grade.min_frequency
            and monetary >= grade.min_monetary_cents
        ):
            return grade.code
    return ladder.lowest.code


@settings(max_examples=150, deadline=None)
@given(
    ladder=ladders(),
    due=st.sampled_from([frozenset(), frozenset({"monthly"}), frozenset(CADENCES)]),
    data=st.data(),
)
def test_raising_the_composite_never_makes_a_customer_more_under_target(ladder, due, data):
    codes = st.sampled_from(ladder.codes)
    base = {
        "frequency": data.draw(FREQUENCIES),
        "monetary_cents": data.draw(MONETARY),
        "current_grade": data.draw(st.none() | codes),
        "periods_under": data.draw(st.integers(0, 5)),
        "override_grade": data.draw(st.one_of(*[st.none()] * 6, codes)),
        "locked_grade": data.draw(st.one_of(*[st.none()] * 6, codes)),
        "pending_downgrade": data.draw(st.booleans()),
    }
    bounds = [g.min_score - g.hysteresis for g in ladder] + [g.min_score for g in ladder]
    values = st.sampled_from(bounds) | st.floats(-5, 100, allow_nan=False)
    composites = sorted(data.draw(st.lists(values, min_size=2, max_size=8)))
    rows = [
        base
        | {
            "composite": c,
            "computed_grade": computed_grade(ladder, c, base["frequency"], base["monetary_cents"]),
        }
        for c in composites
    ]
    out = decide(make_state(*rows), ladder=ladder, context=RunContext(due))
    rank = {g.code: g.rank for g in ladder}
    for lower, higher in zip(out.itertuples(), out.iloc[1:].itertuples(), strict=False):
        # Under target at the higher composite implies under target at the lower one ...
        assert not (higher.under_target and not lower.under_target)
        # ... and then the two decisions are the same: the score no longer matters.
        if higher.under_target:
            assert decisions(out.loc[[higher.Index]]) == decisions(out.loc[[lower.Index]])
        assert higher.periods_under <= lower.periods_under
        assert rank[higher.new_grade] >= rank[lower.new_grade]


def off_quarter_dates() -> st.SearchStrategy[date]:
    """Run dates that are not a quarter start (Jan, Apr, Jul, Oct 1)."""
    day = st.dates(date(2025, 1, 1), date(2028, 12, 31))
    return day.filter(lambda d: not (d.day == 1 and d.month in (1, 4, 7, 10)))


@settings(max_examples=100, deadline=None)
@given(ladder=ladders(quarterly=True), data=st.data())
def test_runs_between_quarter_starts_never_change_a_quarterly_count(ladder, data):
    quarterly = {g.code for g in ladder if g.cadence == "quarterly"}
    codes = st.sampled_from(ladder.codes)
    size = data.draw(st.integers(1, 12))
    start = [
        {
            "current_grade": data.draw(st.sampled_from(sorted(quarterly)) | codes),
            "periods_under": data.draw(st.integers(0, 5)),
            "pending_downgrade": data.draw(st.booleans()),
            "computed_grade": ladder.lowest.code,
            "composite": 0.0,
        }
        for _ in range(size)
    ]
    state = make_state(*start)
    for as_of in sorted(data.draw(st.lists(off_quarter_dates(), min_size=1, max_size=12))):
        assert "quarterly" not in cadences_due(as_of)
        composite = [data.draw(st.floats(-5, 100, allow_nan=False)) for _ in range(size)]
        frequency = [data.draw(FREQUENCIES) for _ in range(size)]
        monetary = [data.draw(MONETARY) for _ in range(size)]
        computed = [
            computed_grade(ladder, *values)
            for values in zip(composite, frequency, monetary, strict=True)
        ]
        pins = [data.draw(st.one_of(*[st.none()] * 8, codes)) for _ in range(size)]
        state = state.assign(
            computed_grade=pd.array(computed, dtype="str"),
            composite=composite,
            frequency=frequency,
            monetary_cents=monetary,
            override_grade=pd.array(pins, dtype="str"),
        )
        out = decide(state, ladder=ladder, context=RunContext.for_as_of(as_of))
        held = state["current_grade"].isin(quarterly) & ~out["action"].isin(["upgrade", "pinned"])
        assert (out["periods_under"][held] == state["periods_under"][held]).all()
        assert not out["withdraw_proposal"][held].any()
        assert not out["action"][held].isin(["warn", "propose_downgrade", "downgrade"]).any()
        pending = state["pending_downgrade"] & ~out["withdraw_proposal"]
        pending |= out["action"] == "propose_downgrade"
        state = state.assign(
            current_grade=out["new_grade"],
            periods_under=out["periods_under"],
            pending_downgrade=pending & (out["action"] != "downgrade"),
        )


def test_a_year_of_monthly_runs_reviews_a_quarterly_rung_four_times():
    reviews = [as_of for as_of in RUNS_2026 if "quarterly" in cadences_due(as_of)]
    assert reviews == [date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1), date(2027, 1, 1)]
    assert all(
        "quarterly" not in cadences_due(date(2026, 5, 1) + timedelta(days=n)) for n in range(60)
    )
