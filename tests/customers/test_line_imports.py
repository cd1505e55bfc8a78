"""Sales-line imports as Celery tasks (issue #18): the record's status, progress and outcome.

Runs on SQLite and PostgreSQL; the progress seen from another connection while the import is
still running is PostgreSQL's (SQLite writes it in the import's own transaction).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction

from common.exceptions import DomainError
from customers.models import LineImport, Order
from customers.services import line_imports, lines
from customers.services.line_imports import (
    line_import_confirm,
    line_import_run,
    line_import_start,
    upload_folder,
)
from customers.tasks import import_order_lines_task
from tests.customers.factories import CustomerFactory

ROWS = [
    "order_no,customer_code,placed_at,quantity,unit_price,category",
    "A1,C1,2025-03-01 09:00,2,1.50,tea",
    "A1,C1,2025-03-01 09:01,1,0.335,cups",
    "A2,C1,2025-03-02 10:00,1,10,tea",
    "A3,,2025-03-02 10:00,1,10,tea",
    "R1,C1,2025-03-05 10:00,-1,10,tea",
    "A4,C2,2025-03-06 11:00,4,2.25,",
]


def _stored(settings, tmp_path: Path, rows: list[str] = ROWS) -> Path:
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path)
    stored = upload_folder() / "0123456789abcdef0123456789abcdef.csv"
    stored.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return stored


@contextmanager
def _eager() -> Iterator[mock.MagicMock]:
    """Queue on commit = run now, through Celery's own eager `apply`."""
    with (
        mock.patch(
            "customers.tasks.import_order_lines_task.delay",
            side_effect=lambda pk: import_order_lines_task.apply(args=[pk]),
        ) as delay,
        mock.patch.object(transaction, "on_commit", lambda callback, *a, **k: callback()),
    ):
        yield delay


@pytest.mark.django_db
def test_the_task_runs_the_dry_run_then_the_confirmed_import(settings, tmp_path, ops):
    stored = _stored(settings, tmp_path)
    CustomerFactory(code="C1")
    CustomerFactory(code="C2")

    with _eager() as delay:
        dry = line_import_start(
            stored=stored,
            filename="march.csv",
            options={"mapping": "", "return_prefix": None, "create_missing_customers": False},
            by=ops,
        )
    delay.assert_called_once_with(dry.pk)
    dry.refresh_from_db()
    assert (dry.status, dry.phase, dry.dry_run) == ("succeeded", "done", True)
    assert (dry.lines_total, dry.lines_done) == (6, 6)  # the file's lines, all read
    assert dry.started_at <= dry.finished_at
    quality = dict(dry.quality)
    assert (quality["lines_read"], quality["documents"], quality["returns"]) == ("6", "3", "1")
    assert quality["anonymous_lines"] == "1"
    assert (dry.created, dry.updated) == (3, 0)
    assert not Order.objects.exists()
    assert stored.exists()  # waiting for the confirm

    with _eager():
        real = line_import_confirm(preview=dry, by=ops)
    real.refresh_from_db()
    assert (real.status, real.dry_run, real.lines_done, real.created) == ("succeeded", False, 6, 3)
    assert dict(real.quality) == quality
    assert Order.objects.count() == 3
    assert not stored.exists()
    dry.refresh_from_db()
    assert dry.stored_name == ""
    with pytest.raises(DomainError, match="already imported"):
        line_import_confirm(preview=dry, by=ops)


@pytest.mark.django_db
def test_a_rejected_file_keeps_its_errors_and_loses_its_upload(settings, tmp_path, ops):
    stored = _stored(settings, tmp_path, [*ROWS, "A5,C1,2025-03-07,x,1,tea"])
    CustomerFactory(code="C1")
    CustomerFactory(code="C2")

    with _eager():
        record = line_import_start(
            stored=stored, filename="bad.csv", options={"mapping": ""}, by=ops
        )
    record.refresh_from_db()

    assert (record.status, record.error_count, record.lines_done) == ("rejected", 1, 7)
    assert record.errors == [[8, "quantity", "'x' is not a decimal number"]]
    assert (record.stored_name, stored.exists()) == ("", False)
    with pytest.raises(DomainError, match="Only your own dry run that found no errors"):
        line_import_confirm(preview=record, by=ops)


