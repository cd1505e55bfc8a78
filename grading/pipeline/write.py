"""Write: one batch's grade states, then the history of what was applied.

Runs inside the caller's transaction; every statement is set-based and re-running a batch
inserts nothing twice (unique constraints + conflict-ignoring inserts). One temporary load
table holds a row per customer (scores, decision, target grade) and feeds every statement.
What differs between PostgreSQL and SQLite is the backend's (`grading.pipeline.backends`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, models

from grading.models import (
    PROPOSAL_WITHDRAWN_NOTES,
    GradeChange,
    GradeOverride,
    GradingRun,
    ScoreSnapshot,
)
from grading.pipeline import backends, partitions
from grading.pipeline.rules import SchemeRules
from grading.pipeline.tables import CHANGES, GRADE_STATES, OVERRIDES, SNAPSHOTS

# ------------------------------------------------------------------------ snapshot columns

#: ScoreSnapshot fields written from the load table's own columns (keys, money as cents,
#: grades, the decision); every other field is copied from the score column of its name.
_SNAPSHOT_OWN_FIELDS = frozenset(
    {
        "id",
        "run",
        "customer",
        "recency_days",
        "monetary",
        "first_half_amount",
        "second_half_amount",
        "computed_grade",
        "grade_before",
        "grade_after",
        "action",
        "rule",
        "periods_under",
    }
)


def _score_fields() -> tuple[models.Field[Any, Any], ...]:
    """ScoreSnapshot's fields copied from the score frame, in model order; each must be a
    text, float or integer field (how it travels through the load table)."""
    fields = tuple(
        field
        for field in ScoreSnapshot._meta.concrete_fields
        if field.name not in _SNAPSHOT_OWN_FIELDS
    )
    for field in fields:
        if not isinstance(field, models.CharField | models.FloatField | models.IntegerField):
            raise TypeError(f"ScoreSnapshot.{field.name}: no load-table type for {field!r}")
    return fields


_SCORE_FIELDS = _score_fields()
#: Score-frame columns copied into ScoreSnapshot (same names), from the model.
SNAPSHOT_SCORE_COLUMNS = tuple(field.name for field in _SCORE_FIELDS)
#: Text columns of the load table: they travel as 1-based codes (0 = missing).
_CODED_COLUMNS = frozenset(
    {field.name for field in _SCORE_FIELDS if isinstance(field, models.CharField)}
    | {"action", "rule"}
)
_FLOAT_COLUMNS = frozenset(
    field.name for field in _SCORE_FIELDS if isinstance(field, models.FloatField)
)
#: Nullable float scores travel as NaN and are stored as NULL.
_NULLABLE_FLOAT_COLUMNS = frozenset(
    field.name for field in _SCORE_FIELDS if field.name in _FLOAT_COLUMNS and field.null
)

_LOAD_TABLE = "tierhub_snapshot_load"

# ----------------------------------------------------------------------- guards and actions

#: The guard of every grade-state write of a run (docs/architecture.md, invariant 1): the customer
#: is not pinned, read from the row being updated. On PostgreSQL an UPDATE that waited for a
#: concurrent override re-checks its WHERE against the row's new version, which carries the pin
#: (`CustomerGrade.pinned`); a subquery on the override table would be re-read with the statement's
#: old snapshot instead. Tests replace it with "TRUE" to prove it matters.
PIN_GUARD = f"NOT {GRADE_STATES}.{GRADE_STATES.c.pinned}"

#: Actions whose state write is guarded (pin and old grade); a refused one did not happen.
_GUARDED_ACTIONS = ("upgrade", "downgrade", "propose_downgrade", "warn", "under_target", "keep")
_MOVES = ("upgrade", "downgrade")
#: What a refused decision is recorded as: the pin that stopped it, or a change made while
#: the run was writing (a review decision) that it left alone.
_REFUSED_OUTCOMES = (
    ("pinned", "override"),
    ("locked", "appeal_lock"),
    ("keep", "changed_during_run"),
)

#: load.state: 0 no state write needed, 1 write intended, 2 written (marked only when a write
#: was refused: `_states_write`).
_NO_WRITE, _INTENDED, _WRITTEN = 0, 1, 2


def write_results(
    *,
    run: GradingRun,
    scores: pd.DataFrame,
    decisions: pd.DataFrame,
    rules: SchemeRules,
    now: dt.datetime,
) -> dict[str, int]:
    """Write one batch's grade states, then the history of what was written; return counts.

    Runs inside the caller's transaction. Every statement is set-based; re-running the same
    batch inserts nothing twice (unique constraints + conflict-ignoring inserts).

    One temporary table holds a row per customer (scores, decision, target grade). The grade
    states are written first, by guarded statements whose RETURNING names the rows that
    were actually written (`_states_write`). A decision whose write was refused (the
    customer was pinned, or their grade changed, after the extract) is recorded as what
    happened instead (`_refused_record`). Snapshots, changes, audit rows and the returned
    counters are then all read from the table: history is what was applied, never what the
    run intended (docs/operations.md, "Pins and the audit trail").
    """
    if scores.empty:
        return {}
    if not decisions.index.equals(scores.index):
        decisions = decisions.reindex(scores.index)
    grade_ids = rules.grade_ids
    labels: dict[str, list[str]] = {}

    def coded(name: str, series: pd.Series, always: Sequence[str] = ()) -> np.ndarray:
        codes, uniques = pd.factorize(series)
        labels[name] = [str(value) for value in uniques]
        # Codes a refused decision may be rewritten to exist whatever this batch decided.
        labels[name] += [extra for extra in always if extra not in labels[name]]
        return (codes + 1).astype(np.int16)

    def grade_pks(series: pd.Series) -> np.ndarray:
        """Ladder grade ids of grade codes; -1 where missing or not in the ladder."""
        codes, uniques = pd.factorize(series)
        lookup = np.array([grade_ids.get(str(u), -1) for u in uniques] + [-1], dtype=np.int64)
        return lookup[codes]

    # The scores of the snapshots: in the load table, or copied straight into the run's new
    # partition (`fresh`), in which case the load table holds only what the statements read.
    score_columns: list[tuple[str, str, str]] = [
        ("recency_days", "bigint", "i8"),  # -1: never ordered
        ("monetary_cents", "bigint", "i8"),
        ("first_half_cents", "bigint", "i8"),
        ("second_half_cents", "bigint", "i8"),
    ]
    score_values: list[np.ndarray] = [
        scores["recency_days"].to_numpy(dtype=np.int64, na_value=-1),
        scores["monetary_cents"].to_numpy(dtype=np.int64),
        scores["first_half_cents"].to_numpy(dtype=np.int64),
        scores["second_half_cents"].to_numpy(dtype=np.int64),
    ]
    for name in SNAPSHOT_SCORE_COLUMNS:
        if name in _CODED_COLUMNS:
            score_columns.append((name, "smallint", "i2"))
            score_values.append(coded(name, scores[name]))
        elif name in _FLOAT_COLUMNS:
            score_columns.append((name, "double precision", "f8"))
            score_values.append(scores[name].to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            score_columns.append((name, "bigint", "i8"))
            score_values.append(scores[name].to_numpy(dtype=np.int64))
    columns: list[tuple[str, str, str]] = [("customer_id", "bigint", "i8")]
    values: list[np.ndarray] = [scores.index.to_numpy(dtype=np.int64)]
    computed = grade_pks(scores["grade"].astype("str"))
    after = grade_pks(decisions["new_grade"])
    # A pinned customer whose grade is not one of this ladder's keeps it (grade_after = pin).
    after = np.where(after < 0, computed, after)
    refused_actions = [action for action, _ in _REFUSED_OUTCOMES]
    refused_rules = [rule for _, rule in _REFUSED_OUTCOMES]
    columns += [
        ("computed_grade_id", "bigint", "i8"),
        ("grade_before_id", "bigint", "i8"),  # -1: none
        ("grade_after_id", "bigint", "i8"),
        ("target_grade_id", "bigint", "i8"),  # -1: no change
        ("action", "smallint", "i2"),
        ("rule", "smallint", "i2"),
        ("periods_under", "bigint", "i8"),
        ("state", "smallint", "i2"),
        ("withdraw", "smallint", "i2"),  # 1: the pending proposal is withdrawn (superseded)
    ]
    states = _state_writes(decisions)
    values += [
        computed,
        grade_pks(decisions["old_grade"]),
        after,
        grade_pks(decisions["target_grade"]),
        coded("action", decisions["action"], refused_actions),
        coded("rule", decisions["rule"], refused_rules),
        decisions["periods_under"].to_numpy(dtype=np.int64),
        states,
        _withdrawals(decisions),
    ]
    # Check the foreign keys left on the rows written here (their users' references, NULL
    # on a run's rows but queued all the same; customers are held by `customers_hold`)
    # statement by statement on PostgreSQL: a million of them run 2-3x faster at the end of
    # each statement than queued until the commit. Django declares every FK DEFERRABLE
    # INITIALLY DEFERRED, so the deferred mode at the end restores the transaction's default.
    backends.current().foreign_keys_immediate()
    # The run's own snapshot partition, made now when it has none (PostgreSQL): then no row
    # of this run was ever committed, so its changes go in without conflict handling, and
    # its snapshots are copied in from the arrays instead of through the load table.
    fresh = partitions.partition_fresh(run.pk)
    if fresh is None:
        columns += score_columns
        values += score_values
    _temp_load(_LOAD_TABLE, columns, values)
    vanished = backends.current().customers_hold(_LOAD_TABLE, len(scores))
    if fresh is not None:
        named = zip(
            [name for name, _, _ in columns + score_columns], values + score_values, strict=True
        )
        snapshots = _snapshots_copy(fresh, run=run, labels=labels, load=dict(named))

    intended = int(np.count_nonzero(states == _INTENDED))
    written = _states_write(run=run, labels=labels["action"], now=now, intended=intended)
    refused = intended - written
    if refused:
        _refused_record(labels=labels)
    if fresh is not None and (refused or vanished):
        snapshots -= _snapshots_amend(fresh, labels=labels, refused=refused, vanished=vanished)

    _history_write(
        run=run,
        labels=labels["action"],
        rule_labels=labels["rule"],
        now=now,
        first_write=fresh is not None,
    )
    # Last: a run's new partition is attached here, and the attach's lock on the snapshot
    # table is held until the commit (it blocks no reader, only another attach or detach).
    if fresh is None:
        snapshots = _snapshots_insert(run=run, labels=labels)
    else:
        partitions.partition_attach(run.pk)
    with connection.cursor() as cursor:
        if refused:
            cursor.execute(f"SELECT action, count(*) FROM {_LOAD_TABLE} GROUP BY action")
            actions = {labels["action"][code - 1]: n for code, n in cursor.fetchall()}
        else:
            actions = decisions["action"].value_counts().to_dict()
        cursor.execute(f"DROP TABLE IF EXISTS {_LOAD_TABLE}")
    backends.current().foreign_keys_deferred()
    counts = action_counts(actions)
    counts["scored"] = snapshots
    counts["refused"] = refused
    return counts


def action_counts(actions: dict[str, int]) -> dict[str, int]:
    """Return a run's counters from the number of customers per action (one mapping)."""
    get = lambda *names: int(sum(actions.get(name, 0) for name in names))  # noqa: E731
    return {
        "assigned": get("assign"),
        "upgraded": get("upgrade"),
        "warned": get("warn"),
        "downgrade_proposals": get("propose_downgrade"),
        "downgraded": get("downgrade"),
        "pinned": get("pinned", "locked"),
        "unchanged": get("keep", "under_target"),
    }


