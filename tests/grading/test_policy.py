"""Tests for the pure grade policy, ``grading.policy``.

No database: small hand-built frames with exact expected decisions, multi-period scenarios
that feed each run's output back as the next run's state, and a property test against a
row-by-row reference written straight from the rules table.
"""

from __future__ import annotations

import ast
import math
import sys
from dataclasses import replace
from datetime import date
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
    OUTPUT_COLUMNS,
    RULES,
    STATE_COLUMNS,
    GradePolicy,
    Ladder,
    RunContext,
    cadences_due,
    decide,
)

MONTH_END = RunContext(frozenset({"monthly"}))
QUARTER_END = RunContext(frozenset({"monthly", "quarterly"}))

# diamond: quarterly top grade with the design defaults (warn 1, downgrade 2, reviewed).
# gold: monthly, reviewed. silver: never warns, downgrades by itself after 3 periods.
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
        GradePolicy("gold", rank=3, min_score=70.0, hysteresis=5.0),
        GradePolicy("diamond", rank=4, min_score=90.0, hysteresis=5.0, cadence="quarterly"),
    ]
)

DEFAULT_ROW: dict[str, Any] = {
    "current_grade": None,
    "periods_under": 0,
    "override_grade": None,
    "locked_grade": None,
    "pending_downgrade": False,
}
GRADE_COLUMNS = ("computed_grade", "current_grade", "override_grade", "locked_grade")


def make_state(*rows: dict[str, Any], index: list[Any] | None = None) -> pd.DataFrame:
    """Build a state frame from partial rows; missing fields take the engine's defaults."""
    full = [DEFAULT_ROW | row for row in rows]
    columns: dict[str, Any] = {column: [row[column] for row in full] for column in STATE_COLUMNS}
    for column in GRADE_COLUMNS:
        columns[column] = pd.array(columns[column], dtype="str")
    columns["composite"] = np.array(columns["composite"], dtype=float)
    columns["periods_under"] = np.array(columns["periods_under"], dtype=np.int64)
    columns["pending_downgrade"] = np.array(columns["pending_downgrade"], dtype=bool)
    ids = pd.Index(index if index is not None else range(1, len(full) + 1), name="customer_id")
    return pd.DataFrame(columns, index=ids)


