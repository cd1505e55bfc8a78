"""Decide what a grading run does to each customer's grade.

Pure domain code: no Django, no ORM, no settings, no clock. The engine passes in the grade
ladder, the run context (which review cadences are due) and one row of state per customer;
``decide`` returns one decision per customer. Writing the decisions is the engine's job.

This is the grade policy of docs/grading-policy.md: a table of cases, each with an example
customer timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal, NamedTuple

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

__all__ = [
    "ACTIONS",
    "CADENCES",
    "DEFAULT_COUNTS",
    "OUTPUT_COLUMNS",
    "RULES",
    "STATE_COLUMNS",
    "Cadence",
    "GradePolicy",
    "Ladder",
    "RunContext",
    "cadences_due",
    "decide",
    "default_counts",
]

Cadence = Literal["monthly", "quarterly"]
CADENCES: Final[tuple[str, ...]] = ("monthly", "quarterly")

#: (warn_after, downgrade_after) of a grade that does not say otherwise, by cadence. The
#: source rule for top customers: two consecutive quarters short of target start the warning
#: talk (预警沟通), and only if there is still no improvement (若仍无改善) comes the downgrade,
#: so a quarterly grade warns at its 2nd review under target and proposes at its 3rd. A
#: monthly grade warns at the 1st and proposes at the 2nd.
DEFAULT_COUNTS: Final[Mapping[str, tuple[int, int]]] = {"monthly": (1, 2), "quarterly": (2, 3)}

ACTIONS: Final[tuple[str, ...]] = (
    "assign",
    "upgrade",
    "keep",
    "under_target",
    "warn",
    "propose_downgrade",
    "downgrade",
    "pinned",
    "locked",
)

STATE_COLUMNS: Final[tuple[str, ...]] = (
    "computed_grade",
    "composite",
    "frequency",
    "monetary_cents",
    "current_grade",
    "periods_under",
    "override_grade",
    "locked_grade",
    "pending_downgrade",
)

OUTPUT_COLUMNS: Final[tuple[str, ...]] = (
    "action",
    "old_grade",
    "new_grade",
    "target_grade",
    "periods_under",
    "rule",
    "under_target",
    "withdraw_proposal",
)

# Quarter-end runs are dated the first day of the next quarter (see ``cadences_due``).
_QUARTER_START_MONTHS: Final = frozenset({1, 4, 7, 10})


class _Outcome(NamedTuple):
    action: str
    rule: str


# One entry per rule of ``decide``, in precedence order. The vectorised code computes an
# index into this table per customer, so action and rule can never disagree.
_OUTCOMES: Final[tuple[_Outcome, ...]] = (
    _Outcome("pinned", "override"),
    _Outcome("locked", "appeal_lock"),
    _Outcome("assign", "first_grading"),
    _Outcome("upgrade", "score_above_grade"),
    _Outcome("keep", "on_target_not_due"),
    _Outcome("keep", "cadence_not_due"),
    _Outcome("keep", "proposal_withdrawn"),
    _Outcome("keep", "same_grade"),
    _Outcome("keep", "within_hysteresis"),
    _Outcome("keep", "pending_review"),
    _Outcome("propose_downgrade", "downgrade_after"),
    _Outcome("downgrade", "downgrade_after"),
    _Outcome("warn", "warn_after"),
    _Outcome("under_target", "under_target"),
)
(
    _PINNED,
    _LOCKED,
    _ASSIGN,
    _UPGRADE,
    _ON_TARGET_NOT_DUE,
    _UNDER_NOT_DUE,
    _WITHDRAWN,
    _SAME,
    _HYSTERESIS,
    _PENDING,
    _PROPOSE,
    _DOWNGRADE,
    _WARN,
    _UNDER,
) = range(len(_OUTCOMES))

RULES: Final[tuple[str, ...]] = tuple(dict.fromkeys(outcome.rule for outcome in _OUTCOMES))


def default_counts(cadence: str) -> tuple[int, int]:
    """Return the default (warn_after, downgrade_after) of a grade reviewed at ``cadence``.

    See ``DEFAULT_COUNTS``; an unknown cadence gets the monthly numbers (the ladder's own
    validation reports the cadence).
    """
    return DEFAULT_COUNTS.get(cadence, DEFAULT_COUNTS["monthly"])


@dataclass(frozen=True, slots=True)
class GradePolicy:
    """Describe one grade of the ladder (a rung) and the rules that move customers out of it.

    ``rank``: higher is better. ``min_score``: the composite (0..100) that earns the grade.
    ``min_frequency`` / ``min_monetary_cents``: the rung's hard gates (orders in the window,
    net purchases in the window in cents; 0 = no gate), as in ``grading.scoring.GradeRule``.
    ``hysteresis``: composite points below ``min_score`` that still count as on target, for
    a customer who passes every gate (a failed gate is never forgiven). ``cadence``: which
    runs review the rung (monthly: every run; quarterly: runs dated on a quarter start).
    ``warn_after`` / ``downgrade_after``: consecutive reviews under target before a warning /
    a one-step downgrade (``warn_after=0`` never warns); left out (None), they default by
    cadence (``DEFAULT_COUNTS``). ``downgrade_needs_review``: the downgrade is proposed and
    waits for a reviewer instead of being applied.
    """

    code: str
    rank: int
    min_score: float
    hysteresis: float = 0.0
    cadence: Cadence = "monthly"
    warn_after: int = None  # type: ignore[assignment]  # None: DEFAULT_COUNTS[cadence]
    downgrade_after: int = None  # type: ignore[assignment]  # None: DEFAULT_COUNTS[cadence]
    downgrade_needs_review: bool = True
    min_frequency: int = 0
    min_monetary_cents: int = 0

    def __post_init__(self) -> None:
        warn_after, downgrade_after = default_counts(self.cadence)
        if self.warn_after is None:
            object.__setattr__(self, "warn_after", warn_after)
        if self.downgrade_after is None:
            object.__setattr__(self, "downgrade_after", downgrade_after)


@dataclass(frozen=True, slots=True, init=False)
class Ladder:
    """Hold a scheme's grades, ordered from the highest rank to the lowest.

    Build it from any iterable of ``GradePolicy``; raise ``ValueError`` naming every problem
    when codes or ranks repeat, the ladder is empty, or a grade's cadence, hysteresis or
    warn/downgrade counts are invalid.
    """

    grades: tuple[GradePolicy, ...]
    _positions: dict[str, int] = field(init=False, repr=False, compare=False)

    def __init__(self, grades: Iterable[GradePolicy]) -> None:
        grades = tuple(grades)
        _validate_grades(grades)
        ordered = tuple(sorted(grades, key=lambda grade: grade.rank, reverse=True))
        object.__setattr__(self, "grades", ordered)
        object.__setattr__(self, "_positions", {g.code: i for i, g in enumerate(ordered)})

    def __iter__(self) -> Iterator[GradePolicy]:
        return iter(self.grades)

    def __len__(self) -> int:
        return len(self.grades)

    def __contains__(self, code: object) -> bool:
        return code in self._positions

    @property
    def codes(self) -> tuple[str, ...]:
        """Return the grade codes from the highest rank to the lowest."""
        return tuple(grade.code for grade in self.grades)

    @property
    def lowest(self) -> GradePolicy:
        """Return the grade with the lowest rank."""
        return self.grades[-1]

    def by_code(self, code: str) -> GradePolicy:
        """Return the grade with this code; raise ``KeyError`` for an unknown code."""
        try:
            return self.grades[self._positions[code]]
        except KeyError:
            raise KeyError(f"unknown grade code {code!r}; the ladder has {self.codes}") from None

    def next_lower(self, code: str) -> GradePolicy | None:
        """Return the grade one step below ``code``, or None when ``code`` is the lowest."""
        self.by_code(code)
        position = self._positions[code] + 1
        return self.grades[position] if position < len(self.grades) else None


def _validate_grades(grades: tuple[GradePolicy, ...]) -> None:
    problems: list[str] = []
    if not grades:
        problems.append("a ladder needs at least one grade")
    codes = [grade.code for grade in grades]
    ranks = [grade.rank for grade in grades]
    if duplicated := sorted({c for c in codes if codes.count(c) > 1}):
        problems.append(f"grade codes must be unique, repeated: {duplicated}")
    if duplicated_ranks := sorted({r for r in ranks if ranks.count(r) > 1}):
        problems.append(f"grade ranks must be unique, repeated: {duplicated_ranks}")
    for grade in grades:
        name = f"grade {grade.code!r}"
        if grade.cadence not in CADENCES:
            problems.append(f"{name}: cadence must be one of {CADENCES}, got {grade.cadence!r}")
        if not grade.hysteresis >= 0:
            problems.append(f"{name}: hysteresis must be >= 0, got {grade.hysteresis}")
        if grade.warn_after < 0:
            problems.append(f"{name}: warn_after must be >= 0, got {grade.warn_after}")
        if grade.downgrade_after < 1:
            problems.append(f"{name}: downgrade_after must be >= 1, got {grade.downgrade_after}")
        if grade.min_frequency < 0 or grade.min_monetary_cents < 0:
            problems.append(f"{name}: gates must be >= 0")
        if grade.warn_after > grade.downgrade_after:
            problems.append(
                f"{name}: warn_after ({grade.warn_after}) must be <= "
                f"downgrade_after ({grade.downgrade_after})"
            )
    if problems:
        raise ValueError("invalid grade ladder: " + "; ".join(problems))


def cadences_due(as_of: date) -> frozenset[str]:
    """Return the review cadences of a run dated ``as_of``: the rungs it reviews.

    Convention: ``as_of`` is the first day AFTER the evaluated period, so the run for March
    is dated April 1 and the run for the first quarter is also dated April 1. "monthly" is
    always due; "quarterly" is due too when ``as_of`` is January, April, July or October 1.
    """
    if as_of.day == 1 and as_of.month in _QUARTER_START_MONTHS:
        return frozenset({"monthly", "quarterly"})
    return frozenset({"monthly"})


@dataclass(frozen=True, slots=True)
class RunContext:
    """Describe the run: which review cadences it reviews.

    A month-end run has ``{"monthly"}``, a quarter-end run ``{"monthly", "quarterly"}``;
    ``RunContext.for_as_of(as_of)`` derives them from the run date (see ``cadences_due``).
    """

    due_cadences: frozenset[str]

    cadences_due = staticmethod(cadences_due)

    def __post_init__(self) -> None:
        due = frozenset(self.due_cadences)
        if unknown := sorted(due - set(CADENCES)):
            raise ValueError(f"unknown cadences {unknown}; expected a subset of {CADENCES}")
        object.__setattr__(self, "due_cadences", due)

    @classmethod
    def for_as_of(cls, as_of: date) -> RunContext:
        """Return the context of the run dated ``as_of`` (first day after the period)."""
        return cls(due_cadences=cadences_due(as_of))


def decide(state: pd.DataFrame, *, ladder: Ladder, context: RunContext) -> pd.DataFrame:
    """Return this run's grade decision for every customer in ``state``.

    ``state`` is indexed by customer id and has the columns of ``STATE_COLUMNS``:
    computed_grade (ladder code from scoring), composite (0..100), frequency and
    monetary_cents (the gate inputs: orders and net purchases in cents in the window; NA =
    0), current_grade (NA = never graded), periods_under (consecutive reviews under target of
    the current grade; NA = 0), override_grade / locked_grade (NA = none active),
    pending_downgrade (a downgrade proposal waits for review; NA = False). Extra columns are
    ignored; the input is never modified.

    The result is indexed like ``state`` with the columns of ``OUTPUT_COLUMNS``: action (one
    of ``ACTIONS``), old_grade (= current_grade), new_grade (the grade after this run if the
    decision is applied; a proposal leaves the old grade), target_grade (where a change goes:
    set for assign / upgrade / propose_downgrade / downgrade, NA otherwise), periods_under
    (the count to store, int64), rule (the rule that fired), under_target (bool, below) and
    withdraw_proposal (bool: the pending downgrade proposal is to be withdrawn, superseded
    with the rule as its reason). Text columns use the pandas ``str`` dtype with NaN for
    missing.

    "cur" is the current grade's rung. Under target: the computed grade ranks below cur and
    a gate of cur fails (frequency < cur.min_frequency or monetary_cents <
    cur.min_monetary_cents), or every gate passes and composite < cur.min_score -
    cur.hysteresis (a missing composite counts as below). On target: neither upgraded nor
    under target. The rung is reviewed when cur.cadence is in ``context.due_cadences``.
    Rules, first match wins (n = periods_under + 1):

    ===  =============================  =================  ===========  ==================  ====
    #    condition                      action             count        rule                wd
    ===  =============================  =================  ===========  ==================  ====
    1    override_grade set             pinned (new =      0            override
                                        override_grade)
    2    locked_grade set               locked (new =      0            appeal_lock
                                        current, else
                                        locked_grade)
    3    current_grade NA               assign computed    0            first_grading
    4    computed rank > current rank   upgrade to         0            score_above_grade   pend
                                        computed (any
                                        number of steps)
    5a   not reviewed, on target        keep               unchanged    on_target_not_due
    5b   not reviewed, under target     keep               unchanged    cadence_not_due
    6a   reviewed, on target, pending   keep               0            proposal_withdrawn  yes
    6b   reviewed, computed == current  keep               0            same_grade
    6c   reviewed, on target            keep               0            within_hysteresis
    7a   reviewed, under, pending       keep               n            pending_review
    7b   under, n >= downgrade_after    propose_downgrade  n            downgrade_after
         and downgrade_needs_review     one step down
    7b   under, n >= downgrade_after    downgrade one      0            downgrade_after
                                        step down
    7c   under, warn_after > 0 and      warn               n            warn_after
         n >= warn_after
    7d   under                          under_target       n            under_target
    ===  =============================  =================  ===========  ==================  ====

    ("wd": withdraw_proposal; "pend": when pending_downgrade.) So a run that does not review
    a rung (a quarterly rung between quarter starts) neither adds to nor resets its count and
    never withdraws its proposal; only an upgrade acts at every run. A pending proposal is
    never proposed again. A downgrade moves exactly one step, never below the computed
    grade. For fixed gate inputs, being under target is monotone in the composite.

    Raise ``ValueError`` when a column is missing, periods_under is negative, a
    computed_grade is missing or not a ladder code, or a customer that rules 4-7 apply to has
    a current_grade that is not a ladder code. Pinned and locked customers may hold any code.
    """
    missing = [column for column in STATE_COLUMNS if column not in state.columns]
    if missing:
        raise ValueError(f"state is missing columns {missing}; expected {list(STATE_COLUMNS)}")

    # Grades are handled as integer positions into one vocabulary: the ladder codes first
    # (highest rank first, so "one step down" is position + 1), then any other codes found in
    # current/override/locked. -1 means missing. Strings are only rebuilt at the end.
    grade_columns = ("computed_grade", "current_grade", "override_grade", "locked_grade")
    factorized = {column: pd.factorize(state[column]) for column in grade_columns}
    vocabulary = _vocabulary(ladder.codes, [uniques for _, uniques in factorized.values()])
    computed, current, override, locked = (
        _positions(codes, uniques, vocabulary) for codes, uniques in factorized.values()
    )
    n_ladder = len(ladder)

    composite = pd.to_numeric(state["composite"]).to_numpy(dtype=float, na_value=np.nan)
    # Gate inputs as float64: exact for integers below 2**53 (cents of ~90 trillion).
    frequency = _count(state["frequency"])
    monetary = _count(state["monetary_cents"])
    old_under = pd.to_numeric(state["periods_under"]).fillna(0).to_numpy(dtype=np.int64)
    pending = state["pending_downgrade"].fillna(False).to_numpy(dtype=bool)

    _check_positions(state, computed < 0, "computed_grade is missing")
    _check_positions(state, computed >= n_ladder, "computed_grade is not a ladder code")
    _check_positions(state, old_under < 0, "periods_under is negative")

    pinned = override >= 0
    lock = ~pinned & (locked >= 0)
    assign = ~pinned & ~lock & (current < 0)
    graded = ~pinned & ~lock & ~assign
    _check_positions(state, graded & (current >= n_ladder), "current_grade is not a ladder code")

    # Per-grade attributes, indexed by vocabulary position. Codes outside the ladder get
    # neutral padding; the checks above guarantee no evaluated row reads it.
    padding = len(vocabulary) - n_ladder
    grades = ladder.grades
    rank = _per_grade([g.rank for g in grades], padding, 0, np.int64)
    floor = _per_grade([g.min_score - g.hysteresis for g in grades], padding, np.inf, float)
    min_frequency = _per_grade([g.min_frequency for g in grades], padding, 0, float)
    min_monetary = _per_grade([g.min_monetary_cents for g in grades], padding, 0, float)
    due = _per_grade([g.cadence in context.due_cadences for g in grades], padding, False, bool)
    warn_after = _per_grade([g.warn_after for g in grades], padding, 0, np.int64)
    down_after = _per_grade([g.downgrade_after for g in grades], padding, 1, np.int64)
    review = _per_grade([g.downgrade_needs_review for g in grades], padding, True, bool)

    cur = np.where(graded, current, 0)  # a safe index for rows that never read it
    n = old_under + 1
    upgrade = graded & (rank[computed] > rank[cur])
    same = graded & (computed == cur)
    below = graded & (rank[computed] < rank[cur])
    # The margin forgives only a score shortfall of a customer who passes every gate of the
    # current rung; a failed gate is under target whatever the composite (docs/grading-policy.md).
    gates_pass = (frequency >= min_frequency[cur]) & (monetary >= min_monetary[cur])
    under_target = below & ~(gates_pass & (composite >= floor[cur]))
    on_target = graded & ~upgrade & ~under_target
    reviewed = due[cur]

    not_due_on = on_target & ~reviewed
    not_due_under = under_target & ~reviewed
    withdrawn = on_target & reviewed & pending
    same_kept = same & reviewed & ~pending
    band_kept = on_target & ~same & reviewed & ~pending
    pending_review = under_target & reviewed & pending
    counting = under_target & reviewed & ~pending
    step_down = counting & (n >= down_after[cur])
    propose = step_down & review[cur]
    downgrade = step_down & ~review[cur]
    warn = counting & ~step_down & (warn_after[cur] > 0) & (n >= warn_after[cur])
    under = counting & ~step_down & ~warn

    # The masks are disjoint and cover every row, so each row gets exactly one outcome.
    decided = (
        (pinned, _PINNED),
        (lock, _LOCKED),
        (assign, _ASSIGN),
        (upgrade, _UPGRADE),
        (not_due_on, _ON_TARGET_NOT_DUE),
        (not_due_under, _UNDER_NOT_DUE),
        (withdrawn, _WITHDRAWN),
        (same_kept, _SAME),
        (band_kept, _HYSTERESIS),
        (pending_review, _PENDING),
        (propose, _PROPOSE),
        (downgrade, _DOWNGRADE),
        (warn, _WARN),
        (under, _UNDER),
    )
    outcome = np.select([mask for mask, _ in decided], [code for _, code in decided], default=-1)

    periods_under = np.zeros(len(state), dtype=np.int64)
    periods_under = np.where(not_due_on | not_due_under, old_under, periods_under)
    periods_under = np.where(pending_review | propose | warn | under, n, periods_under)

    one_lower = cur + 1  # valid wherever a downgrade fires: below the current grade exists
    target = np.full(len(state), -1, dtype=np.intp)
    target = np.where(assign | upgrade, computed, target)
    target = np.where(step_down, one_lower, target)

    new = current.copy()
    new = np.where(pinned, override, new)
    new = np.where(lock & (current < 0), locked, new)
    new = np.where(assign | upgrade, computed, new)
    new = np.where(downgrade, one_lower, new)

    actions = pd.array([o.action for o in _OUTCOMES], dtype="str")
    rules = pd.array([o.rule for o in _OUTCOMES], dtype="str")
    return pd.DataFrame(
        {
            "action": actions.take(outcome),
            "old_grade": vocabulary.take(current, allow_fill=True),
            "new_grade": vocabulary.take(new, allow_fill=True),
            "target_grade": vocabulary.take(target, allow_fill=True),
            "periods_under": periods_under,
            "rule": rules.take(outcome),
            "under_target": under_target,
            "withdraw_proposal": pending & (upgrade | withdrawn),
        },
        index=state.index.copy(),
    )


def _count(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values).to_numpy(dtype=np.float64, na_value=0.0)


def _vocabulary(codes: tuple[str, ...], uniques: Iterable[pd.Index]) -> ExtensionArray:
    words = dict.fromkeys(codes)
    for values in uniques:
        words.update(dict.fromkeys(str(value) for value in values))
    return pd.array(list(words), dtype="str")


def _positions(codes: np.ndarray, uniques: pd.Index, vocabulary: ExtensionArray) -> np.ndarray:
    # Map each distinct value once, then broadcast through the factorized codes; the extra
    # trailing -1 makes the NA sentinel (-1) map to -1.
    lookup = pd.Index(vocabulary).get_indexer(pd.Index([str(value) for value in uniques]))
    positions: np.ndarray = np.append(lookup, -1).astype(np.intp)[codes]
    return positions


def _per_grade(values: Sequence[object], padding: int, pad: object, dtype: type) -> np.ndarray:
    return np.array([*values, *[pad] * padding], dtype=dtype)


def _check_positions(state: pd.DataFrame, bad: np.ndarray, problem: str) -> None:
    if bad.any():
        examples = state.index[bad][:5].tolist()
        raise ValueError(f"{problem} for {int(bad.sum())} customer(s), e.g. {examples}")