def _withdrawals(decisions: pd.DataFrame) -> np.ndarray:
    """Return, per customer, 1 where the policy withdraws their pending proposal.

    Without the policy's `withdraw_proposal` column, an upgrade withdraws it.
    """
    flag = decisions.get("withdraw_proposal")
    if flag is None:
        flag = decisions["action"].astype("str") == "upgrade"
    return flag.fillna(False).to_numpy(dtype=bool).astype(np.int16)


def _state_writes(decisions: pd.DataFrame) -> np.ndarray:
    """Return, per customer, whether the run intends to write its grade state (`load.state`).

    Assignments and every guarded action do, except a keep that leaves the counter as it
    was (most customers: their rows are not rewritten); pins write only a counter that moved.
    Without the counter before the run (`periods_under_before`, added by `decide`), every
    row is written, which is correct, only slower.
    """
    action = decisions["action"].astype("str")
    before = decisions.get("periods_under_before")
    moved = (
        decisions["periods_under"].to_numpy(dtype=np.int64)
        != before.fillna(-1).to_numpy(dtype=np.int64)
        if before is not None
        else np.ones(len(decisions), dtype=bool)
    )
    keep = action.isin(["keep", "pinned", "locked"]).to_numpy()
    write = action.isin(["assign", *_GUARDED_ACTIONS, "pinned", "locked"]).to_numpy()
    write = write & (~keep | moved)
    return np.where(write, _INTENDED, _NO_WRITE).astype(np.int16)