def plain(value: Any) -> Any:
    """Return None for any missing marker, so expectations can be written with None."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def decisions(out: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [
        tuple(plain(v) for v in row) for row in out[list(OUTPUT_COLUMNS)].itertuples(index=False)
    ]


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
    grade = GradePolicy("gold", rank=3, min_score=70.0)
    assert (grade.hysteresis, grade.cadence) == (0.0, "monthly")
    assert (grade.warn_after, grade.downgrade_after, grade.downgrade_needs_review) == (1, 2, True)


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
    assert RunContext({"monthly"}).due_cadences == frozenset({"monthly"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown cadences"):
        RunContext(frozenset({"Monthly"}))


# --- decide: one rule at a time -----------------------------------------------------------------

# (id, row, context, (action, old_grade, new_grade, target_grade, periods_under, rule))
RULE_CASES = [
    # 1. override pins, whatever the scores, counters, locks or pending proposals say
    (
        "override_pins_above_score",
        {"computed_grade": "diamond", "composite": 99, "current_grade": "silver"}
        | {"override_grade": "gold", "periods_under": 2},
        MONTH_END,
        ("pinned", "silver", "gold", None, 0, "override"),
    ),
    (
        "override_pins_below_score",
        {"computed_grade": "bronze", "composite": 1, "current_grade": "gold"}
        | {"override_grade": "gold", "periods_under": 5, "pending_downgrade": True},
        QUARTER_END,
        ("pinned", "gold", "gold", None, 0, "override"),
    ),
    (
        "override_beats_appeal_lock",
        {"computed_grade": "bronze", "composite": 1, "current_grade": "gold"}
        | {"override_grade": "diamond", "locked_grade": "gold"},
        MONTH_END,
        ("pinned", "gold", "diamond", None, 0, "override"),
    ),
    (
        "override_beats_first_grading",
        {"computed_grade": "bronze", "composite": 10, "override_grade": "gold"},
        MONTH_END,
        ("pinned", None, "gold", None, 0, "override"),
    ),
    (
        "override_may_name_a_retired_grade",
        {"computed_grade": "bronze", "composite": 10, "current_grade": "legacy_vip"}
        | {"override_grade": "legacy_vip"},
        MONTH_END,
        ("pinned", "legacy_vip", "legacy_vip", None, 0, "override"),
    ),
    # 2. an appeal lock keeps the current grade
    (
        "lock_keeps_grade_below_target",
        {"computed_grade": "bronze", "composite": 5, "current_grade": "gold"}
        | {"locked_grade": "gold", "periods_under": 1},
        MONTH_END,
        ("locked", "gold", "gold", None, 0, "appeal_lock"),
    ),
    (
        "lock_beats_upgrade",
        {"computed_grade": "diamond", "composite": 95, "current_grade": "gold"}
        | {"locked_grade": "gold"},
        QUARTER_END,
        ("locked", "gold", "gold", None, 0, "appeal_lock"),
    ),
    (
        "lock_without_current_grade_uses_locked_grade",
        {"computed_grade": "bronze", "composite": 5, "locked_grade": "silver"},
        MONTH_END,
        ("locked", None, "silver", None, 0, "appeal_lock"),
    ),
    (
        "lock_reports_current_grade_even_if_different",
        {"computed_grade": "bronze", "composite": 5, "current_grade": "gold"}
        | {"locked_grade": "silver"},
        MONTH_END,
        ("locked", "gold", "gold", None, 0, "appeal_lock"),
    ),
    # 3. first grading assigns the computed grade without review
    (
        "first_grading_assigns_top_grade",
        {"computed_grade": "diamond", "composite": 93},
        MONTH_END,
        ("assign", None, "diamond", "diamond", 0, "first_grading"),
    ),
    (
        "first_grading_assigns_low_grade_and_resets_counter",
        {"computed_grade": "bronze", "composite": 3, "periods_under": 4, "pending_downgrade": True},
        QUARTER_END,
        ("assign", None, "bronze", "bronze", 0, "first_grading"),
    ),
    # 4. upgrades are immediate, may jump, ignore cadence and supersede a pending proposal
    (
        "upgrade_one_step",
        {"computed_grade": "silver", "composite": 45, "current_grade": "bronze"},
        MONTH_END,
        ("upgrade", "bronze", "silver", "silver", 0, "score_above_grade"),
    ),
    (
        "upgrade_jumps_several_steps_off_quarter",
        {"computed_grade": "diamond", "composite": 91, "current_grade": "bronze"}
        | {"periods_under": 2},
        MONTH_END,
        ("upgrade", "bronze", "diamond", "diamond", 0, "score_above_grade"),
    ),
    (
        "upgrade_supersedes_pending_downgrade",
        {"computed_grade": "diamond", "composite": 91, "current_grade": "gold"}
        | {"periods_under": 2, "pending_downgrade": True},
        MONTH_END,
        ("upgrade", "gold", "diamond", "diamond", 0, "score_above_grade"),
    ),
    # 5. same grade resets the counter
    (
        "same_grade_resets_counter",
        {"computed_grade": "gold", "composite": 72, "current_grade": "gold", "periods_under": 1},
        MONTH_END,
        ("keep", "gold", "gold", None, 0, "same_grade"),
    ),
    (
        "same_grade_keeps_pending_flag_untouched",
        {"computed_grade": "gold", "composite": 72, "current_grade": "gold"}
        | {"periods_under": 2, "pending_downgrade": True},
        MONTH_END,
        ("keep", "gold", "gold", None, 0, "same_grade"),
    ),
    # 6a. inside the hysteresis band (inclusive) the grade is kept and the counter resets
    (
        "hysteresis_keeps_grade",
        {"computed_grade": "silver", "composite": 67.5, "current_grade": "gold"}
        | {"periods_under": 1},
        MONTH_END,
        ("keep", "gold", "gold", None, 0, "within_hysteresis"),
    ),
    (
        "hysteresis_bound_is_inclusive",
        {"computed_grade": "silver", "composite": 65.0, "current_grade": "gold"},
        MONTH_END,
        ("keep", "gold", "gold", None, 0, "within_hysteresis"),
    ),
    (
        "hysteresis_checked_before_cadence",
        {"computed_grade": "gold", "composite": 85.0, "current_grade": "diamond"}
        | {"periods_under": 1},
        MONTH_END,
        ("keep", "diamond", "diamond", None, 0, "within_hysteresis"),
    ),
    (
        "hysteresis_checked_before_pending",
        {"computed_grade": "silver", "composite": 66.0, "current_grade": "gold"}
        | {"periods_under": 2, "pending_downgrade": True},
        MONTH_END,
        ("keep", "gold", "gold", None, 0, "within_hysteresis"),
    ),
    (
        "just_below_hysteresis_counts",
        {"computed_grade": "silver", "composite": 64.999, "current_grade": "gold"},
        MONTH_END,
        ("warn", "gold", "gold", None, 1, "warn_after"),
    ),
    (
        "gate_failure_above_the_floor_is_not_forgiven",
        {"computed_grade": "silver", "composite": 75.0, "current_grade": "gold"},
        MONTH_END,
        ("warn", "gold", "gold", None, 1, "warn_after"),
    ),
    (
        "missing_composite_is_outside_the_band",
        {"computed_grade": "silver", "composite": float("nan"), "current_grade": "gold"},
        MONTH_END,
        ("warn", "gold", "gold", None, 1, "warn_after"),
    ),
    # 6b. a grade whose cadence is not due is not evaluated; the counter is left alone
    (
        "quarterly_grade_not_due_at_month_end",
        {"computed_grade": "gold", "composite": 80, "current_grade": "diamond"}
        | {"periods_under": 1},
        MONTH_END,
        ("keep", "diamond", "diamond", None, 1, "cadence_not_due"),
    ),
    (
        "cadence_checked_before_pending",
        {"computed_grade": "bronze", "composite": 10, "current_grade": "diamond"}
        | {"periods_under": 2, "pending_downgrade": True},
        MONTH_END,
        ("keep", "diamond", "diamond", None, 2, "cadence_not_due"),
    ),
    (
        "nothing_due_keeps_monthly_grade",
        {"computed_grade": "silver", "composite": 50, "current_grade": "gold"},
        RunContext(frozenset()),
        ("keep", "gold", "gold", None, 0, "cadence_not_due"),
    ),
    # 6c. a pending proposal is never proposed again; the counter keeps counting
    (
        "pending_review_counts_on",
        {"computed_grade": "silver", "composite": 50, "current_grade": "gold"}
        | {"periods_under": 2, "pending_downgrade": True},
        MONTH_END,
        ("keep", "gold", "gold", None, 3, "pending_review"),
    ),
    # 6d. downgrade_after reached: one step down, proposed or applied
    (
        "propose_downgrade_one_step",
        {"computed_grade": "silver", "composite": 50, "current_grade": "gold"}
        | {"periods_under": 1},
        MONTH_END,
        ("propose_downgrade", "gold", "gold", "silver", 2, "downgrade_after"),
    ),
    (
        "propose_never_more_than_one_step",
        {"computed_grade": "bronze", "composite": 2, "current_grade": "diamond"}
        | {"periods_under": 1},
        QUARTER_END,
        ("propose_downgrade", "diamond", "diamond", "gold", 2, "downgrade_after"),
    ),
    (
        "propose_when_counter_already_past_threshold",
        {"computed_grade": "bronze", "composite": 2, "current_grade": "gold"}
        | {"periods_under": 7},
        MONTH_END,
        ("propose_downgrade", "gold", "gold", "silver", 8, "downgrade_after"),
    ),
    (
        "downgrade_without_review_applies_and_resets",
        {"computed_grade": "bronze", "composite": 20, "current_grade": "silver"}
        | {"periods_under": 2},
        MONTH_END,
        ("downgrade", "silver", "bronze", "bronze", 0, "downgrade_after"),
    ),
    # 6e. warn_after reached
    (
        "warn_first_period_under_target",
        {"computed_grade": "silver", "composite": 50, "current_grade": "gold"},
        MONTH_END,
        ("warn", "gold", "gold", None, 1, "warn_after"),
    ),
    (
        "quarterly_grade_warns_at_quarter_end",
        {"computed_grade": "gold", "composite": 80, "current_grade": "diamond"},
        QUARTER_END,
        ("warn", "diamond", "diamond", None, 1, "warn_after"),
    ),
    # 6f. under target without warning (warn_after = 0 never warns)
    (
        "under_target_when_grade_never_warns",
        {"computed_grade": "bronze", "composite": 20, "current_grade": "silver"},
        MONTH_END,
        ("under_target", "silver", "silver", None, 1, "under_target"),
    ),
    (
        "under_target_keeps_counting",
        {"computed_grade": "bronze", "composite": 20, "current_grade": "silver"}
        | {"periods_under": 1},
        MONTH_END,
        ("under_target", "silver", "silver", None, 2, "under_target"),
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
    assert {e[-1] for e in seen} == set(RULES)


def test_warn_and_downgrade_on_the_same_period_downgrades():
    ladder = Ladder(
        [
            GradePolicy("low", rank=1, min_score=0.0),
            GradePolicy("high", rank=2, min_score=50.0, warn_after=1, downgrade_after=1),
        ]
    )
    state = make_state({"computed_grade": "low", "composite": 10, "current_grade": "high"})
    out = decide(state, ladder=ladder, context=MONTH_END)
    assert decisions(out) == [("propose_downgrade", "high", "high", "low", 1, "downgrade_after")]


def test_missing_periods_under_and_pending_count_as_zero_and_false():
    state = make_state(
        {"computed_grade": "silver", "composite": 50, "current_grade": "gold"},
        {"computed_grade": "silver", "composite": 50, "current_grade": "gold"},
    )
    state["periods_under"] = pd.array([None, 1], dtype="Int64")
    state["pending_downgrade"] = pd.array([None, None], dtype="boolean")
    out = decide(state, ladder=LADDER, context=MONTH_END)
    assert out["action"].tolist() == ["warn", "propose_downgrade"]
    assert out["periods_under"].tolist() == [1, 2]


# --- decide: frame contract ---------------------------------------------------------------------


def test_empty_state_gives_empty_output_with_the_right_columns():
    state = make_state()
    out = decide(state, ladder=LADDER, context=MONTH_END)
    assert out.empty
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert out.index.name == "customer_id"
    assert out["periods_under"].dtype == np.int64
    assert all(out[c].dtype == "str" for c in OUTPUT_COLUMNS if c != "periods_under")


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
    assert all(out[c].dtype == "str" for c in OUTPUT_COLUMNS if c != "periods_under")
    assert out.loc["c-2", "action"] == "assign"
    assert out["target_grade"].isna().tolist() == [True, False, True]


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
    state = make_state({"computed_grade": "gold", "composite": 75}).drop(columns="locked_grade")
    with pytest.raises(ValueError, match=r"missing columns \['locked_grade'\]"):
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
        ("pinned", "legacy", "gold", None, 0, "override"),
        ("locked", "legacy", "legacy", None, 0, "appeal_lock"),
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


# --- decide over several periods ----------------------------------------------------------------


def simulate(
    ladder: Ladder,
    start: dict[str, Any],
    periods: list[tuple[RunContext, str, float]],
) -> pd.DataFrame:
    """Run one customer through several periods, feeding each decision back as state.

    Each period is (context, computed_grade, composite). A proposal stays pending until an
    upgrade supersedes it or a downgrade is applied (no reviewer acts in these scenarios).
    """
    state = make_state({"computed_grade": ladder.lowest.code, "composite": 0.0} | start)
    rows = []
    for context, computed, composite in periods:
        state = state.assign(
            computed_grade=pd.array([computed], dtype="str"), composite=[float(composite)]
        )
        out = decide(state, ladder=ladder, context=context)
        rows.append(out.iloc[0])
        action = out["action"].iloc[0]
        pending = bool(state["pending_downgrade"].iloc[0])
        state = state.assign(
            current_grade=out["new_grade"],
            periods_under=out["periods_under"],
            pending_downgrade=[
                action == "propose_downgrade"
                or (pending and action not in ("upgrade", "downgrade"))
            ],
        )
    return pd.DataFrame(rows).reset_index(drop=True)


def monthly(*scores: tuple[str, float]) -> list[tuple[RunContext, str, float]]:
    return [(MONTH_END, computed, composite) for computed, composite in scores]


def test_steady_customer_stays_put():
    history = simulate(LADDER, {"current_grade": "gold"}, monthly(*[("gold", 80.0)] * 6))
    assert history["action"].tolist() == ["keep"] * 6
    assert history["rule"].tolist() == ["same_grade"] * 6
    assert history["new_grade"].tolist() == ["gold"] * 6
    assert history["periods_under"].tolist() == [0] * 6


def test_first_grading_then_upgrades_are_immediate_and_can_jump():
    scores = [("bronze", 20), ("bronze", 25), ("diamond", 92)] + [("diamond", 95)] * 3
    history = simulate(LADDER, {}, monthly(*scores))
    assert history["action"].tolist() == ["assign", "keep", "upgrade", "keep", "keep", "keep"]
    assert history["new_grade"].tolist() == ["bronze", "bronze"] + ["diamond"] * 4
    assert history["target_grade"].iloc[2] == "diamond"


def test_dip_inside_hysteresis_never_warns():
    scores = [68.0, 66.0, 65.0, 69.9, 65.5, 67.0]
    history = simulate(LADDER, {"current_grade": "gold"}, monthly(*[("silver", s) for s in scores]))
    assert history["rule"].tolist() == ["within_hysteresis"] * 6
    assert history["new_grade"].tolist() == ["gold"] * 6
    assert history["periods_under"].tolist() == [0] * 6


def test_quarterly_top_grade_warns_then_proposes_and_ignores_month_ends():
    as_of = [date(2026, m, 1) for m in (2, 3, 4, 5, 6, 7)]  # runs for Jan..Jun
    periods = [(RunContext.for_as_of(d), "gold", 80.0) for d in as_of]
    history = simulate(LADDER, {"current_grade": "diamond"}, periods)
    assert history["action"].tolist() == [
        "keep",
        "keep",
        "warn",
        "keep",
        "keep",
        "propose_downgrade",
    ]
    assert history["rule"].tolist() == [
        "cadence_not_due",
        "cadence_not_due",
        "warn_after",
        "cadence_not_due",
        "cadence_not_due",
        "downgrade_after",
    ]
    assert history["periods_under"].tolist() == [0, 0, 1, 1, 1, 2]
    assert history["new_grade"].tolist() == ["diamond"] * 6
    assert history["target_grade"].iloc[5] == "gold"


def test_grade_without_review_downgrades_one_step_per_downgrade_after_periods():
    ladder = Ladder(
        [
            GradePolicy("c", rank=1, min_score=0.0),
            GradePolicy("b", rank=2, min_score=40.0, downgrade_needs_review=False),
            GradePolicy("a", rank=3, min_score=70.0, downgrade_needs_review=False),
        ]
    )
    history = simulate(ladder, {"current_grade": "a"}, monthly(*[("c", 10.0)] * 6))
    assert history["action"].tolist() == ["warn", "downgrade", "warn", "downgrade", "keep", "keep"]
    assert history["new_grade"].tolist() == ["a", "b", "b", "c", "c", "c"]
    assert [plain(v) for v in history["target_grade"]] == [None, "b", None, "c", None, None]
    assert history["periods_under"].tolist() == [1, 0, 1, 0, 0, 0]


def test_recovery_resets_the_counter():
    scores = [("bronze", 20), ("bronze", 20), ("silver", 45)] + [("bronze", 20)] * 3
    history = simulate(LADDER, {"current_grade": "silver"}, monthly(*scores))
    assert history["periods_under"].tolist() == [1, 2, 0, 1, 2, 0]
    assert history["action"].tolist() == [
        "under_target",
        "under_target",
        "keep",
        "under_target",
        "under_target",
        "downgrade",
    ]
    assert history["new_grade"].tolist() == ["silver"] * 5 + ["bronze"]


def test_recovery_inside_hysteresis_also_resets_the_counter():
    scores = [("silver", 50), ("gold", 72), ("silver", 50), ("silver", 66)] + [("silver", 50)] * 2
    history = simulate(LADDER, {"current_grade": "gold"}, monthly(*scores))
    assert history["action"].tolist() == [
        "warn",
        "keep",
        "warn",
        "keep",
        "warn",
        "propose_downgrade",
    ]
    assert history["periods_under"].tolist() == [1, 0, 1, 0, 1, 2]


def test_override_survives_any_scores():
    scores = [("bronze", 0), ("diamond", 100), ("bronze", 3), ("silver", 50), ("gold", 70)]
    start = {"current_grade": "gold", "override_grade": "gold"}
    history = simulate(LADDER, start, monthly(*scores, ("bronze", 1)))
    assert history["action"].tolist() == ["pinned"] * 6
    assert history["new_grade"].tolist() == ["gold"] * 6
    assert history["periods_under"].tolist() == [0] * 6


def test_appeal_lock_survives_any_scores():
    scores = [("bronze", 0), ("bronze", 2), ("diamond", 99), ("silver", 50), ("bronze", 1)]
    start = {"current_grade": "gold", "locked_grade": "gold"}
    history = simulate(LADDER, start, [(QUARTER_END, c, s) for c, s in [*scores, ("bronze", 0)]])
    assert history["action"].tolist() == ["locked"] * 6
    assert history["new_grade"].tolist() == ["gold"] * 6


def test_pending_proposal_is_never_duplicated():
    history = simulate(LADDER, {"current_grade": "gold"}, monthly(*[("bronze", 10.0)] * 6))
    assert history["action"].tolist() == ["warn", "propose_downgrade"] + ["keep"] * 4
    assert history["rule"].tolist()[2:] == ["pending_review"] * 4
    assert (history["action"] == "propose_downgrade").sum() == 1
    assert history["periods_under"].tolist() == [1, 2, 3, 4, 5, 6]
    assert history["new_grade"].tolist() == ["gold"] * 6


def test_upgrade_supersedes_a_pending_proposal():
    scores = [("silver", 50)] * 3 + [("diamond", 95)] * 2 + [("gold", 75)]
    history = simulate(LADDER, {"current_grade": "gold"}, monthly(*scores))
    assert history["action"].tolist() == [
        "warn",
        "propose_downgrade",
        "keep",
        "upgrade",
        "keep",
        "keep",
    ]
    assert history["rule"].iloc[3] == "score_above_grade"
    assert history["new_grade"].tolist() == ["gold"] * 3 + ["diamond"] * 3
    # diamond is quarterly: the month-end run after the drop does not count against it
    assert history["rule"].iloc[5] == "cadence_not_due"


# --- property test against a row-by-row reference -----------------------------------------------


def reference_decision(row: dict[str, Any], ladder: Ladder, due: frozenset[str]) -> tuple:
    """Decide one customer by reading the rules table top to bottom."""
    current, computed = row["current_grade"], row["computed_grade"]
    periods = row["periods_under"]
    if row["override_grade"] is not None:
        return ("pinned", current, row["override_grade"], None, 0, "override")
    if row["locked_grade"] is not None:
        kept = current if current is not None else row["locked_grade"]
        return ("locked", current, kept, None, 0, "appeal_lock")
    if current is None:
        return ("assign", None, computed, computed, 0, "first_grading")
    cur, new = ladder.by_code(current), ladder.by_code(computed)
    if new.rank > cur.rank:
        return ("upgrade", current, computed, computed, 0, "score_above_grade")
    if new.rank == cur.rank:
        return ("keep", current, current, None, 0, "same_grade")
    if cur.min_score - cur.hysteresis <= row["composite"] < cur.min_score:
        return ("keep", current, current, None, 0, "within_hysteresis")
    if cur.cadence not in due:
        return ("keep", current, current, None, periods, "cadence_not_due")
    if row["pending_downgrade"]:
        return ("keep", current, current, None, periods + 1, "pending_review")
    n = periods + 1
    if n >= cur.downgrade_after:
        lower = ladder.next_lower(current)
        assert lower is not None
        assert lower.rank >= new.rank  # one step never goes below the computed grade
        if cur.downgrade_needs_review:
            return ("propose_downgrade", current, current, lower.code, n, "downgrade_after")
        return ("downgrade", current, lower.code, lower.code, 0, "downgrade_after")
    if cur.warn_after > 0 and n >= cur.warn_after:
        return ("warn", current, current, None, n, "warn_after")
    return ("under_target", current, current, None, n, "under_target")


@st.composite
def ladders(draw: st.DrawFn) -> Ladder:
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
            )
        )
    return Ladder(grades)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Ladder, frozenset[str], list[dict[str, Any]]]:
    ladder = draw(ladders())
    codes = st.sampled_from(ladder.codes)
    maybe_code = st.none() | codes
    rare_code = st.one_of(*[st.none()] * 4, codes, st.just("retired"))
    # Composites on the hysteresis floors exercise the inclusive bound.
    floors = [grade.min_score - grade.hysteresis for grade in ladder]
    composite = st.sampled_from(floors) | st.floats(-5, 100, allow_nan=False)
    row = st.fixed_dictionaries(
        {
            "computed_grade": codes,
            "composite": composite,
            "current_grade": maybe_code,
            "periods_under": st.integers(0, 5),
            "override_grade": rare_code,
            "locked_grade": rare_code,
            "pending_downgrade": st.booleans(),
        }
    )
    due = draw(st.sampled_from([frozenset(), frozenset({"monthly"}), frozenset(CADENCES)]))
    return ladder, due, draw(st.lists(row, max_size=30))


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_decide_matches_row_by_row_reference(scenario):
    ladder, due, rows = scenario
    out = decide(make_state(*rows), ladder=ladder, context=RunContext(due))
    assert decisions(out) == [reference_decision(row, ladder, due) for row in rows]
