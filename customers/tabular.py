"""Read and write the two tabular file formats TierHub exchanges: CSV and XLSX.

Rows come out as plain strings keyed by a normalised header (stripped, lower-cased), so the
import services validate one representation whatever the format. Both readers stream: a
million-row file is never held in memory here.

Every file is read within `TableLimits` (settings IMPORT_MAX_ROWS, IMPORT_MAX_COLUMNS,
IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES, IMPORT_MAX_XLSX_COMPRESSION_RATIO), checked before and while
parsing: a hostile file (a zip bomb, millions of rows, a line of millions of cells) is refused
with a TableError naming the limit, after bounded work.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from common.formatting import PLACES, excel_value, is_missing, to_decimal


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
#: A `Source` that is a file: what the CSV and XLSX readers take.
FileSource = str | os.PathLike[str] | IO[bytes]

#: Cells under a blank header, or beyond the last header, are joined under this key so the
#: caller can refuse them (a stray unquoted comma shifts every later column).
UNNAMED_COLUMN = ""

SUFFIXES = (".csv", ".xlsx")

#: Parts (zip members) a workbook may have; read from the zip's end record before the central
#: directory is loaded (every entry becomes an object). Real workbooks have tens.
MAX_XLSX_PARTS = 10_000
#: The compression-ratio bound applies to parts larger than this: tiny parts (styles, an
#: empty sheet) compress far better than any sheet of data and hold no one up.
XLSX_RATIO_FLOOR_BYTES = 1024 * 1024
#: Bytes inflated at a time while a workbook's parts are counted.
_INFLATE_CHUNK = 1024 * 1024
#: Characters on one physical CSV line: far above any real row (50 columns of text), low
#: enough that a hostile line of millions of cells is refused before it becomes a list.
MAX_CSV_LINE_CHARS = 1024 * 1024


class TableError(ValueError):
    """The file cannot be read as a table; `line` is 0 when the whole file is at fault."""

    def __init__(self, message: str, *, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class TableLimits:
    """The bounds a file is read within; `from_settings()` is the default everywhere."""

    #: Data rows (records after the header; blank ones count: they cost reading too).
    max_rows: int
    #: Cells in the header or any row, up to the last non-blank one.
    max_columns: int
    #: An XLSX's parts unpacked, together (declared sizes first, then the bytes as inflated).
    max_xlsx_uncompressed_bytes: int
    #: How much larger than stored any one part (above XLSX_RATIO_FLOOR_BYTES) may unpack.
    max_xlsx_compression_ratio: int

    @classmethod
    def from_settings(cls) -> TableLimits:
        return cls(
            max_rows=int(settings.IMPORT_MAX_ROWS),
            max_columns=int(settings.IMPORT_MAX_COLUMNS),
            max_xlsx_uncompressed_bytes=int(settings.IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES),
            max_xlsx_compression_ratio=int(settings.IMPORT_MAX_XLSX_COMPRESSION_RATIO),
        )


def _count(value: int) -> str:
    """Return a count as people write it in the active language (1,000,000)."""
    return number_format(value, force_grouping=True)


def _too_many_rows(limits: TableLimits) -> TableError:
    return TableError(
        _("the file has more than %(max)s rows, the limit (IMPORT_MAX_ROWS)")
        % {"max": _count(limits.max_rows)}
    )


def _too_many_columns(line: int, limits: TableLimits) -> TableError:
    return TableError(
        _("line %(line)d has more than %(max)s columns, the limit (IMPORT_MAX_COLUMNS)")
        % {"line": line, "max": _count(limits.max_columns)}
    )


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
def open_table(
    source: Source, filename: str | None = None, *, limits: TableLimits | None = None
) -> Iterator[Table]:
    """Open a CSV (UTF-8, BOM optional) or XLSX (first sheet) file as a `Table`.

    `filename` picks the format by extension; it defaults to the path's name. A binary file
    object passed in is left open. Raises TableError for an unsupported extension, an empty
    file, content that is not valid UTF-8 / XLSX, or a file past `limits` (default: from
    settings): an XLSX that would unpack too large is refused before it is parsed, too many
    rows or columns while the rows are iterated.
    """
    limits = limits or TableLimits.from_settings()
    if isinstance(source, Records):
        yield _records_table(source, limits)
        return
    if filename is None:
        if not isinstance(source, str | os.PathLike):
            raise TypeError("filename is required when source is a file object")
        filename = os.fspath(source)
    kind = table_format(filename)
    with ExitStack() as stack:
        lines = _csv_lines(source, stack) if kind == "csv" else _xlsx_lines(source, stack, limits)
        yield _table(_bounded(lines, limits))


def read_rows(
    source: Source, filename: str | None = None, *, limits: TableLimits | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, {normalised_header: value})`` for each non-blank data row."""
    with open_table(source, filename, limits=limits) as table:
        yield from table.rows


