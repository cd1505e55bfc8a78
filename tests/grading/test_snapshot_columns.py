"""The snapshot's score columns follow the ScoreSnapshot model: a run writes every column of
the model, each score from the scoring column of the same name."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grading.models import ScoreSnapshot
from grading.pipeline import extract, pgcopy, write
from grading.scoring import SCORE_COLUMNS
from grading.services.runs import grading_run_execute
from tests.grading.test_runs import AS_OF, _population


def test_score_columns_are_model_fields_that_scoring_computes():
    fields = {field.name for field in ScoreSnapshot._meta.concrete_fields}

    assert set(write.SNAPSHOT_SCORE_COLUMNS) <= fields
    # The scores, and the window's profit the extract adds to the facts (not a scoring input).
    assert set(write.SNAPSHOT_SCORE_COLUMNS) <= {
        *SCORE_COLUMNS,
        extract.WINDOW_PROFIT_CENTS,
        extract.UNKNOWN_PROFIT,
    }
    # Written from the load table's own columns instead: keys, money, grades, the decision.
    assert fields - set(write.SNAPSHOT_SCORE_COLUMNS) == {
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


@pytest.mark.django_db
def test_a_run_writes_every_column_of_the_snapshot_model(monkeypatch):
    _population()
    table = ScoreSnapshot._meta.db_table
    # On PostgreSQL a run's first write copies its snapshots into its own partition, named
    # after the table (`write._snapshots_copy`); elsewhere an INSERT ... SELECT writes them.
    copied: list[list[str]] = []
    copy_rows = pgcopy.copy_rows

    def spy(target, columns, **kwargs):
        if re.fullmatch(rf"{table}_r\d+", target):
            copied.append([column.name for column in columns])
        return copy_rows(target, columns, **kwargs)

    monkeypatch.setattr(pgcopy, "copy_rows", spy)

    with CaptureQueriesContext(connection) as queries:
        grading_run_execute(as_of=AS_OF)

    inserts = [
        re.match(r"[^(]*\(([^)]*)\)", q["sql"]).group(1).split(", ")
        for q in queries
        if re.match(rf"INSERT (OR IGNORE )?INTO {table}(_r\d+)? ", q["sql"])
    ]
    writes = inserts + copied
    assert len(writes) == 1
    assert bool(copied) == (connection.vendor == "postgresql")
    columns = [field.column for field in ScoreSnapshot._meta.concrete_fields]
    assert sorted(writes[0]) == sorted(set(columns) - {"id"})
