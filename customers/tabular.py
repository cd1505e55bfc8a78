"""Read and write the two tabular file formats TierHub exchanges: CSV and XLSX.

Rows come out as plain strings keyed by a normalised header (stripped, lower-cased), so the
import services validate one representation whatever the format. Both readers stream: a
million-row file is never held in memory here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Records:
    """Rows already in memory, e.g. an API request body: a sequence of JSON objects.

    Read like a file whose header is every key seen (in order of first appearance) and whose
    line numbers are the 1-based positions in the sequence.
    """

    items: Sequence[Any]


#: What `open_table` and `read_rows` accept: a path, a binary file object (an upload), or
#: in-memory `Records`.
Source = str | os.PathLike[str] | IO[bytes] | Records

#: Cells under a blank header, or beyond the last header, are joined under this key so the
#: caller can refuse them (a stray unquoted comma shifts every later column).
UNNAMED_COLUMN = ""

SUFFIXES = (".csv", ".xlsx")


class TableError(ValueError):
    """The file cannot be read as a table; `line` is 0 when the whole file is at fault."""

    def __init__(self, message: str, *, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class Table:
    """An open file: its normalised `header` and a one-shot iterator over its data rows.

    Each row is ``(line_number, {header: value})`` with stripped string values; blank rows
    are skipped. Line numbers count the header as line 1 (CSV) or are the sheet row (XLSX);
    `header_line` is 1 unless blank lines precede the header.
    """

    header: tuple[str, ...]
    header_line: int
    rows: Iterator[tuple[int, dict[str, str]]]


def table_format(filename: str) -> str:
    """Return "csv" or "xlsx" from the file name's extension, or raise TableError."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise TableError(
            _("unsupported file type %(suffix)s; use a .csv or .xlsx file")
            % {"suffix": f"'{suffix}'" if suffix else _("(no extension)")}
        )
    return suffix[1:]


@contextmanager
def open_table(source: Source, filename: str | None = None) -> Iterator[Table]:
    """Open a CSV (UTF-8, BOM optional) or XLSX (first sheet) file as a `Table`.

    `filename` picks the format by extension; it defaults to the path's name. A binary file
    object passed in is left open. Raises TableError for an unsupported extension, an empty
    file, or content that is not valid UTF-8 / XLSX (possibly while iterating the rows).
    """
    if isinstance(source, Records):
        yield _records_table(source)
        return
    if filename is None:
        if not isinstance(source, str | os.PathLike):
            raise TypeError("filename is required when source is a file object")
        filename = os.fspath(source)
    kind = table_format(filename)
    with ExitStack() as stack:
        lines = _csv_lines(source, stack) if kind == "csv" else _xlsx_lines(source, stack)
        yield _table(lines)


def read_rows(source: Source, filename: str | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, {normalised_header: value})`` for each non-blank data row."""
    with open_table(source, filename) as table:
        yield from table.rows


def _records_table(records: Records) -> Table:
    # Raw keys are few and repeat on every row: normalise each once (a 100k-row request
    # would otherwise normalise half a million strings).
    names: dict[Any, str] = {}
    for position, item in enumerate(records.items, start=1):
        if not isinstance(item, dict):
            raise TableError(_("each row must be an object of column: value"), line=position)
        for key in item:
            if key not in names:
                names[key] = normalise_header(str(key))
    if not names:
        raise TableError(_("no rows were given"), line=1)

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for position, item in enumerate(records.items, start=1):
            yield (
                position,
                {names[k]: v.strip() if type(v) is str else _cell_text(v) for k, v in item.items()},
            )

    return Table(header=tuple(dict.fromkeys(names.values())), header_line=0, rows=rows())


def normalise_header(name: str) -> str:
    """Return a header cell as the key rows use: stripped and lower-cased."""
    return name.strip().lower()


def _table(lines: Iterator[tuple[int, list[str]]]) -> Table:
    for line, cells in lines:
        if any(cells):
            header = tuple(normalise_header(cell) for cell in cells)
            return Table(header=header, header_line=line, rows=_rows(header, lines))
    raise TableError(_("the file is empty; its first row must name the columns"), line=1)


def _rows(
    header: tuple[str, ...], lines: Iterator[tuple[int, list[str]]]
) -> Iterator[tuple[int, dict[str, str]]]:
    width = len(header)
    plain = UNNAMED_COLUMN not in header
    named = [(index, name) for index, name in enumerate(header) if name != UNNAMED_COLUMN]
    for line, cells in lines:
        if not any(cells):
            continue
        if plain and len(cells) == width:  # the common case, kept fast for big files
            yield line, dict(zip(header, cells, strict=True))
            continue
        row = {name: cells[index] if index < len(cells) else "" for index, name in named}
        stray = [
            cell
            for index, cell in enumerate(cells)
            if cell and (index >= width or header[index] == UNNAMED_COLUMN)
        ]
        if stray:
            row[UNNAMED_COLUMN] = ", ".join(stray)
        yield line, row


def _csv_lines(source: Source, stack: ExitStack) -> Iterator[tuple[int, list[str]]]:
    if isinstance(source, str | os.PathLike):
        text = stack.enter_context(open(source, encoding="utf-8-sig", newline=""))  # noqa: SIM115
    else:
        text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
        # Hand the caller's file object back open: closing the wrapper would close it too.
        stack.callback(text.detach)
    return _csv_records(text)


def _csv_records(text: IO[str]) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(text)
    while True:
        # A record starts on the line after the previous one ended (quoted cells may span
        # lines), which is the number an editor or a spreadsheet shows.
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            # Text is decoded in blocks, so the failing line is not known: blame the file.
            raise TableError(_("the file is not UTF-8 text (save it as 'CSV UTF-8')")) from None
        except csv.Error as exc:
            raise TableError(
                _("the CSV file is malformed: %(error)s") % {"error": exc}, line=line
            ) from None
        yield line, [cell.strip() for cell in cells]


def _xlsx_lines(source: Source, stack: ExitStack) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(source, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError):
        raise TableError(_("the file is not a valid XLSX workbook")) from None
    stack.callback(workbook.close)
    sheet = workbook.worksheets[0]
    # Some writers store a wrong used range; without it openpyxl reads every cell there is.
    sheet.reset_dimensions()
    # Missing rows come back empty, so the position is the sheet's row number.
    rows = sheet.iter_rows(values_only=True)
    return ((line, [_cell_text(v) for v in cells]) for line, cells in enumerate(rows, start=1))


def _cell_text(value: Any) -> str:
    """Return an XLSX cell value as the text a person typed, without float noise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        # Excel keeps 15 significant digits; more is binary noise (0.1 + 0.2).
        return format(Decimal(format(value, ".15g")), "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


_FORMULA_START = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def write_table(
    path: str | os.PathLike[str], header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Write `header` and `rows` to a .csv (UTF-8) or .xlsx file, chosen by extension.

    Aware datetimes are written in the project time zone. Text that a spreadsheet would run
    as a formula (=, +, -, @ ...) is prefixed with an apostrophe (CSV injection).
    """
    kind = table_format(os.fspath(path))
    if kind == "csv":
        with open(path, "w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows([_safe_cell(value) for value in row] for row in rows)
        return
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(list(header))
    for row in rows:
        sheet.append([_safe_cell(value) for value in row])
    workbook.save(path)


def _safe_cell(value: Any) -> Any:
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.make_naive(value)
    if isinstance(value, str) and _FORMULA_START.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value