# ---------------------------------------------------------------------------- SQL helpers


def _temp_load(
    table: str, columns: Sequence[tuple[str, str, str]], values: Sequence[np.ndarray]
) -> None:
    """Create a temporary table (name, SQL type, numpy kind) and load aligned arrays into it.

    The backend fills it (PostgreSQL: one binary COPY; elsewhere executemany) and analyses
    the columns the statements join and filter on.
    """
    column_sql = ", ".join(f"{name} {sqltype}" for name, sqltype, _ in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} ({column_sql})")
    backends.current().load(
        table,
        [(name, kind) for name, _, kind in columns],
        values,
        analyze=("customer_id", "action"),
    )


def _insert_ignore(
    table: str, columns: Sequence[str], select_sql: str, params: Sequence[Any]
) -> int:
    """INSERT ... SELECT that skips rows violating a unique constraint; return rows inserted."""
    with connection.cursor() as cursor:
        cursor.execute(backends.current().insert_ignore_sql(table, columns, select_sql), params)
        return max(cursor.rowcount, 0)


def _code_in(
    column: str, labels: Sequence[str], wanted: Iterable[str], *, negate: bool = False
) -> str:
    """Return an SQL test of a code column against the codes of `wanted` labels (inlined ints)."""
    codes = [str(code) for code, label in enumerate(labels, start=1) if label in set(wanted)]
    if not codes:
        return "TRUE" if negate else "FALSE"
    return f"{column} {'NOT IN' if negate else 'IN'} ({', '.join(codes)})"