@pytest.mark.django_db
def test_a_redelivered_task_leaves_a_started_import_alone(settings, tmp_path, ops):
    stored = _stored(settings, tmp_path)
    record = LineImport.objects.create(filename="x.csv", stored_name=stored.name, created_by=ops)
    LineImport.objects.filter(pk=record.pk).update(status="running", lines_done=3)

    result = import_order_lines_task.apply(args=[record.pk]).get()

    assert result == {"import": record.pk, "status": "running"}
    record.refresh_from_db()
    assert record.lines_done == 3
    assert stored.exists()


@pytest.mark.django_db
def test_an_upload_that_is_gone_fails_the_import_with_a_reason(settings, tmp_path, ops):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path)
    record = LineImport.objects.create(
        filename="x.csv", stored_name="0123456789abcdef0123456789abcdef.csv", created_by=ops
    )

    record = line_import_run(import_id=record.pk)

    assert (record.status, record.phase) == ("failed", "done")
    assert record.note == "The uploaded file has expired; upload it again."


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_progress_is_seen_from_another_connection_while_the_import_runs(
    settings, tmp_path, ops, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite records the progress in the import's own transaction")
    stored = _stored(settings, tmp_path)
    CustomerFactory(code="C1")
    CustomerFactory(code="C2")
    record = LineImport.objects.create(
        filename="march.csv", stored_name=stored.name, created_by=ops, dry_run=False
    )
    monkeypatch.setattr(lines, "CHUNK_ROWS", 2)
    seen: list[tuple[str, int, int | None]] = []
    reader = connections.create_connection(DEFAULT_DB_ALIAS)
    original = line_imports._Recorder.write

    def write_and_look(self, **values):
        original(self, **values)
        with reader.cursor() as cursor:
            cursor.execute(
                "SELECT phase, lines_done, lines_total FROM customers_lineimport WHERE id = %s",
                [record.pk],
            )
            seen.append(cursor.fetchone())

    monkeypatch.setattr(line_imports._Recorder, "write", write_and_look)
    try:
        line_import_run(import_id=record.pk)
    finally:
        reader.close()

    assert seen == [
        ("waiting", 0, 6),
        ("reading", 0, 6),
        ("reading", 2, 6),
        ("reading", 4, 6),
        ("reading", 6, 6),
        ("documents", 6, 6),
        ("refunds", 6, 6),
    ]
    record.refresh_from_db()
    assert (record.status, record.phase, record.lines_done) == ("succeeded", "done", 6)
    assert Order.objects.count() == 3


@pytest.mark.django_db
def test_a_failed_line_copy_fails_the_import_and_writes_nothing(settings, tmp_path, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the lines are written in a thread of their own on PostgreSQL only")
    stored = _stored(settings, tmp_path)
    CustomerFactory(code="C1")
    CustomerFactory(code="C2")
    monkeypatch.setattr(lines, "CHUNK_ROWS", 2)
    original = lines._LineWriter._copy
    calls: list[int] = []

    def copy_then_fail(self, new_documents, text):
        calls.append(len(text))
        if len(calls) == 2:
            raise psycopg.errors.UniqueViolation("a concurrent import wrote these lines")
        original(self, new_documents, text)

    monkeypatch.setattr(lines._LineWriter, "_copy", copy_then_fail)

    with pytest.raises(DatabaseError, match="a concurrent import"):
        lines.order_lines_import(source=stored, filename="march.csv")

    assert len(calls) >= 2
    assert not Order.objects.exists()
    assert not lines.SalesLine.objects.exists()
