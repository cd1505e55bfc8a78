"""The customers export: each customer with their current grade and latest scores (issue 6,
docs/architecture.md, "Interfaces"), as CSV (streamed) or XLSX (written through
`customers.tabular`).

Grading owns it: the rows join customers to their grade, active override and snapshot, so it
sits above customers (docs/architecture.md, "Layers"). The same functions serve the admin
button and action (`grading.admin.customer_export`) and any later command or API: the caller
passes who is asking and, optionally, a narrower queryset; scoping to the caller's customers
(docs/architecture.md, invariant 5) happens in `grading.selectors.customer_export_values`,
never in the interface.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from customers.models import Customer
from customers.services.imports import CUSTOMER_OPTIONAL, CUSTOMER_REQUIRED
from customers.tabular import _safe_cell, write_table
from grading.exports import SCORE_COLUMNS
from grading.models import GradingRun
from grading.selectors import customer_export_values, run_get_latest_succeeded

#: The columns grading adds to a customer's own: read-only, and skipped by a customer import
#: (registered in `GradingConfig.ready`), so an export re-imports as it is.
GRADE_COLUMNS = (
    "grade",
    "grade_name",
    "grade_since",
    "grade_pinned",
    "pin_source",
    "scores_as_of",
    *SCORE_COLUMNS,
)
#: The export's header, in column order: every column a customer import takes, under the
#: import's names (docs/importing.md), then the grade and scores.
CUSTOMER_EXPORT_COLUMNS = (*CUSTOMER_REQUIRED, *CUSTOMER_OPTIONAL, *GRADE_COLUMNS)
#: Rows fetched per round trip (a server-side cursor on PostgreSQL): bounded memory at 1M
#: customers, and few enough round trips that the fetch is not the slow part.
EXPORT_CHUNK = 2000
#: Rows written per streamed CSV chunk: one tiny chunk per row would cost a write each.
CSV_ROWS_PER_CHUNK = 500
#: Decimal places of the 0..100 value scores, as in `export_scores`.
SCORE_PLACES = 4

#: The export's rows: typed cells (str, int, Decimal, float, bool, date, datetime, None).
Row = tuple[Any, ...]


def customer_export_run() -> GradingRun | None:
    """Return the run whose scores the export shows (the latest succeeded one), or None."""
    return run_get_latest_succeeded()


def customer_export_rows(
    *,
    user: AbstractBaseUser | AnonymousUser,
    queryset: QuerySet[Customer] | None = None,
) -> Iterator[Row]:
    """Return an iterator of export rows (`CUSTOMER_EXPORT_COLUMNS` order) by customer code.

    Customers are those of `queryset` (default: all) that `user` may see: an account
    manager only ever gets their own. Grade columns are the current grade (`grade_pinned`
    when an active override or appeal lock holds it, `pin_source` "manual" / "appeal");
    score columns come from the latest succeeded run's snapshot and are empty for a
    customer that run did not score (or when there is no run yet).

    Two queries whatever the row count: the run, then one joined query read in chunks.
    Scores are rounded to 4 decimal places and money is a 2-place Decimal.
    """
    scores_run = customer_export_run()
    values = customer_export_values(
        user=user, queryset=queryset, run_id=scores_run.id if scores_run else None
    )
    as_of = scores_run.as_of if scores_run else None
    return (_row(record, as_of) for record in values.iterator(chunk_size=EXPORT_CHUNK))


def _row(record: Sequence[Any], as_of: dt.date | None) -> Row:
    (code, name, kind, industry, email, phone, registered_at, manager) = record[:8]
    (grade, grade_name, since, pin_source) = record[8:12]
    scores = record[12:]
    scored = scores[1] is not None  # frequency is never NULL in a snapshot
    recency, frequency, monetary, r, f, m, segment, label, lifecycle, pyramid = scores[:10]
    values = scores[10:]
    return (
        code,
        name,
        kind,
        industry,
        email,
        phone,
        # Whole seconds: what a spreadsheet keeps, and what the import compares.
        registered_at.replace(microsecond=0) if registered_at else None,
        manager or "",
        grade or "",
        grade_name or "",
        since,
        pin_source is not None,
        pin_source or "",
        as_of if scored else None,
        recency,
        frequency,
        None if monetary is None else Decimal(monetary).quantize(Decimal("0.01")),
        r,
        f,
        m,
        segment or "",
        label or "",
        lifecycle or "",
        pyramid or "",
        *(None if value is None else round(value, SCORE_PLACES) for value in values),
    )


def csv_text(value: Any) -> str:
    """Return one export cell as CSV text.

    Empty for None; "true"/"false"; date-times in the project time zone with their offset
    (``2026-03-01 09:30:00+08:00``); scores with 4 decimals; text a spreadsheet would run
    as a formula is prefixed with an apostrophe (CSV injection), as `write_table` does.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.{SCORE_PLACES}f}"
    if isinstance(value, Decimal | int):
        return str(value)
    return str(_safe_cell(str(value)))


def customer_export_csv(rows: Iterable[Row]) -> Iterator[str]:
    """Yield the export as CSV text chunks, header first (for a streaming response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CUSTOMER_EXPORT_COLUMNS)
    pending = 0
    for row in rows:
        writer.writerow([csv_text(value) for value in row])
        pending += 1
        if pending == CSV_ROWS_PER_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def customer_export_xlsx(rows: Iterable[Row]) -> IO[bytes]:
    """Write the export to an XLSX workbook and return it as an open, unnamed temporary file.

    Written row by row (openpyxl's write-only mode) to disk, not memory; the file has no
    name left once returned, so closing it (a FileResponse does) frees it.
    """
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="customers-export-")
    os.close(handle)
    try:
        write_table(path, CUSTOMER_EXPORT_COLUMNS, rows)
        return open(path, "rb")
    finally:
        os.unlink(path)