# ------------------------------------------------------------------------------ the writes


def _states_write(
    *, run: GradingRun, labels: Sequence[str], now: dt.datetime, intended: int
) -> int:
    """Write the intended grade states and mark the rows written; return how many.

    First grades are inserted where no state row exists yet (one created since the extract,
    by an override, wins). Every other intended row is one guarded UPDATE: the customer is
    not pinned (`PIN_GUARD`) and still has the grade the run decided from; a pin or lock
    only resets its counter. RETURNING names the rows written, which the backend marks in
    the load table when fewer than the `intended` rows were written: the marks tell
    `_refused_record` the refused ones, and nothing reads them otherwise (on PostgreSQL the
    load table is then left as it is).
    """
    g, s = GRADE_STATES, GRADE_STATES.c
    moves = _code_in("l.action", labels, _MOVES)
    pins = _code_in("l.action", labels, ["pinned", "locked"])
    assign = _code_in("action", labels, ["assign"])
    insert = backends.current().insert_ignore_sql(
        str(g),
        [s.customer, s.grade, s.since, s.periods_under, s.last_run, s.updated_at, s.pinned],
        f"SELECT customer_id, target_grade_id, %s, 0, %s, %s, FALSE FROM {_LOAD_TABLE}"
        f" WHERE state = {_INTENDED} AND {assign}",
    )
    update = (
        f"UPDATE {g} SET"
        f" {s.grade} = CASE WHEN {moves} THEN l.target_grade_id"
        f"   ELSE {g}.{s.grade} END,"
        f" {s.since} = CASE WHEN {moves} THEN %s ELSE {g}.{s.since} END,"
        f" {s.updated_at} = CASE WHEN {moves} THEN %s ELSE {g}.{s.updated_at} END,"
        f" {s.periods_under} = CASE WHEN {moves} THEN 0 ELSE l.periods_under END,"
        f" {s.last_run} = %s"
        f" FROM {_LOAD_TABLE} l"
        f" WHERE {g}.{s.customer} = l.customer_id"
        f" AND l.state = {_INTENDED} AND NOT ({_code_in('l.action', labels, ['assign'])})"
        f" AND ({pins} OR ({PIN_GUARD}"
        f"   AND {g}.{s.grade} = l.grade_before_id))"
    )
    return backends.current().returned_mark(
        [
            (f"{insert} RETURNING {s.customer}", [now, run.pk, now]),
            (f"{update} RETURNING {g}.{s.customer}", [now, now, run.pk]),
        ],
        table=_LOAD_TABLE,
        assignment=f"state = {_WRITTEN}",
        expected=intended,
    )