def _bounded(
    lines: Iterator[tuple[int, list[str]]], limits: TableLimits
) -> Iterator[tuple[int, list[str]]]:
    """Pass `lines` on; raise TableError past `max_rows` data rows or `max_columns` cells."""
    # Every record counts, blank ones and any before the header too: the bound is on the
    # work (an XLSX can declare a million empty rows), and the header is the one extra.
    allowed = limits.max_rows + 1
    max_columns = limits.max_columns
    for count, (line, cells) in enumerate(lines, start=1):
        if count > allowed:
            raise _too_many_rows(limits)
        if len(cells) > max_columns and _width(cells) > max_columns:
            raise _too_many_columns(line, limits)
        yield line, cells


def _width(cells: list[str]) -> int:
    """Return the number of cells up to the last non-blank one (trailing blanks are padding)."""
    for index in range(len(cells) - 1, -1, -1):
        if cells[index]:
            return index + 1
    return 0


def _records_table(records: Records, limits: TableLimits) -> Table:
    if len(records.items) > limits.max_rows:
        raise _too_many_rows(limits)
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
    if len(set(names.values())) > limits.max_columns:
        raise TableError(
            _("the rows have more than %(max)s columns, the limit (IMPORT_MAX_COLUMNS)")
            % {"max": _count(limits.max_columns)}
        )

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


def _csv_lines(source: FileSource, stack: ExitStack) -> Iterator[tuple[int, list[str]]]:
    if isinstance(source, str | os.PathLike):
        text = stack.enter_context(open(source, encoding="utf-8-sig", newline=""))  # noqa: SIM115
    else:
        text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
        # Hand the caller's file object back open: closing the wrapper would close it too.
        stack.callback(text.detach)
    return _csv_records(text)


def _short_lines(text: IO[str]) -> Iterator[str]:
    """Yield the physical lines of `text`; raise TableError at one over MAX_CSV_LINE_CHARS.

    The csv module turns a whole record into a list before anything can count its cells:
    a 100 MB line of commas would be a list of 100 million strings.
    """
    readline = text.readline
    number = 0
    while line := readline(MAX_CSV_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_CSV_LINE_CHARS:
            raise TableError(
                _("line %(line)d is longer than %(max)s characters")
                % {"line": number, "max": _count(MAX_CSV_LINE_CHARS)}
            )
        yield line


def _csv_records(text: IO[str]) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(_short_lines(text))
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


def _xlsx_lines(
    source: FileSource, stack: ExitStack, limits: TableLimits
) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if isinstance(source, str | os.PathLike):
        file: IO[bytes] = stack.enter_context(open(source, "rb"))  # noqa: SIM115
    else:
        file = source
    _check_workbook(file, limits)
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError):
        raise TableError(_("the file is not a valid XLSX workbook")) from None
    stack.callback(workbook.close)
    sheet = workbook.worksheets[0]
    # Some writers store a wrong used range; without it openpyxl reads every cell there is.
    sheet.reset_dimensions()
    # Missing rows come back empty, so the position is the sheet's row number.
    rows = sheet.iter_rows(values_only=True)
    return ((line, [_cell_text(v) for v in cells]) for line, cells in enumerate(rows, start=1))


_END_RECORD = struct.Struct("<4s4H2LH")  # a zip's "end of central directory" record
_END_SIGNATURE = b"PK\x05\x06"


def _check_workbook(file: IO[bytes], limits: TableLimits) -> None:
    """Refuse a workbook that would unpack past `limits`, before openpyxl parses any of it.

    Cheapest first: the number of parts (the zip's end record), the sizes the central
    directory declares (their sum, and each large part's compression ratio), then the bytes
    themselves, inflated a chunk at a time and counted, since declared sizes can lie. (CPython's
    zipfile stops a part at its declared size and then fails its CRC check, so a lie ends as
    "not a valid XLSX workbook"; the count keeps the bound whatever the zip reader does.) The
    full read also checks every part's CRC, so openpyxl never meets a corrupt part mid-way.
    """
    max_bytes = limits.max_xlsx_uncompressed_bytes
    too_large = _(
        "the workbook unpacks to more than %(max)s, the limit (IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES)"
    ) % {"max": filesizeformat(max_bytes)}
    try:
        parts = _zip_part_count(file)
        if parts is None:
            raise TableError(_("the file is not a valid XLSX workbook"))
        if parts > MAX_XLSX_PARTS:
            raise TableError(
                _("the workbook has %(count)s parts, more than the %(max)s accepted")
                % {"count": _count(parts), "max": _count(MAX_XLSX_PARTS)}
            )
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
            if sum(member.file_size for member in members) > max_bytes:
                raise TableError(too_large)
            for member in members:
                ratio = member.file_size / max(member.compress_size, 1)
                if (
                    member.file_size > XLSX_RATIO_FLOOR_BYTES
                    and ratio > limits.max_xlsx_compression_ratio
                ):
                    raise TableError(
                        _(
                            "a part of the workbook unpacks to %(ratio)s times its stored size, "
                            "more than %(max)s, the limit (IMPORT_MAX_XLSX_COMPRESSION_RATIO)"
                        )
                        % {
                            "ratio": _count(int(ratio)),
                            "max": _count(limits.max_xlsx_compression_ratio),
                        }
                    )
            unpacked = 0
            for member in members:
                with archive.open(member) as part:
                    while chunk := part.read(_INFLATE_CHUNK):
                        unpacked += len(chunk)
                        if unpacked > max_bytes:
                            raise TableError(too_large)
    except TableError:
        raise
    # BadZipFile: damaged, or a part's CRC fails; RuntimeError: encrypted; NotImplementedError:
    # a compression method zipfile lacks; zlib.error: a damaged deflate stream.
    except (
        zipfile.BadZipFile,
        RuntimeError,
        NotImplementedError,
        OSError,
        EOFError,
        zlib.error,
        struct.error,
    ):
        raise TableError(_("the file is not a valid XLSX workbook")) from None
    finally:
        file.seek(0)


