"""Sales-line imports started in the admin: a `LineImport` record, run by a Celery task.

See docs/importing-sales-lines.md ("In the admin"). The admin page stores the upload and calls
`line_import_start` (a dry run); the task `customers.import_order_lines` calls
`line_import_run`, which runs `order_lines_import` and records on the record, while it works,
its phase and the lines read so far; the page polls `line_import_state`. A finished dry run
without errors is confirmed with `line_import_confirm`: a second record, the real import of
the same file.

The import itself is one transaction (all rows or none), so the progress cannot be written in
it: on PostgreSQL it goes through a second connection of its own, committed at once, which the
page reads while the import is still running. On SQLite (development and tests) it is written
in the import's transaction and seen when the import ends.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from common.durations import duration_display
from common.exceptions import DomainError
from customers.exceptions import ImportRejected
from customers.models import LineImport, SourceMapping
from customers.services.lines import LineImportReport, order_lines_import
from customers.tabular import table_format

logger = logging.getLogger(__name__)

#: Errors kept on the record (and listed on its page); `error_count` has the total.
ERRORS_KEPT = 200


def upload_folder() -> Path:
    """The private folder of uploads waiting for an import (the admin stores them there)."""
    folder = Path(settings.PRIVATE_MEDIA_ROOT) / "imports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def line_import_start(
    *,
    stored: Path,
    filename: str,
    options: dict[str, Any],
    by: User | None,
    dry_run: bool = True,
) -> LineImport:
    """Record an import of the upload `stored` (in `upload_folder()`) and queue its task.

    `options`: `mapping` (a saved mapping's name or ""), `return_prefix` (or None),
    `create_missing_customers`; the task reads them in the language active now.
    """
    from customers.tasks import import_order_lines_task

    record = LineImport.objects.create(
        filename=filename[:255],
        stored_name=stored.name,
        dry_run=dry_run,
        options={**options, "language": translation.get_language() or settings.LANGUAGE_CODE},
        created_by=by if by is not None and by.pk else None,
    )
    record_id = record.pk
    transaction.on_commit(lambda: import_order_lines_task.delay(record_id))
    return record


def line_import_confirm(*, preview: LineImport, by: User) -> LineImport:
    """Import for real the file of `preview`, a finished dry run without errors, by `by`.

    The upload is claimed atomically, so two confirms of one preview start one import.
    Raises DomainError when the preview is not one that can be confirmed, or was already.
    """
    if (
        not preview.dry_run
        or preview.status != LineImport.Status.SUCCEEDED
        or preview.created_by_id != by.pk
    ):
        raise DomainError(_("Only your own dry run that found no errors can be imported."))
    with transaction.atomic():
        claimed = LineImport.objects.filter(pk=preview.pk, stored_name=preview.stored_name).exclude(
            stored_name=""
        )
        if not claimed.update(stored_name=""):
            raise DomainError(
                _("This dry run was already imported or has expired; upload the file again.")
            )
        stored = upload_folder() / preview.stored_name
        if not stored.exists():
            raise DomainError(_("This dry run has expired; upload the file again."))
        # A fresh time stamp: the admin's sweep of unconfirmed uploads leaves it alone.
        os.utime(stored)
        options = {key: value for key, value in preview.options.items() if key != "language"}
        return line_import_start(
            stored=stored, filename=preview.filename, options=options, by=by, dry_run=False
        )


class _Recorder:
    """Writes a running import's phase and lines read where another connection sees them."""

    def __init__(self, record: LineImport) -> None:
        self.record = record
        self.side: Any = None
        if connection.vendor == "postgresql":
            self.side = connections.create_connection(DEFAULT_DB_ALIAS)

    def lines(self, done: int) -> None:
        self.write(lines_done=done)

    def phase(self, phase: str) -> None:
        self.write(phase=phase)

    def write(self, **values: Any) -> None:
        if self.side is None:
            LineImport.objects.filter(pk=self.record.pk).update(**values)
            return
        quote = self.side.ops.quote_name
        column_of = {field.name: field.column for field in LineImport._meta.concrete_fields}
        columns = [column_of[name] for name in values]
        assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
        with self.side.cursor() as cursor:  # autocommit: visible at once
            cursor.execute(
                f"UPDATE {quote(LineImport._meta.db_table)} SET {assignments} WHERE id = %s",
                [*values.values(), self.record.pk],
            )

    def close(self) -> None:
        if self.side is not None:
            self.side.close()


def _count_lines(path: Path) -> int | None:
    """The data lines of a CSV or XLSX file, for the progress bar; None when unknown.

    A CSV's line breaks less its header: a quoted cell spanning lines counts more.
    """
    if table_format(path.name) == "csv":
        count, last = 0, b"\n"
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                count += block.count(b"\n")
                last = block[-1:]
        return max(count + (last != b"\n") - 1, 0)
    try:
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            rows = book.active.max_row if book.active is not None else None
        finally:
            book.close()
    except Exception:  # an estimate only; the import reports the file's faults
        return None
    return max(rows - 1, 0) if rows else None


def line_import_run(*, import_id: int) -> LineImport:
    """Run the import `import_id` (the task's body); safe to call twice.

    A record already started is returned as it is (a redelivered task). The outcome is
    recorded: `succeeded` with the data-quality report, `rejected` with the errors (nothing
    written), or `failed` with the reason; the upload is deleted once it is of no further use
    (after the real import, or a dry run that cannot be confirmed).
    """
    started = LineImport.objects.filter(pk=import_id, status=LineImport.Status.QUEUED).update(
        status=LineImport.Status.RUNNING, started_at=timezone.now()
    )
    record = LineImport.objects.get(pk=import_id)
    if not started:
        return record
    with translation.override(record.options.get("language") or settings.LANGUAGE_CODE):
        try:
            outcome = _run(record)
        except Exception:
            logger.exception("Sales-line import %s failed", record.pk)
            _finish(
                record,
                {
                    "status": LineImport.Status.FAILED,
                    "note": _("The import stopped on an unexpected error; nothing was written."),
                },
            )
            raise
    return _finish(record, outcome)


def _run(record: LineImport) -> dict[str, Any]:
    """Import the record's upload; return the fields to record."""
    options = record.options
    stored = upload_folder() / record.stored_name if record.stored_name else None
    if stored is None or not stored.is_file():
        return {
            "status": LineImport.Status.FAILED,
            "note": _("The uploaded file has expired; upload it again."),
        }
    total = _count_lines(stored)
    recorder = _Recorder(record)
    try:
        recorder.write(lines_total=total)
        mapping = None
        if options.get("mapping"):
            mapping = SourceMapping.objects.filter(name=options["mapping"]).first()
            if mapping is None:
                return {
                    "status": LineImport.Status.FAILED,
                    "note": _("The source mapping “%(name)s” no longer exists.")
                    % {"name": options["mapping"]},
                }
        report = order_lines_import(
            source=stored,
            filename=record.filename,
            mapping=mapping,
            return_prefix=options.get("return_prefix"),
            create_missing_customers=bool(options.get("create_missing_customers")),
            dry_run=record.dry_run,
            by=record.created_by,
            progress=recorder.lines,
            phase=recorder.phase,
        )
    except ImportRejected as rejected:
        return {**_rejected(rejected.report), "lines_total": total}
    finally:
        recorder.close()
    return {
        "status": LineImport.Status.SUCCEEDED,
        "lines_total": total,
        "lines_done": report.total_rows,
        "created": report.created,
        "updated": report.updated,
        "quality": [[key, value] for key, _label, value in report.quality_rows()],
    }


def _finish(record: LineImport, outcome: dict[str, Any]) -> LineImport:
    """Record the outcome; delete the upload unless it waits for a confirm."""
    outcome = {**outcome, "phase": LineImport.Phase.DONE, "finished_at": timezone.now()}
    waits = record.dry_run and outcome["status"] == LineImport.Status.SUCCEEDED
    if not waits and record.stored_name:
        (upload_folder() / record.stored_name).unlink(missing_ok=True)
        outcome["stored_name"] = ""
    for name, value in outcome.items():
        setattr(record, name, value)
    record.save(update_fields=list(outcome))
    logger.info(
        "Sales-line import %s of %s (%s): %s",
        record.pk,
        record.filename,
        "dry run" if record.dry_run else "import",
        record.status,
    )
    return record


def _rejected(report: LineImportReport) -> dict[str, Any]:
    return {
        "status": LineImport.Status.REJECTED,
        "lines_done": report.total_rows,
        "errors": [[e.line, e.field, e.message] for e in report.errors[:ERRORS_KEPT]],
        "error_count": len(report.errors),
        "note": report.limit_note() or "",
    }


def line_import_state(record: LineImport, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The progress of `record` as the progress page shows it (JSON-ready, texts localised).

    `percent` is of the lines read (99 at most until the import has finished: writing the
    documents and allocating the returns follow the reading); `eta_seconds` extrapolates the
    reading speed so far, None before the first chunk or once the reading is done.
    """
    now = now or timezone.now()
    done, total = record.lines_done, record.lines_total
    elapsed = (
        ((record.finished_at or now) - record.started_at).total_seconds()
        if record.started_at
        else 0.0
    )
    finished = record.finished
    if finished:
        percent = 100
    elif total:
        percent = min(int(100 * done / total), 99)
    else:
        percent = 0
    eta = None
    if not finished and record.phase == LineImport.Phase.READING and total and done and elapsed:
        eta = max(total - done, 0) * elapsed / done
    lines_text = (
        _("%(done)s of %(total)s lines")
        % {
            "done": number_format(done, force_grouping=True),
            "total": number_format(total, force_grouping=True),
        }
        if total is not None
        else _("%(done)s lines") % {"done": number_format(done, force_grouping=True)}
    )
    # The keys static/js/run-progress.js reads: `percent`, `finished`, and the texts it
    # puts in the page's [data-run-field] elements.
    return {
        "status": record.status,
        "status_label": str(record.get_status_display()),
        "phase": record.phase,
        "phase_label": str(record.get_phase_display()),
        "lines_done": done,
        "lines_total": total,
        "lines": lines_text,
        "percent": percent,
        "elapsed_seconds": round(elapsed, 1),
        "elapsed": duration_display(elapsed if record.started_at else None),
        "eta_seconds": None if eta is None else round(eta, 1),
        "eta": duration_display(eta),
        "finished": finished,
    }