def _refused_record(*, labels: dict[str, list[str]]) -> None:
    """Rewrite the decisions whose state write was refused as what happened instead.

    Such a customer keeps the grade and counter their state row has now: "pinned" or
    "locked" when an override or appeal lock is active on them, else "keep" (their grade was
    changed by someone else while the run was writing). No change, audit row or counter
    comes from it.
    """
    action = labels["action"]
    rule = labels["rule"]
    code = {name: action.index(name) + 1 for name, _ in _REFUSED_OUTCOMES}
    rule_code = {name: rule.index(name) + 1 for _, name in _REFUSED_OUTCOMES}
    manual, appeal = GradeOverride.Source.MANUAL, GradeOverride.Source.APPEAL
    s, o = GRADE_STATES.c, OVERRIDES.c
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_LOAD_TABLE} SET"
            f" action = CASE o.{o.source} WHEN %s THEN {code['pinned']}"
            f"  WHEN %s THEN {code['locked']} ELSE {code['keep']} END,"
            f" rule = CASE o.{o.source} WHEN %s THEN {rule_code['override']}"
            f"  WHEN %s THEN {rule_code['appeal_lock']} ELSE {rule_code['changed_during_run']} END,"
            f" grade_after_id = cg.{s.grade}, target_grade_id = -1, withdraw = 0,"
            f" periods_under = cg.{s.periods_under}"
            f" FROM {GRADE_STATES} cg LEFT JOIN {OVERRIDES} o"
            f"  ON o.{o.customer} = cg.{s.customer} AND o.{o.ended_at} IS NULL"
            f" WHERE cg.{s.customer} = {_LOAD_TABLE}.customer_id"
            f" AND {_LOAD_TABLE}.state = {_INTENDED}",
            [manual, appeal, manual, appeal],
        )


def _snapshots_insert(*, run: GradingRun, labels: dict[str, list[str]]) -> int:
    """Insert the batch's snapshots from the load table through the snapshot table, skipping
    those already written; return how many were new.

    For a run whose rows go through the table: SQLite, a sharded run's shards, a resumed run.
    A single-process run's first write on PostgreSQL copies them into its new partition
    instead (`_snapshots_copy`).
    """
    decode = backends.current().decode
    select: list[str] = ["%s", "customer_id", "NULLIF(recency_days, -1)"]
    params: list[Any] = [run.pk]
    select += [
        f"{cents} / 100.0" for cents in ("monetary_cents", "first_half_cents", "second_half_cents")
    ]
    for name in SNAPSHOT_SCORE_COLUMNS:
        if name in _CODED_COLUMNS:
            sql, extra = decode(name, labels[name])
            select.append(sql)
            params += extra
        else:
            select.append(f"NULLIF({name}, 'NaN')" if name in _NULLABLE_FLOAT_COLUMNS else name)
    select += ["computed_grade_id", "NULLIF(grade_before_id, -1)", "grade_after_id"]
    for name in ("action", "rule"):
        sql, extra = decode(name, labels[name])
        select.append(sql)
        params += extra
    select.append("periods_under")
    c = SNAPSHOTS.c
    columns = [
        c.run,
        c.customer,
        c.recency_days,
        c.monetary,
        c.first_half_amount,
        c.second_half_amount,
        *(c[name] for name in SNAPSHOT_SCORE_COLUMNS),
        c.computed_grade,
        c.grade_before,
        c.grade_after,
        c.action,
        c.rule,
        c.periods_under,
    ]
    select_sql = f"SELECT {', '.join(select)} FROM {_LOAD_TABLE}"
    return _insert_ignore(str(SNAPSHOTS), columns, select_sql, params)


