"""Decide what a grading run does to each customer's grade.

Pure domain code: no Django, no ORM, no settings, no clock. The engine passes in the grade
ladder, the run context (which review cadences are due) and one row of state per customer;
``decide`` returns one decision per customer. Writing the decisions is the engine's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal, NamedTuple

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

__all__ = [
    "ACTIONS",
    "CADENCES",
    "OUTPUT_COLUMNS",
    "RULES",
    "STATE_COLUMNS",
    "Cadence",
    "GradePolicy",
    "Ladder",
    "RunContext",
    "cadences_due",
    "decide",
]

Cadence = Literal["monthly", "quarterly"]
CADENCES: Final[tuple[str, ...]] = ("monthly", "quarterly")

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
    _Outcome("keep", "same_grade"),
    _Outcome("keep", "within_hysteresis"),
    _Outcome("keep", "cadence_not_due"),
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
    _SAME,
    _HYSTERESIS,
    _NOT_DUE,
    _PENDING,
    _PROPOSE,
    _DOWNGRADE,
    _WARN,
    _UNDER,
) = range(len(_OUTCOMES))

RULES: Final[tuple[str, ...]] = tuple(dict.fromkeys(outcome.rule for outcome in _OUTCOMES))


@dataclass(frozen=True, slots=True)
class GradePolicy:
    """Describe one grade of the ladder and the rules that move customers out of it.

    ``rank``: higher is better. ``min_score``: the composite (0..100) that earns the grade.
    ``hysteresis``: composite points below ``min_score`` that still keep the grade.
    ``cadence``: how often a downgrade out of this grade is evaluated. ``warn_after`` /
    ``downgrade_after``: consecutive evaluated periods under target before a warning / a
    one-step downgrade (``warn_after=0`` never warns). ``downgrade_needs_review``: a downgrade
    is only proposed and waits for a reviewer instead of being applied.
    """

    code: str
    rank: int
    min_score: float
    hysteresis: float = 0.0
    cadence: Cadence = "monthly"
    warn_after: int = 1
    downgrade_after: int = 2
    downgrade_needs_review: bool = True


@dataclass(frozen=True, slots=True)
class Ladder:
    """Hold a scheme's grades, ordered from the highest rank to the lowest.

    Build it from any iterable of ``GradePolicy``; raise ``ValueError`` naming every problem
    when codes or ranks repeat, the ladder is empty, or a grade's cadence, hysteresis or
    warn/downgrade counts are invalid.
    """

    grades: tuple[GradePolicy, ...]
    _positions: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grades = tuple(self.grades)
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
        if grade.warn_after > grade.downgrade_after:
            problems.append(
                f"{name}: warn_after ({grade.warn_after}) must be <= "
                f"downgrade_after ({grade.downgrade_after})"
            )
    if problems:
        raise ValueError("invalid grade ladder: " + "; ".join(problems))


def cadences_due(as_of: date) -> frozenset[str]:
    """Return the review cadences a run dated ``as_of`` evaluates downgrades for.

    Convention: ``as_of`` is the first day AFTER the evaluated period, so the run for March
    is dated April 1 and the run for the first quarter is also dated April 1. "monthly" is
    always due; "quarterly" is due too when ``as_of`` is January, April, July or October 1.
    """
    if as_of.day == 1 and as_of.month in _QUARTER_START_MONTHS:
        return frozenset({"monthly", "quarterly"})
    return frozenset({"monthly"})


@dataclass(frozen=True, slots=True)
class RunContext:
    """Describe the run: which review cadences evaluate downgrades in it.

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
    computed_grade (ladder code from scoring), composite (0..100), current_grade (NA = never
    graded), periods_under (consecutive evaluated periods under target; NA = 0),
    override_grade / locked_grade (NA = none active), pending_downgrade (NA = False). Extra
    columns are ignored; the input is never modified.

    The result is indexed like ``state`` with the columns of ``OUTPUT_COLUMNS``: action (one
    of ``ACTIONS``), old_grade (= current_grade), new_grade (the grade after this run if the
    decision is applied; a proposal leaves the old grade), target_grade (where a change goes:
    set for assign / upgrade / propose_downgrade / downgrade, NA otherwise), periods_under
    (the new counter to store, int64) and rule (the rule that fired). Text columns use the
    pandas ``str`` dtype with NaN for missing.

    Rules, first match wins ("cur" is the current grade's policy, n = periods_under + 1):

    ===  =====================================  =================  ==============  =================
    #    condition                              action             periods_under   rule
    ===  =====================================  =================  ==============  =================
    1    override_grade set                     pinned (new =      0               override
                                                override_grade)
    2    locked_grade set                       locked (new =      0               appeal_lock
                                                current, else
                                                locked_grade)
    3    current_grade NA                       assign computed    0               first_grading
    4    computed rank > current rank           upgrade to         0               score_above_grade
                                                computed (any
                                                number of steps)
    5    computed == current                    keep               0               same_grade
    6a   computed lower, cur.min_score -        keep               0               within_hysteresis
         cur.hysteresis <= composite <
         cur.min_score (a gate failure with a
         composite above the floor is not
         forgiven)
    6b   cur.cadence not in due_cadences        keep               unchanged       cadence_not_due
    6c   pending_downgrade                      keep               n               pending_review
    6d   n >= cur.downgrade_after               propose_downgrade  n               downgrade_after
         and cur.downgrade_needs_review         one step down
    6d   n >= cur.downgrade_after               downgrade one      0               downgrade_after
                                                step down
    6e   cur.warn_after > 0, n >= warn_after    warn               n               warn_after
    6f   otherwise                              under_target       n               under_target
    ===  =====================================  =================  ==============  =================

    An upgrade supersedes a pending downgrade: rows with action "upgrade" and
    pending_downgrade True are the proposals the engine withdraws. A downgrade moves exactly
    one step, which is never below the computed grade. The hysteresis bound is inclusive
    (composite exactly at ``min_score - hysteresis`` keeps the grade); a missing composite
    counts as outside the band, so the computed grade decides.

    Raise ``ValueError`` when a column is missing, periods_under is negative, a
    computed_grade is missing or not a ladder code, or a customer that rules 4-6 apply to has
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
    ceiling = _per_grade([g.min_score for g in grades], padding, np.inf, float)
    due = _per_grade([g.cadence in context.due_cadences for g in grades], padding, False, bool)
    warn_after = _per_grade([g.warn_after for g in grades], padding, 0, np.int64)
    down_after = _per_grade([g.downgrade_after for g in grades], padding, 1, np.int64)
    review = _per_grade([g.downgrade_needs_review for g in grades], padding, True, bool)

    cur = np.where(graded, current, 0)  # a safe index for rows that never read it
    n = old_under + 1
    upgrade = graded & (rank[computed] > rank[cur])
    same = graded & (computed == cur)
    below = graded & (rank[computed] < rank[cur])
    # Hysteresis only forgives a score just under the floor; a composite at or above it with a
    # lower computed grade failed a hard gate (e.g. minimum spend) and counts as under target.
    within = below & (composite >= floor[cur]) & (composite < ceiling[cur])
    evaluated = below & ~within & due[cur]
    not_due = below & ~within & ~due[cur]
    pending_review = evaluated & pending
    counting = evaluated & ~pending
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
        (same, _SAME),
        (within, _HYSTERESIS),
        (not_due, _NOT_DUE),
        (pending_review, _PENDING),
        (propose, _PROPOSE),
        (downgrade, _DOWNGRADE),
        (warn, _WARN),
        (under, _UNDER),
    )
    outcome = np.select([mask for mask, _ in decided], [code for _, code in decided], default=-1)

    periods_under = np.zeros(len(state), dtype=np.int64)
    periods_under = np.where(not_due, old_under, periods_under)
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
        },
        index=state.index.copy(),
    )


def _vocabulary(codes: tuple[str, ...], uniques: Iterable[pd.Index]) -> ExtensionArray:
    words = dict.fromkeys(codes)
    for values in uniques:
        words.update(dict.fromkeys(str(value) for value in values))
    return pd.array(list(words), dtype="str")


def _positions(codes: np.ndarray, uniques: pd.Index, vocabulary: ExtensionArray) -> np.ndarray:
    # Map each distinct value once, then broadcast through the factorized codes; the extra
    # trailing -1 makes the NA sentinel (-1) map to -1.
    lookup = pd.Index(vocabulary).get_indexer([str(value) for value in uniques])
    return np.append(lookup, -1).astype(np.intp)[codes]


def _per_grade(values: Sequence[object], padding: int, pad: object, dtype: type) -> np.ndarray:
    return np.array([*values, *[pad] * padding], dtype=dtype)


def _check_positions(state: pd.DataFrame, bad: np.ndarray, problem: str) -> None:
    if bad.any():
        examples = state.index[bad][:5].tolist()
        raise ValueError(f"{problem} for {int(bad.sum())} customer(s), e.g. {examples}")