def _zip_part_count(file: IO[bytes]) -> int | None:
    """Return the number of entries the zip's end record declares; None if it has none."""
    file.seek(0, os.SEEK_END)
    size = file.tell()
    # The record is the last thing in the file, after a comment of at most 64 KiB.
    tail_size = min(size, _END_RECORD.size + 0xFFFF)
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    at = tail.rfind(_END_SIGNATURE)
    if at < 0 or len(tail) - at < _END_RECORD.size:
        return None
    # 0xFFFF means "see the zip64 record": 65,535 parts or more, far past any workbook.
    return int(_END_RECORD.unpack_from(tail, at)[4])


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
    path: str | os.PathLike[str],
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    kinds: Sequence[str] = (),
) -> None:
    """Write `header` and `rows` to a .csv (UTF-8) or .xlsx file, chosen by extension.

    Aware datetimes are written in the project time zone. Text that a spreadsheet would run
    as a formula (=, +, -, @ ...) is prefixed with an apostrophe (CSV injection).

    CSV stays machine-readable: plain numbers with "." and no grouping (floats rounded to
    their column's places, so no 378403.710000001). XLSX numbers are numeric cells with a
    number format by column kind (`kinds`, aligned with `header`: money "#,##0.00", count
    "#,##0"...; `common.formatting.excel_value`), never text.
    """
    kind = table_format(os.fspath(path))
    if kind == "csv":
        # With a BOM, which Excel needs to read UTF-8 (common.csv_files).
        with open(path, "w", encoding="utf-8-sig", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows(
                [_safe_cell(_csv_value(value, _kind(kinds, i))) for i, value in enumerate(row)]
                for row in rows
            )
        return
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(list(header))
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            cell_value, number_format = excel_value(_safe_cell(value), _kind(kinds, i))
            cell = WriteOnlyCell(sheet, value=cell_value)
            if number_format:
                cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)
    workbook.save(path)


def _kind(kinds: Sequence[str], index: int) -> str:
    return kinds[index] if index < len(kinds) else ""


def _csv_value(value: Any, kind: str) -> Any:
    """Return a number rounded to its column's places: 378403.71, not 378403.710000001.

    A float of a column without a kind keeps up to six decimals (trailing zeros dropped); a
    month column reads YYYY-MM.
    """
    if kind == "month" and isinstance(value, dt.date):
        return value.strftime("%Y-%m")
    if is_missing(value) or isinstance(value, bool) or not isinstance(value, float | Decimal):
        return value
    if kind in PLACES:
        return to_decimal(value, PLACES[kind])
    if isinstance(value, float):
        return format(to_decimal(value, 6).normalize(), "f")
    return value


def _safe_cell(value: Any) -> Any:
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.make_naive(value)
    if isinstance(value, str) and _FORMULA_START.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value


def write_workbook(
    path: str | os.PathLike[str],
    sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]],
) -> None:
    """Write an .xlsx workbook of several sheets: (title, header, rows) each, in order.

    Cells are made safe as in `write_table` (formula-like text gets an apostrophe). An
    import reads only the first sheet, so later ones can explain it (a template's "Allowed
    values").
    """
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        # Excel refuses a sheet title over 31 characters or with []:*?/\ in it.
        sheet = workbook.create_sheet(title=re.sub(r"[\[\]:*?/\\]", " ", title)[:31])
        sheet.append(list(header))
        for row in rows:
            sheet.append([_safe_cell(value) for value in row])
    workbook.save(path)