#: `pgcopy.CopyColumn.kind` of a snapshot score field, by its Django type.
_COPY_KINDS = {
    "CharField": "text",
    "FloatField": "float8",
    "SmallIntegerField": "int2",
    "PositiveSmallIntegerField": "int2",
    "IntegerField": "int4",
    "PositiveIntegerField": "int4",
    "BigIntegerField": "int8",
    "PositiveBigIntegerField": "int8",
}


def _snapshots_copy(
    table: str, *, run: GradingRun, labels: dict[str, list[str]], load: dict[str, np.ndarray]
) -> int:
    """Copy the batch's snapshots, as decided, into the run's new partition `table`; return
    how many.

    One binary COPY from the arrays the load table was made of (`load`, by load-table
    column): the same values `_snapshots_insert` would select from it, without writing them
    to the load table and reading them back (a third of a million-customer run's write).
    The rows are those the run intended; `_snapshots_amend` makes them what happened when
    some write was refused or some customer vanished. The new table has no index and no
    other reader: the partition is indexed and attached once it is complete
    (`grading.pipeline.partitions`).
    """
    from grading.pipeline.pgcopy import CopyColumn, copy_rows

    c = SNAPSHOTS.c
    customers = load["customer_id"]
    recency = load["recency_days"]
    columns = [
        CopyColumn(c.run, "int8", np.full(len(customers), run.pk, dtype=np.int64)),
        CopyColumn(c.customer, "int8", customers),
        CopyColumn(c.recency_days, "int4", recency, null=recency == -1),
        CopyColumn(c.monetary, "numeric", load["monetary_cents"], scale=2),
        CopyColumn(c.first_half_amount, "numeric", load["first_half_cents"], scale=2),
        CopyColumn(c.second_half_amount, "numeric", load["second_half_cents"], scale=2),
    ]
    for field in _SCORE_FIELDS:
        kind = _COPY_KINDS[field.get_internal_type()]
        array = load[field.name]
        null = np.isnan(array) if field.name in _NULLABLE_FLOAT_COLUMNS else None
        columns.append(
            CopyColumn(c[field.name], kind, array, null=null, labels=labels.get(field.name, ()))
        )
    before = load["grade_before_id"]
    columns += [
        CopyColumn(c.computed_grade, "int8", load["computed_grade_id"]),
        CopyColumn(c.grade_before, "int8", before, null=before == -1),
        CopyColumn(c.grade_after, "int8", load["grade_after_id"]),
        CopyColumn(c.action, "text", load["action"], labels=labels["action"]),
        CopyColumn(c.rule, "text", load["rule"], labels=labels["rule"]),
        CopyColumn(c.periods_under, "int2", load["periods_under"]),
    ]
    return copy_rows(table, columns)


def _snapshots_amend(
    table: str, *, labels: dict[str, list[str]], refused: int, vanished: int
) -> int:
    """Make the snapshots `_snapshots_copy` wrote what happened; return how many went.

    A refused decision's row takes what `_refused_record` wrote in the load table (action,
    rule, grade after, counter); a customer deleted since the extract (no longer in the load
    table, `customers_hold`) loses its row. Both are rare: the run's new table is read in full
    once per case, unindexed.
    """
    decode = backends.current().decode
    c = SNAPSHOTS.c
    gone = 0
    with connection.cursor() as cursor:
        if refused:
            action_sql, action_params = decode("l.action", labels["action"])
            rule_sql, rule_params = decode("l.rule", labels["rule"])
            cursor.execute(
                f"UPDATE {table} SET {c.action} = {action_sql}, {c.rule} = {rule_sql},"
                f" {c.grade_after} = l.grade_after_id, {c.periods_under} = l.periods_under"
                f" FROM {_LOAD_TABLE} l WHERE {table}.{c.customer} = l.customer_id"
                f" AND l.state = {_INTENDED}",
                [*action_params, *rule_params],
            )
        if vanished:
            cursor.execute(
                f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM {_LOAD_TABLE} l"
                f" WHERE l.customer_id = {table}.{c.customer})"
            )
            gone = max(cursor.rowcount, 0)
    return gone


CHANGE_ACTIONS = {
    "assign": (GradeChange.Direction.ASSIGN, GradeChange.Status.APPLIED),
    "upgrade": (GradeChange.Direction.UP, GradeChange.Status.APPLIED),
    "downgrade": (GradeChange.Direction.DOWN, GradeChange.Status.APPLIED),
    "propose_downgrade": (GradeChange.Direction.DOWN, GradeChange.Status.PROPOSED),
}


def _history_write(
    *,
    run: GradingRun,
    labels: Sequence[str],
    rule_labels: Sequence[str],
    now: dt.datetime,
    first_write: bool,
) -> None:
    """Write the batch's changes and their audit rows, after `_states_write`.

    Reads the load table (action and rule as codes of `labels` and `rule_labels`), where a
    change action is left only on rows whose state write happened: an applied change has
    exactly one audit row, and an upgrade supersedes a proposal only when it was applied.
    `first_write`: no row of this run can exist yet (its snapshot partition was made by this
    transaction), so the backend may insert without skipping conflicts.
    """
    decode = backends.current().decode
    is_change = _code_in("action", labels, CHANGE_ACTIONS)
    direction_sql, direction_params = decode(
        "action", [str(CHANGE_ACTIONS[a][0]) if a in CHANGE_ACTIONS else "" for a in labels]
    )
    status_sql, status_params = decode(
        "action", [str(CHANGE_ACTIONS[a][1]) if a in CHANGE_ACTIONS else "" for a in labels]
    )
    rule_sql, rule_params = decode("rule", rule_labels)
    c = CHANGES.c
    change_columns = [
        c.customer,
        c.run,
        c.from_grade,
        c.to_grade,
        c.direction,
        c.status,
        c.source,
        c.rule,
        c.reason,
        c.created_at,
        c.decision_note,
    ]
    change_select = (
        f"SELECT customer_id, %s, NULLIF(grade_before_id, -1), target_grade_id, {direction_sql},"
        f" {status_sql}, %s, {rule_sql}, %s, %s, '' FROM {_LOAD_TABLE} WHERE {is_change}"
    )
    change_params = [
        run.pk,
        *direction_params,
        *status_params,
        "run",
        *rule_params,
        # No prose: the reason of a run's change is written from its run when shown, in the
        # reader's language (`GradeChange.reason_text`).
        "",
        now,
    ]
    with connection.cursor() as cursor:
        # A pending downgrade proposal is withdrawn (superseded, with the reason) by an
        # applied upgrade or by a review on target (policy's withdraw_proposal); a refused
        # decision withdraws nothing (`_refused_record` clears the flag).
        for rule, note in PROPOSAL_WITHDRAWN_NOTES.items():
            if rule not in rule_labels:
                continue
            cursor.execute(
                f"UPDATE {CHANGES} SET {c.status} = %s, {c.decided_at} = %s,"
                f" {c.decision_note} = %s WHERE {c.status} = %s AND {c.customer} IN"
                f" (SELECT customer_id FROM {_LOAD_TABLE} WHERE withdraw = 1"
                f"  AND {_code_in('rule', rule_labels, [rule])})",
                [
                    GradeChange.Status.SUPERSEDED,
                    now,
                    str(note) % {"as_of": f"{run.as_of:%Y-%m-%d}"},
                    GradeChange.Status.PROPOSED,
                ],
            )
    backends.current().changes_insert(
        change_columns,
        change_select,
        change_params,
        run_id=run.pk,
        now=now,
        first_write=first_write,
    )
