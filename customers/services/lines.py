"""Import sales lines the way ERPs export them: invoice lines, returns and credit notes.

See docs/importing-sales-lines.md. One call, `order_lines_import`, serves the CLI
(`import_order_lines`), the admin page and the bulk API:

1. read: the file is streamed in chunks of `CHUNK_ROWS` through `customers.tabular` (its
   limits apply); each chunk's columns are checked vectorised, parsing every *distinct*
   value once (plain decimals vectorised), and its lines are written at once (on PostgreSQL
   by a thread, while the next chunk is read), so memory holds the per-document totals, not
   the lines;
2. documents: lines are grouped by document number; amount = sum of quantity x unit price
   (or the line total when given) in exact integer arithmetic (10⁻⁸ units), rounded half up
   to cents once per document; placed_at = the earliest line;
3. returns (number prefix, document type, or a negative total) become `ReturnDocument`s,
   refunded on orders by `RefundAllocation`s (`allocate_returns`, the rule in the docs);
4. everything runs in one transaction: a file with a bad row writes nothing and every bad
   row is listed; a dry run does the whole import and rolls it back, so its report (returns
   allocated, unallocated) is exactly what the real import will do.

Re-importing a file changes nothing: documents are keyed by number, lines by (document
number, position in the document), and allocations are recomputed per customer from all
their orders and returns, so they do not depend on the order files arrive in.
"""

from __future__ import annotations

import bisect
import codecs
import datetime as dt
import io
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from customers.exceptions import SourceMappingNotFound
from customers.models import (
    Category,
    Customer,
    Order,
    RefundAllocation,
    ReturnDocument,
    SalesLine,
    SourceMapping,
)
from customers.services import imports
from customers.services.imports import (
    ImportReport,
    Progress,
    RowError,
    ids_by_key,
    reject_if_errors,
)
from customers.signals import customers_written_in_bulk_send, orders_written_send
from customers.tabular import (
    UNNAMED_COLUMN,
    Records,
    Source,
    TableError,
    TableLimits,
    normalise_header,
    open_table,
    table_format,
)

logger = logging.getLogger(__name__)

LINE_REQUIRED = ("order_no", "customer_code", "placed_at", "quantity", "unit_price")
LINE_OPTIONAL = ("sku", "line_total", "category", "document_type", "original_order_no")
LINE_FIELDS = (*LINE_REQUIRED, *LINE_OPTIONAL)

#: What each field means, for the mapping form and the docs (translatable).
FIELD_LABELS = {
    "order_no": gettext_lazy("Document number"),
    "customer_code": gettext_lazy("Customer code"),
    "placed_at": gettext_lazy("Date and time"),
    "quantity": gettext_lazy("Quantity"),
    "unit_price": gettext_lazy("Unit price"),
    "sku": gettext_lazy("Item code"),
    "line_total": gettext_lazy("Line total"),
    "category": gettext_lazy("Category"),
    "document_type": gettext_lazy("Document type"),
    "original_order_no": gettext_lazy("Original order number"),
}

#: Document types that mean a return when no mapping says otherwise (compared lower-cased).
DEFAULT_RETURN_TYPES = ("return", "credit_note", "credit note", "refund")

#: Lines per chunk: large enough that pandas' per-call overhead vanishes, small enough that
#: a chunk's strings stay a few tens of MB.
CHUNK_ROWS = 50_000
#: Quantities and prices are held as integers of 10⁻⁴ (4 decimals at most).
SCALE = 10_000
#: A line's amount in 10⁻⁸ units must fit an int64 (9.2e18): at most 10¹⁰ money units.
MAX_LINE_AMOUNT = 10**10
_UNIT = 10**8  # 10⁻⁸ units per money unit
_HALF_CENT = 10**6 // 2  # half a cent in 10⁻⁸ units
_MAX_CENTS = int(imports.MAX_MONEY * 100)
_MAX_LINE_VALUE = Decimal(10) ** 14  # LINE_DECIMAL: 18 digits, 4 of them decimals


@dataclass(frozen=True)
class LineFormat:
    """How to read one source's files (a saved `SourceMapping`, or the canonical columns)."""

    #: {normalised source header: field}; None: the canonical column names, nothing else.
    columns: dict[str, str] | None = None
    return_types: frozenset[str] = frozenset(DEFAULT_RETURN_TYPES)
    return_prefix: str = ""
    date_format: str = ""
    decimal_separator: str = "."
    thousands_separator: str = ""
    customer_code_format: str = SourceMapping.CodeFormat.AS_IS
    #: CSV files in another encoding are transcoded to UTF-8 (a temporary copy) first.
    encoding: str = "utf-8"

    @classmethod
    def from_mapping(cls, mapping: SourceMapping | None, *, return_prefix: str | None = None):
        """Return the format of `mapping` (None: canonical); `return_prefix` overrides it."""
        if mapping is None:
            return cls(return_prefix=return_prefix or "")
        types = {str(value).strip().lower() for value in mapping.return_types if str(value).strip()}
        return cls(
            columns={normalise_header(k): v for k, v in mapping.columns.items() if v},
            return_types=frozenset(types or DEFAULT_RETURN_TYPES),
            return_prefix=mapping.return_prefix if return_prefix is None else return_prefix,
            date_format=mapping.date_format,
            decimal_separator=mapping.decimal_separator or ".",
            thousands_separator=mapping.thousands_separator,
            customer_code_format=mapping.customer_code_format,
            encoding=mapping.encoding or "utf-8",
        )


def source_mapping_get(*, name: str) -> SourceMapping:
    """Return the mapping called `name`; raise SourceMappingNotFound when there is none."""
    mapping = SourceMapping.objects.filter(name=name).first()
    if mapping is None:
        known = ", ".join(SourceMapping.objects.order_by("name").values_list("name", flat=True))
        raise SourceMappingNotFound(
            _("no source mapping called '%(name)s'; the saved ones are: %(known)s")
            % {"name": name, "known": known or _("(none)")},
            field="mapping",
        )
    return mapping


@dataclass
class LineImportReport(ImportReport):
    """What a line import found and did: `created`/`updated` count sales documents."""

    documents: int = 0
    returns: int = 0
    anonymous_lines: int = 0
    zero_price_lines: int = 0
    duplicate_lines: int = 0
    customer_conflicts: int = 0
    empty_returns: int = 0
    returns_allocated: int = 0
    returns_allocated_cents: int = 0
    returns_unallocated: int = 0
    returns_unallocated_cents: int = 0
    orders_fully_refunded: int = 0

    def quality_rows(self) -> list[tuple[str, str, str]]:
        """Return the data-quality report: (key, label, value) rows, money in units."""

        def money(cents: int) -> str:
            return str(Decimal(cents).scaleb(-2))

        return [
            ("lines_read", _("Lines read"), str(self.total_rows)),
            ("documents", _("Sales documents built"), str(self.documents)),
            ("returns", _("Return documents"), str(self.returns)),
            ("anonymous_lines", _("Lines without a customer (skipped)"), str(self.anonymous_lines)),
            ("returns_allocated", _("Returns allocated to orders"), str(self.returns_allocated)),
            (
                "returns_allocated_amount",
                _("Amount allocated"),
                money(self.returns_allocated_cents),
            ),
            (
                "returns_unallocated",
                _("Returns kept unallocated (in part or whole)"),
                str(self.returns_unallocated),
            ),
            (
                "returns_unallocated_amount",
                _("Amount kept unallocated"),
                money(self.returns_unallocated_cents),
            ),
            (
                "orders_fully_refunded",
                _("Orders refunded in full"),
                str(self.orders_fully_refunded),
            ),
            ("empty_returns", _("Returns of zero amount (skipped)"), str(self.empty_returns)),
            ("zero_price_lines", _("Zero-price lines"), str(self.zero_price_lines)),
            ("duplicate_lines", _("Duplicate lines"), str(self.duplicate_lines)),
            (
                "customer_conflicts",
                _("Documents whose lines disagree on the customer"),
                str(self.customer_conflicts),
            ),
        ]

    def __str__(self) -> str:
        if self.errors:
            return "\n".join(self.error_lines())
        return "\n".join(f"{label}: {value}" for _key, label, value in self.quality_rows())


# --- reading ---------------------------------------------------------------------------------


def _header_fields(header: tuple[str, ...], fmt: LineFormat, report: LineImportReport, line: int):
    """Return {field: source header} for the file; record header errors."""
    errors = report.errors
    found: dict[str, str] = {}
    for name in header:
        if name == UNNAMED_COLUMN:
            continue
        target = name if fmt.columns is None else fmt.columns.get(name)
        if fmt.columns is None and name not in LINE_FIELDS:
            errors.append(
                RowError(
                    line,
                    name,
                    _("unknown column; the columns are %(columns)s (or use a source mapping)")
                    % {"columns": ", ".join(LINE_FIELDS)},
                )
            )
            continue
        if target is None:
            continue  # a column the mapping leaves out
        if target in found:
            errors.append(
                RowError(
                    line,
                    name,
                    _("the column %(field)s appears more than once") % {"field": target},
                )
            )
        found[target] = name
    for name in LINE_REQUIRED:
        if name not in found:
            errors.append(RowError(line, name, _("required column is missing")))
    return found


def _chunks(rows: Iterator[tuple[int, dict[str, str]]], size: int) -> Iterator[list]:
    chunk: list[tuple[int, dict[str, str]]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Parser:
    """Parse distinct cell values once; remember each value's result or error message."""

    def __init__(self, fmt: LineFormat) -> None:
        self.fmt = fmt
        self.timezone = timezone.get_default_timezone()
        hours = settings.ORDER_FUTURE_TOLERANCE_HOURS
        self.future_hours = hours
        self.latest = timezone.now() + dt.timedelta(hours=hours)
        plain = (fmt.decimal_separator, fmt.thousands_separator) == (".", "")
        self.numbers = _Parsed(self.number, _fast_numbers if plain else None)
        self.moments = _Parsed(self.moment)
        self.codes: dict[str, str] = {}

    def number(self, raw: str) -> int | str:
        """Return `raw` in 10⁻⁴ units, or the error message."""
        text = raw
        if self.fmt.thousands_separator:
            text = text.replace(self.fmt.thousands_separator, "")
        if self.fmt.decimal_separator != ".":
            text = text.replace(self.fmt.decimal_separator, ".")
        text = text.replace(" ", "")
        if not imports._PLAIN_DECIMAL.fullmatch(text):
            return _("'%(value)s' is not a decimal number") % {"value": imports._shorten(raw)}
        value = Decimal(text)
        if abs(value) >= _MAX_LINE_VALUE:
            return _("'%(value)s' is too large") % {"value": imports._shorten(raw)}
        scaled = value.scaleb(4)
        if scaled != scaled.to_integral_value():
            return _("'%(value)s' has more than 4 decimal places") % {"value": raw}
        return int(scaled)

    def moment(self, raw: str) -> int | str:
        """Return `raw` as microseconds since 1970 UTC, or the error message."""
        parsed = None
        try:
            if self.fmt.date_format:
                parsed = dt.datetime.strptime(raw, self.fmt.date_format)  # noqa: DTZ007
            elif imports._MOMENT.fullmatch(raw):
                parsed = dt.datetime.fromisoformat(raw)
        except ValueError:
            parsed = None
        if parsed is None:
            if self.fmt.date_format:
                return _("'%(value)s' does not match the date format %(format)s") % {
                    "value": imports._shorten(raw),
                    "format": self.fmt.date_format,
                }
            return _(
                "'%(value)s' is not a date or date-time; use YYYY-MM-DD, "
                "YYYY-MM-DD HH:MM[:SS] or ISO 8601 with an offset"
            ) % {"value": imports._shorten(raw)}
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, self.timezone)
        if parsed > self.latest:
            return ngettext(
                "'%(value)s' is in the future (more than %(hours)d hour after now)",
                "'%(value)s' is in the future (more than %(hours)d hours after now)",
                self.future_hours,
            ) % {"value": imports._shorten(raw), "hours": self.future_hours}
        return (parsed - _EPOCH) // dt.timedelta(microseconds=1)

    def code(self, raw: str) -> str:
        """Return a customer code normalised as the format says ('' = anonymous)."""
        kind = self.fmt.customer_code_format
        if kind == SourceMapping.CodeFormat.INTEGER:
            match = _FLOAT_CODE.fullmatch(raw)
            return match.group(1) if match else raw
        if kind == SourceMapping.CodeFormat.UPPER:
            return raw.upper()
        return raw


_FLOAT_CODE = re.compile(r"([+-]?\d+)\.0*")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _mapped(values: pd.Series, cache: dict[str, Any], parse: Any) -> pd.Series:
    """Map each value through `parse`, calling it once per distinct value."""
    for value in values.unique():
        if value not in cache:
            cache[value] = parse(value)
    return values.map(cache)


class _Parsed:
    """Parse a chunk's distinct raw values: vectorised where `fast` can, else one at a time.

    `fast` (optional) returns (mask, integers) for the values it can parse exactly in C (the
    common spellings); the others are parsed by `parse` once each, its result or error
    message remembered across chunks.
    """

    def __init__(self, parse: Any, fast: Any = None) -> None:
        self.parse = parse
        self.fast = fast
        self.cache: dict[str, int | str] = {}

    def __call__(self, uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (integers, error messages: "" where none) of the distinct `uniques`."""
        numbers = np.zeros(uniques.size, dtype=np.int64)
        messages = np.full(uniques.size, "", dtype=object)
        rest: Any = range(uniques.size)
        if self.fast is not None and uniques.size:
            mask, values = self.fast(uniques)
            numbers[mask] = values
            rest = np.flatnonzero(~mask)
        cache, parse = self.cache, self.parse
        for position in rest:
            value = uniques[position]
            result = cache.get(value)
            if result is None:
                result = cache[value] = parse(value)
            if isinstance(result, str):
                messages[position] = result
            else:
                numbers[position] = result
        return numbers, messages


#: Plain decimals with at most 10 integer digits and 4 decimals: exact through float64
#: (under 10¹⁴ units of 10⁻⁴, far below 2⁵³), so they are parsed vectorised.
_FAST_DECIMAL = r"^-?(?:\d{1,10}(?:\.\d{0,4})?|\.\d{1,4})$"


def _fast_numbers(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (mask, 10⁻⁴ integers of the masked values) for the plain decimals of `values`."""
    text = pa.array(values, type=pa.string())
    mask = pc.match_substring_regex(text, _FAST_DECIMAL).to_numpy(zero_copy_only=False)
    floats = pc.cast(text.filter(pa.array(mask)), pa.float64()).to_numpy()
    return mask, np.rint(floats * SCALE).astype(np.int64)


def _parsed(values: pd.Series, cache: _Parsed) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Return (integers as Int64, the mask of bad values, messages) of `values`.

    Each distinct value is parsed once (`cache` keeps them across chunks); the results are
    spread back by position, without a Python call per line.
    """
    codes, uniques = pd.factorize(values.to_numpy())
    numbers, texts = cache(np.asarray(uniques, dtype=object))
    bad_unique = texts != ""
    bad = bad_unique[codes]
    # A masked integer array built directly: no per-element conversion.
    good = pd.Series(pd.arrays.IntegerArray(numbers[codes], bad.copy()), index=values.index)
    if bad.any():
        messages = pd.Series(texts[codes], index=values.index)
    else:
        messages = pd.Series("", index=values.index)
    return good, pd.Series(bad, index=values.index), messages


@dataclass
class _State:
    """What reading keeps between chunks: per-document partial totals, not lines."""

    fmt: LineFormat
    parser: _Parser
    write: bool
    category_ids: dict[str, int] = field(default_factory=dict)
    line_counts: dict[str, int] = field(default_factory=dict)
    documents: list[pd.DataFrame] = field(default_factory=list)
    owners: list[pd.DataFrame] = field(default_factory=list)
    hashes: list[np.ndarray] = field(default_factory=list)
    phase: Callable[[str], object] | None = None
    writer: _LineWriter | None = None


def _errors_where(
    report: LineImportReport, mask: pd.Series, lines: pd.Series, column: str, messages: Any
) -> None:
    """Record an error for each row of `mask`; `messages` a string or a Series of them."""
    if not mask.any():
        return
    texts = messages[mask] if isinstance(messages, pd.Series) else None
    for position, line in enumerate(lines[mask]):
        message = texts.iloc[position] if texts is not None else messages
        report.errors.append(RowError(int(line), column, str(message)))


def _frame_of_rows(
    chunk: list[tuple[int, dict[str, str]]], fields: dict[str, str], report: LineImportReport
) -> pd.DataFrame:
    """Return a chunk of `customers.tabular` rows as a frame of the mapped fields + `line`."""
    for line, values in chunk:
        if values.get(UNNAMED_COLUMN):
            report.errors.append(
                RowError(
                    line,
                    "",
                    _("values in a column without a header: %(values)s")
                    % {"values": imports._shorten(values[UNNAMED_COLUMN])},
                )
            )
    frame = pd.DataFrame(
        {
            name: [values.get(source, "") for _line, values in chunk]
            for name, source in fields.items()
        },
        dtype=object,
    )
    frame["line"] = np.fromiter((line for line, _values in chunk), dtype=np.int64, count=len(chunk))
    return frame


def _check_chunk(frame: pd.DataFrame, state: _State, report: LineImportReport) -> None:
    """Check one chunk of lines (mapped fields + `line`), write them, keep document totals."""
    fmt, parser = state.fmt, state.parser
    for name in LINE_OPTIONAL:
        if name not in frame:
            frame[name] = ""

    # Lines without a customer (walk-in sales) are counted and skipped, unchecked.
    frame["customer_code"] = _mapped(frame["customer_code"], parser.codes, parser.code)
    anonymous = frame["customer_code"] == ""
    report.anonymous_lines += int(anonymous.sum())
    frame = frame[~anonymous].reset_index(drop=True)
    if frame.empty:
        return
    lines = frame["line"]

    for name, model_field in (
        ("order_no", Order._meta.get_field("order_no")),
        ("customer_code", Customer._meta.get_field("code")),
        ("sku", SalesLine._meta.get_field("sku")),
        ("category", Category._meta.get_field("code")),
        ("original_order_no", Order._meta.get_field("order_no")),
    ):
        too_long = frame[name].str.len() > model_field.max_length
        _errors_where(
            report,
            too_long,
            lines,
            name,
            _("longer than %(max)d characters") % {"max": model_field.max_length},
        )
    _errors_where(report, frame["order_no"] == "", lines, "order_no", _("a value is required"))

    parsed: dict[str, pd.Series] = {}
    for name in ("placed_at", "quantity", "unit_price", "line_total"):
        values = frame[name]
        given = values != ""
        if name in LINE_REQUIRED:
            _errors_where(report, ~given, lines, name, _("a value is required"))
        if name == "placed_at":
            good, bad, messages = _parsed(values[given], parser.moments)
        else:
            good, bad, messages = _parsed(values[given], parser.numbers)
        bad = bad.reindex(frame.index, fill_value=False)
        _errors_where(report, bad, lines, name, messages.reindex(frame.index))
        parsed[name] = good.reindex(frame.index)

    # Line amounts in 10⁻⁸ units: exact integers; the total, when given, wins.
    quantity, price, total = parsed["quantity"], parsed["unit_price"], parsed["line_total"]
    limit = _("the line amount is too large (at most %(max)s)") % {"max": f"{MAX_LINE_AMOUNT:,}"}
    product = quantity.abs().astype("Float64") * price.abs().astype("Float64")
    too_large = ((product >= MAX_LINE_AMOUNT * _UNIT) & total.isna()).fillna(False)
    _errors_where(report, too_large, lines, "quantity", limit)
    too_large_total = (total.abs() >= MAX_LINE_AMOUNT * SCALE).fillna(False)
    _errors_where(report, too_large_total, lines, "line_total", limit)
    if report.errors:
        # Keep checking the rest of the file for errors, but build nothing more.
        state.write = False
        return

    amount = (quantity * price).where(total.isna(), total * SCALE).astype(np.int64)
    report.zero_price_lines += int((price == 0).sum())
    frame["hi"] = amount // _UNIT  # whole units (floor) and the rest, summed apart: no overflow
    frame["lo"] = amount - frame["hi"] * _UNIT
    frame["placed"] = parsed["placed_at"].astype(np.int64)
    kind = frame["document_type"].str.lower()
    frame["typed_return"] = kind.isin(fmt.return_types) if len(fmt.return_types) else False
    state.hashes.append(
        pd.util.hash_pandas_object(
            frame[
                [
                    "order_no",
                    "customer_code",
                    "placed_at",
                    "sku",
                    "quantity",
                    "unit_price",
                    "line_total",
                    "category",
                    "document_type",
                ]
            ],
            index=False,
        ).to_numpy()
    )

    # Line numbers within each document continue across chunks.
    offset = frame["order_no"].map(state.line_counts).fillna(0).astype(np.int64)
    frame["line_no"] = offset + frame.groupby("order_no", sort=False).cumcount() + 1
    counts = frame.groupby("order_no", sort=False)["line_no"].max()
    new_documents = [no for no in counts.index if no not in state.line_counts]
    state.line_counts.update(counts.to_dict())

    grouped = frame.replace({"category": {"": None}, "original_order_no": {"": None}}).groupby(
        "order_no", sort=False
    )
    state.documents.append(
        grouped.agg(
            customer=("customer_code", "first"),
            hi=("hi", "sum"),
            lo=("lo", "sum"),
            placed=("placed", "min"),
            first_line=("line", "min"),
            typed_return=("typed_return", "any"),
            original=("original_order_no", "first"),
            category=("category", "first"),
        )
    )
    state.owners.append(frame[["order_no", "customer_code"]].drop_duplicates())
    if state.write:
        _write_lines(frame, new_documents, parsed, state)


def _write_lines(
    frame: pd.DataFrame, new_documents: list[str], parsed: dict[str, pd.Series], state: _State
) -> None:
    """Replace the lines of documents first seen in this chunk, then insert the chunk's."""
    codes = [code for code in frame["category"].unique() if code and code not in state.category_ids]
    if codes:
        found = ids_by_key(Category, "code", codes)
        missing = [code for code in codes if code not in found]
        if missing:
            Category.objects.bulk_create(
                (Category(code=code, name=code) for code in missing), ignore_conflicts=True
            )
            found |= ids_by_key(Category, "code", missing)
        state.category_ids.update(found)

    category_ids = frame["category"].map(state.category_ids).astype("Int64")
    if connection.vendor == "postgresql":
        if state.writer is None:
            state.writer = _LineWriter()
        _copy_lines(frame, new_documents, parsed, category_ids, state.writer)
        return
    for chunk in imports._chunks(new_documents):
        SalesLine.objects.filter(document_no__in=chunk).delete()

    def decimal(value: Any) -> Decimal | None:
        return None if pd.isna(value) else Decimal(int(value)).scaleb(-4)

    SalesLine.objects.bulk_create(
        (
            SalesLine(
                document_no=no,
                line_no=int(line_no),
                sku=sku,
                quantity=decimal(quantity),
                unit_price=decimal(price),
                line_total=decimal(total),
                category_id=None if pd.isna(category) else int(category),
            )
            for no, line_no, sku, quantity, price, total, category in zip(
                frame["order_no"],
                frame["line_no"],
                frame["sku"],
                parsed["quantity"],
                parsed["unit_price"],
                parsed["line_total"],
                category_ids,
                strict=True,
            )
        ),
        batch_size=imports.WRITE_BATCH,
    )


def _copy_lines(
    frame: pd.DataFrame,
    new_documents: list[str],
    parsed: dict[str, pd.Series],
    category_ids: pd.Series,
    writer: _LineWriter,
) -> None:
    """PostgreSQL: delete the lines of documents first seen here, COPY the chunk's lines
    (by `writer`, in its thread).

    The CSV is written by Arrow in C: strings quoted (an empty sku stays ''), an unquoted
    empty cell is NULL, and decimals travel as their 10⁻⁴ integers with an exponent
    ("12345e-4"), which PostgreSQL's numeric input reads exactly.
    """

    def scaled(values: pd.Series) -> pa.Array:
        digits = pa.array(values, type=pa.int64()).cast(pa.string())
        return pc.binary_join_element_wise(digits, "e-4", "")

    table = pa.table(
        {
            "document_no": pa.array(frame["order_no"], type=pa.string()),
            "line_no": pa.array(frame["line_no"], type=pa.int64()),
            "sku": pa.array(frame["sku"], type=pa.string()),
            "quantity": scaled(parsed["quantity"]),
            "unit_price": scaled(parsed["unit_price"]),
            "line_total": scaled(parsed["line_total"]),
            "category": pa.array(category_ids, type=pa.int64()),
        }
    )
    text = io.BytesIO()
    pa_csv.write_csv(table, text, pa_csv.WriteOptions(include_header=False))
    writer.write(new_documents, text.getvalue())


class _LineWriter:
    """PostgreSQL: writes each chunk's lines in a thread while the next chunk is parsed.

    The thread uses this transaction's own connection (psycopg's connections are thread-safe:
    one statement at a time), so the lines are written in the import's transaction; PostgreSQL
    ingests a chunk while Python parses the next, the two processes working side by side. At
    most one chunk waits; an error of the thread is raised in the import at the next chunk or
    at `finish`, and the import rolls back.
    """

    def __init__(self) -> None:
        quoted = connection.ops.quote_name
        self.target = quoted(SalesLine._meta.db_table)
        names = ("document_no", "line_no", "sku", "quantity", "unit_price", "line_total")
        self.columns = ", ".join(
            quoted(imports._column(SalesLine, name)) for name in (*names, "category")
        )
        connection.ensure_connection()
        self.raw = connection.connection
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lines-copy")
        self.pending: Future[None] | None = None

    def _copy(self, new_documents: list[str], text: bytes) -> None:
        with self.raw.cursor() as cursor:
            for chunk in imports._chunks(new_documents):
                cursor.execute(f"DELETE FROM {self.target} WHERE document_no = ANY(%s)", [chunk])
            sql = f"COPY {self.target} ({self.columns}) FROM STDIN WITH (FORMAT csv)"
            with cursor.copy(sql) as copy:
                copy.write(text)

    def write(self, new_documents: list[str], text: bytes) -> None:
        self.wait()
        self.pending = self.pool.submit(self._copy, new_documents, text)

    def wait(self) -> None:
        """Wait for the chunk being written; raise its error (as Django's) if it failed."""
        pending, self.pending = self.pending, None
        if pending is not None:
            with connection.wrap_database_errors:
                pending.result()

    def finish(self, *, failed: bool = False) -> None:
        """Wait for the last chunk and stop the thread (its error hidden if `failed`)."""
        try:
            if failed and self.pending is not None:
                futures_wait([self.pending])
                self.pending = None
            self.wait()
        finally:
            self.pool.shutdown(wait=True)


def _documents(state: _State, report: LineImportReport) -> pd.DataFrame:
    """Combine the chunks' partial totals into one row per document, amounts in cents."""
    if not state.documents:
        return pd.DataFrame()
    parts = pd.concat(state.documents)
    docs = parts.groupby(level=0, sort=False).agg(
        customer=("customer", "first"),
        hi=("hi", "sum"),
        lo=("lo", "sum"),
        placed=("placed", "min"),
        first_line=("first_line", "min"),
        typed_return=("typed_return", "any"),
        original=("original", "first"),
        category=("category", "first"),
    )
    owners = pd.concat(state.owners).drop_duplicates()
    conflicts = owners.groupby("order_no", sort=False).size()
    report.customer_conflicts = int((conflicts > 1).sum())
    hashes = np.concatenate(state.hashes)
    report.duplicate_lines = int(len(hashes) - len(np.unique(hashes)))

    # Round half up (away from zero) to cents, once per document, in integers.
    hi = docs["hi"] + docs["lo"] // _UNIT
    lo = docs["lo"] % _UNIT
    negative = hi < 0
    abs_hi = np.where(negative, np.where(lo > 0, -hi - 1, -hi), hi)
    abs_lo = np.where(negative, np.where(lo > 0, _UNIT - lo, 0), lo)
    cents = abs_hi * 100 + (abs_lo + _HALF_CENT) // (_UNIT // 100)
    docs["cents"] = np.where(negative, -cents, cents)
    prefix = state.fmt.return_prefix
    by_prefix = docs.index.str.startswith(prefix) if prefix else False
    docs["is_return"] = docs["typed_return"] | by_prefix | (docs["cents"] < 0)
    docs["amount"] = docs["cents"].abs()
    return docs


@contextmanager
def _utf8(source: Source, filename: str, encoding: str) -> Iterator[Source]:
    """Yield `source`, or a UTF-8 copy of it when it is a CSV file in another encoding."""
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8") or table_format(filename) != "csv":
        yield source
        return
    with tempfile.NamedTemporaryFile(suffix=".csv") as copy:
        try:
            if isinstance(source, str | os.PathLike):
                stack = open(source, "rb")  # noqa: SIM115
            elif isinstance(source, Records):
                raise TypeError("records have no encoding")
            else:
                stack = source
            decoder = codecs.getincrementaldecoder(encoding)()
            while block := stack.read(1024 * 1024):
                copy.write(decoder.decode(block).encode("utf-8"))
            copy.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError:
            raise TableError(
                _("the file is not %(encoding)s text; check the mapping's encoding")
                % {"encoding": encoding}
            ) from None
        finally:
            if isinstance(source, str | os.PathLike):
                stack.close()
        copy.flush()
        yield copy.name


# --- the import ---------------------------------------------------------------------------------


def order_lines_import(
    *,
    source: Source,
    filename: str,
    mapping: SourceMapping | None = None,
    return_prefix: str | None = None,
    create_missing_customers: bool = False,
    dry_run: bool = False,
    by: AbstractBaseUser | None = None,
    progress: Progress | None = None,
    phase: Callable[[str], object] | None = None,
) -> LineImportReport:
    """Import a file of sales lines (invoices, returns, credit notes); all rows or none.

    Columns (canonical names, or a source header `mapping`): `order_no, customer_code,
    placed_at, quantity, unit_price` required; `sku, line_total, category, document_type,
    original_order_no` optional. Lines without a customer are skipped and counted.
    `return_prefix` (overrides the mapping's) marks return documents by number. Raises
    ImportRejected, having written nothing, when any row is bad; `dry_run` does everything
    and rolls it back, returning the same report. `progress` hears the lines read so far
    (once per chunk), `phase` each step as it starts: "reading", "documents", "refunds"
    (`LineImport.Phase`).
    """
    fmt = LineFormat.from_mapping(mapping, return_prefix=return_prefix)
    report = LineImportReport(dry_run=dry_run)
    with transaction.atomic():
        state = _State(fmt=fmt, parser=_Parser(fmt), write=True, phase=phase)
        if phase is not None:
            phase("reading")
        try:
            with _utf8(source, filename, fmt.encoding) as readable:
                _read(readable, filename, state, report, progress)
        except TableError as exc:  # the transcoding failed
            report.errors.append(RowError(exc.line, "", exc.message))
            reject_if_errors(report)
        if phase is not None:
            phase("documents")
        docs = _documents(state, report)
        if not docs.empty:
            _write_documents(docs, state, report, create_missing_customers)
        reject_if_errors(report)
        if dry_run:
            transaction.set_rollback(True)
    logger.info(
        "Imported sales lines from %s by %s: %d lines, %d documents, %d returns%s",
        filename,
        getattr(by, "pk", None),
        report.total_rows,
        report.documents,
        report.returns,
        " (dry run)" if dry_run else "",
    )
    return report


def _read(
    source: Source,
    filename: str,
    state: _State,
    report: LineImportReport,
    progress: Progress | None,
) -> None:
    """Read the file chunk by chunk into `_check_chunk`; stop at IMPORT_MAX_ERRORS.

    On PostgreSQL the lines of a chunk are written by `_LineWriter` while the next is read;
    the last ones are written when this returns, and none is in flight when it raises.
    """
    try:
        _read_chunks(source, filename, state, report, progress)
    except BaseException:
        if state.writer is not None:
            state.writer.finish(failed=True)
        raise
    if state.writer is not None:
        state.writer.finish()


def _read_chunks(
    source: Source,
    filename: str,
    state: _State,
    report: LineImportReport,
    progress: Progress | None,
) -> None:
    errors = report.errors
    try:
        with open_table(source, filename) as table:
            fields = _header_fields(table.header, state.fmt, report, table.header_line)
            reject_if_errors(report)
            if isinstance(source, str | os.PathLike) and table_format(filename) == "csv":
                frames = _csv_frames(source, table.header, table.header_line, fields, report.errors)
            else:
                frames = (
                    _frame_of_rows(chunk, fields, report)
                    for chunk in _chunks(table.rows, CHUNK_ROWS)
                )
            for frame in frames:
                report.total_rows += len(frame)
                _check_chunk(frame, state, report)
                if errors.full:
                    errors.stopped = True
                    reject_if_errors(report)
                if progress is not None:
                    progress(report.total_rows)
    except TableError as exc:
        report.errors.append(RowError(exc.line, "", exc.message))
    reject_if_errors(report)


def _csv_frames(
    path: str | os.PathLike[str],
    header: tuple[str, ...],
    header_line: int,
    fields: dict[str, str],
    errors: list[RowError],
) -> Iterator[pd.DataFrame]:
    """Yield the CSV's data rows as frames of the mapped fields + `line`, parsed in C.

    `customers.tabular` builds a dict per row (~10 µs); pandas' C reader is ten times
    faster. The header was read (and the file's limits checked) by `open_table` first.
    Line numbers count records, so a quoted cell spanning lines shifts later numbers.
    """
    limits = TableLimits.from_settings()
    positions = {name: header.index(source) for name, source in fields.items()}
    # Cells under a blank header, or past the last one when the first row is that wide
    # (a later row wider than the first is a ParserError, below).
    blank_headers = [index for index, name in enumerate(header) if name == UNNAMED_COLUMN]
    done = 0
    try:
        reader = pd.read_csv(
            path,
            header=None,
            skiprows=header_line,
            dtype=str,
            na_filter=False,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
            chunksize=CHUNK_ROWS,
            engine="c",
        )
        for chunk in reader:
            lines = np.arange(done, done + len(chunk), dtype=np.int64) + header_line + 1
            done += len(chunk)
            if done > limits.max_rows:
                raise TableError(
                    _("the file has more than %(max)s rows, the limit (IMPORT_MAX_ROWS)")
                    % {"max": f"{limits.max_rows:,}"}
                )
            frame = pd.DataFrame(
                {
                    name: chunk[index].fillna("").str.strip()
                    if index in chunk.columns
                    else pd.Series("", index=chunk.index, dtype=object)
                    for name, index in positions.items()
                }
            )
            frame["line"] = lines
            stray = pd.Series(False, index=chunk.index)
            for index in [*blank_headers, *(c for c in chunk.columns if c >= len(header))]:
                stray |= chunk[index].fillna("").str.strip() != ""
            if stray.any():
                message = _("values in a column without a header")
                errors.extend(RowError(int(line), "", message) for line in lines[stray.to_numpy()])
            blank = (frame[list(fields)] == "").all(axis=1)
            yield frame[~blank.to_numpy()].reset_index(drop=True) if blank.any() else frame
    except UnicodeDecodeError:
        raise TableError(_("the file is not UTF-8 text (save it as 'CSV UTF-8')")) from None
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+), saw (\d+)", str(exc))
        line = int(match.group(1)) if match else 0  # pandas counts the file's lines
        raise TableError(
            _("values in a column without a header (%(count)s cells, the header has %(width)d)")
            % {"count": match.group(2) if match else "?", "width": len(header)},
            line=line,
        ) from None


def _cents(value: Decimal) -> int:
    return int(value.scaleb(2))


def _money(cents: int) -> Decimal:
    return Decimal(int(cents)).scaleb(-2)


def _moment(micros: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(micros))


def _write_documents(
    docs: pd.DataFrame, state: _State, report: LineImportReport, create_missing: bool
) -> None:
    """Check the documents against the database, then write orders and returns."""
    errors = report.errors
    empty = docs["is_return"] & (docs["amount"] == 0)
    report.empty_returns = int(empty.sum())
    docs = docs[~empty]
    too_large = docs["amount"] >= _MAX_CENTS
    for no, line in docs.loc[too_large, "first_line"].items():
        errors.append(
            RowError(int(line), "order_no", _("the total of %(no)s is too large") % {"no": no})
        )

    sales = docs[~docs["is_return"]]
    returns = docs[docs["is_return"]]
    report.documents = len(sales)
    report.returns = len(returns)

    codes = list(dict.fromkeys(docs["customer"]))
    customer_ids = ids_by_key(Customer, "code", codes)
    missing = [code for code in codes if code not in customer_ids]
    if missing and not create_missing:
        missing_set = set(missing)
        for _no, (code, line) in docs[["customer", "first_line"]].iterrows():
            if code in missing_set:
                errors.append(
                    RowError(
                        int(line),
                        "customer_code",
                        _("no customer with code '%(code)s'") % {"code": code},
                    )
                )

    existing_orders = imports._existing_orders(list(docs.index))
    existing_returns = _existing_returns(list(docs.index))
    for no, line in sales["first_line"].items():
        if no in existing_returns:
            errors.append(
                RowError(
                    int(line), "order_no", _("'%(no)s' is already a return document") % {"no": no}
                )
            )
        elif no in existing_orders and existing_orders[no][1] != sales.loc[no, "customer"]:
            errors.append(
                RowError(
                    int(line),
                    "order_no",
                    _("order '%(order_no)s' already exists for another customer (%(customer)s)")
                    % {"order_no": no, "customer": existing_orders[no][1]},
                )
            )
    for no, line in returns["first_line"].items():
        if no in existing_orders:
            errors.append(
                RowError(
                    int(line),
                    "order_no",
                    _("'%(no)s' is a return here but already an order") % {"no": no},
                )
            )
        elif no in existing_returns and existing_returns[no][1] != returns.loc[no, "customer"]:
            errors.append(
                RowError(
                    int(line),
                    "order_no",
                    _("return '%(no)s' already exists for another customer (%(customer)s)")
                    % {"no": no, "customer": existing_returns[no][1]},
                )
            )
    # A linked return names an order of the same customer, in this file or stored.
    originals = [no for no in returns["original"].dropna().unique() if no not in sales.index]
    stored_originals = imports._existing_orders(originals)
    for _no, (original, code, line) in returns[["original", "customer", "first_line"]].iterrows():
        if original is None or pd.isna(original):
            continue
        owner = sales.loc[original, "customer"] if original in sales.index else None
        if owner is None and original in stored_originals:
            owner = stored_originals[original][1]
        if owner is None:
            errors.append(
                RowError(
                    int(line),
                    "original_order_no",
                    _("no order '%(no)s' to refund") % {"no": original},
                )
            )
        elif owner != code:
            errors.append(
                RowError(
                    int(line),
                    "original_order_no",
                    _("order '%(no)s' belongs to another customer (%(customer)s)")
                    % {"no": original, "customer": owner},
                )
            )
    reject_if_errors(report)

    if missing:
        Customer.objects.bulk_create(
            (Customer(code=code, name=code) for code in missing),
            batch_size=imports.WRITE_BATCH,
            ignore_conflicts=True,
        )
        created = ids_by_key(Customer, "code", missing)
        customer_ids |= created
        customers_written_in_bulk_send(model=Customer, customer_ids=created.values())
    category_ids = state.category_ids
    categories = [c for c in docs["category"].dropna().unique() if c not in category_ids]
    if categories:  # a dry run after an error-free read wrote them with the lines
        category_ids |= ids_by_key(Category, "code", categories)

    report.updated = sum(1 for no in sales.index if no in existing_orders)
    report.created = len(sales) - report.updated
    # Rows as order_import keeps them: (line, order_no, customer, placed_at, amount,
    # refunded, profit, category, status); the refunds are allocated below.
    new_rows = (
        (line, no, code, _moment(placed), _money(amount), None, None, category, None)
        for no, code, placed, amount, line, category in zip(
            sales.index,
            sales["customer"],
            sales["placed"],
            sales["amount"],
            sales["first_line"],
            [code if isinstance(code, str) else None for code in sales["category"]],
            strict=True,
        )
        if no not in existing_orders
    )
    imports._insert_orders(new_rows, customer_ids, category_ids)
    imports._update_rows(
        Order,
        ("placed_at", "amount", "category"),
        (
            (
                existing_orders[no][0],
                _moment(sales.loc[no, "placed"]),
                _money(sales.loc[no, "amount"]),
                category_ids.get(sales.loc[no, "category"]),
            )
            for no in sales.index
            if no in existing_orders
        ),
    )

    order_ids = imports._existing_orders(list(returns["original"].dropna().unique()))
    return_rows = {
        no: (
            customer_ids[code],
            _moment(placed),
            _money(amount),
            order_ids[original][0] if isinstance(original, str) else None,
        )
        for no, code, placed, amount, original in zip(
            returns.index,
            returns["customer"],
            returns["placed"],
            returns["amount"],
            returns["original"],
            strict=True,
        )
    }
    ReturnDocument.objects.bulk_create(
        (
            ReturnDocument(
                return_no=no,
                customer_id=customer,
                returned_at=returned_at,
                amount=amount,
                original_order_id=original,
                unallocated_amount=amount,
            )
            for no, (customer, returned_at, amount, original) in return_rows.items()
            if no not in existing_returns
        ),
        batch_size=imports.WRITE_BATCH,
    )
    changed = [
        ReturnDocument(
            pk=existing_returns[no][0],
            customer_id=customer,
            returned_at=returned_at,
            amount=amount,
            original_order_id=original,
        )
        for no, (customer, returned_at, amount, original) in return_rows.items()
        if no in existing_returns and existing_returns[no][2:] != (returned_at, amount, original)
    ]
    ReturnDocument.objects.bulk_update(
        changed,
        ["customer", "returned_at", "amount", "original_order"],
        batch_size=imports.WRITE_BATCH,
    )
    affected = {customer_ids[code] for code in docs["customer"]}
    if state.phase is not None:
        state.phase("refunds")
    outcome = allocate_returns(
        customer_ids=sorted(affected),
        report=report,
        lines={no: int(line) for no, line in returns["first_line"].items()},
    )
    file_returns = set(returns.index)
    for no, allocated, unallocated in outcome:
        if no in file_returns:
            if allocated:
                report.returns_allocated += 1
                report.returns_allocated_cents += allocated
            if unallocated:
                report.returns_unallocated += 1
                report.returns_unallocated_cents += unallocated
    # The customers whose sales documents (orders) were created or changed.
    orders_written_send(
        customer_ids=(customer_ids.get(code) for code in sales["customer"].unique())
    )


def _existing_returns(numbers: list[str]) -> dict[str, tuple[Any, ...]]:
    """Return {return_no: (id, customer code, returned_at, amount, original order id)}."""
    found: dict[str, tuple[Any, ...]] = {}
    for chunk in imports._chunks(numbers):
        queryset = ReturnDocument.objects.filter(
            imports._key_in(ReturnDocument, "return_no", chunk)
        ).order_by()
        for no, *rest in queryset.values_list(
            "return_no", "id", "customer__code", "returned_at", "amount", "original_order_id"
        ):
            found[no] = tuple(rest)
    return found


# --- refunds -------------------------------------------------------------------------------------


def allocate_returns(
    *,
    customer_ids: list[int],
    report: LineImportReport | None = None,
    lines: dict[str, int] | None = None,
) -> list[tuple[str, int, int]]:
    """Recompute the refunds of these customers' returns; return (number, allocated, left) cents.

    The rule (docs/importing-sales-lines.md): returns are applied in the order of their own
    dates (same time: by number). A return naming its original order refunds that order;
    more than is left of it is an error (ImportRejected via `report`). Any other return is
    spread over the customer's orders placed at or before it, newest first (same time: the
    higher order number first), each taking at most what is left of it; what no order can
    take stays on the return as `unallocated_amount`. An order refunded in full gets status
    `refunded` and stops counting (docs/grading.md, "Inputs"). Refunds that did not come from a
    return (the `refunded_amount` of an order import) are kept and reduce what is left.

    Only rows whose values change are written, so a second run writes nothing.
    """
    if not customer_ids:
        return []
    return_rows: list[tuple[Any, ...]] = []
    for chunk in _id_chunks(customer_ids):
        return_rows += ReturnDocument.objects.filter(customer_id__in=chunk).values_list(
            "id",
            "customer_id",
            "returned_at",
            "return_no",
            "amount",
            "original_order_id",
            "unallocated_amount",
        )
    if not return_rows:
        return []
    owners = sorted({row[1] for row in return_rows})
    orders: dict[int, list[Any]] = {}
    for chunk in _id_chunks(owners):
        for pk, customer, no, placed, amount, refunded, status in Order.objects.filter(
            customer_id__in=chunk
        ).values_list(
            "id", "customer_id", "order_no", "placed_at", "amount", "refunded_amount", "status"
        ):
            orders[pk] = [customer, no, placed, _cents(amount), _cents(refunded), status]
    # (return, order) -> (allocation id, cents)
    old: dict[tuple[int, int], tuple[int, int]] = {}
    return_ids = [row[0] for row in return_rows]
    for chunk in _id_chunks(return_ids):
        for pk, return_id, order_id, amount in RefundAllocation.objects.filter(
            return_document_id__in=chunk
        ).values_list("id", "return_document_id", "order_id", "amount"):
            old[return_id, order_id] = (pk, _cents(amount))
    old_by_order: dict[int, int] = {}
    for (_return, order_id), (_pk, cents) in old.items():
        old_by_order[order_id] = old_by_order.get(order_id, 0) + cents

    # What is left of each order before any return: its amount less refunds from elsewhere.
    counted = {Order.Status.PAID, Order.Status.COMPLETED}
    left: dict[int, int] = {}
    timeline: dict[int, tuple[list[tuple[Any, str]], list[int]]] = {}
    for pk, (customer, no, placed, amount, refunded, status) in sorted(
        orders.items(), key=lambda item: (item[1][2], item[1][1])
    ):
        from_returns = old_by_order.get(pk, 0)
        if status in counted or (status == Order.Status.REFUNDED and from_returns):
            left[pk] = amount - (refunded - from_returns)
            keys, ids = timeline.setdefault(customer, ([], []))
            keys.append((placed, no))
            ids.append(pk)

    new: dict[tuple[int, int], int] = {}
    outcome: list[tuple[str, int, int]] = []
    unallocated: dict[int, int] = {}
    for return_id, customer, returned_at, no, amount, original, _stored in sorted(
        return_rows, key=lambda row: (row[2], row[3])
    ):
        rest = _cents(amount)
        if original is not None:
            available = left.get(original, 0)
            if rest > available and report is not None:
                report.errors.append(
                    RowError(
                        (lines or {}).get(no, 0),
                        "original_order_no",
                        _(
                            "return %(no)s refunds %(amount)s on order %(order)s, "
                            "more than the %(left)s left of it"
                        )
                        % {
                            "no": no,
                            "amount": _money(rest),
                            "order": orders.get(original, [None, original])[1],
                            "left": _money(available),
                        },
                    )
                )
            take = min(rest, available)
            if take:
                new[return_id, original] = take
                left[original] -= take
                rest -= take
        else:
            keys, ids = timeline.get(customer, ([], []))
            # Orders placed at or before the return, newest first (same time: higher number).
            index = bisect.bisect_right(keys, (returned_at, "\U0010ffff"))
            while rest and index > 0:
                index -= 1
                order_id = ids[index]
                take = min(rest, left[order_id])
                if take:
                    new[return_id, order_id] = take
                    left[order_id] -= take
                    rest -= take
        unallocated[return_id] = rest
        outcome.append((no, _cents(amount) - rest, rest))
    if report is not None and report.errors:
        reject_if_errors(report)

    # Write only what changed: a second run with the same data writes nothing.
    stale = [pk for key, (pk, cents) in old.items() if new.get(key) != cents]
    for chunk in _id_chunks(stale):
        RefundAllocation.objects.filter(pk__in=chunk).delete()
    RefundAllocation.objects.bulk_create(
        (
            RefundAllocation(return_document_id=r, order_id=o, amount=_money(c))
            for (r, o), c in new.items()
            if old.get((r, o), (None, None))[1] != c
        ),
        batch_size=imports.WRITE_BATCH,
    )
    imports._update_rows(
        ReturnDocument,
        ("unallocated_amount",),
        (
            (row[0], _money(unallocated[row[0]]))
            for row in return_rows
            if _cents(row[6]) != unallocated[row[0]]
        ),
    )
    new_by_order: dict[int, int] = {}
    for (_return, order_id), cents in new.items():
        new_by_order[order_id] = new_by_order.get(order_id, 0) + cents
    order_updates: list[tuple[int, Decimal, str]] = []
    fully = 0
    for pk in set(old_by_order) | set(new_by_order):
        customer, no, placed, amount, refunded, status = orders[pk]
        refunded_now = refunded - old_by_order.get(pk, 0) + new_by_order.get(pk, 0)
        status_now = status
        if refunded_now >= amount > 0 and status in counted:
            status_now = Order.Status.REFUNDED
        elif status == Order.Status.REFUNDED and refunded_now < amount:
            status_now = Order.Status.PAID
        if status_now == Order.Status.REFUNDED:
            fully += 1
        if (refunded_now, status_now) != (refunded, status):
            order_updates.append((pk, _money(refunded_now), status_now))
    # COPY and one UPDATE on PostgreSQL: bulk_update's CASE per row took seconds per thousand.
    imports._update_rows(Order, ("refunded_amount", "status"), order_updates)
    if report is not None:
        report.orders_fully_refunded = fully
    return outcome


def _id_chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), imports.LOOKUP_CHUNK):
        yield ids[start : start + imports.LOOKUP_CHUNK]


def quality_csv(report: LineImportReport) -> str:
    """Return the data-quality report as CSV text (key, label, value), with a header row."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["key", "label", "value"])
    writer.writerows(report.quality_rows())
    return out.getvalue()


#: Source headers TierHub recognises when a new mapping is started (normalised, any case).
HEADER_GUESSES = {
    **{name: name for name in LINE_FIELDS},
    "invoiceno": "order_no",
    "invoice": "order_no",
    "invoice no": "order_no",
    "document no": "order_no",
    "单据编号": "order_no",
    "单号": "order_no",
    "订单号": "order_no",
    "customerid": "customer_code",
    "customer id": "customer_code",
    "customer": "customer_code",
    "客户编码": "customer_code",
    "客户编号": "customer_code",
    "invoicedate": "placed_at",
    "invoice date": "placed_at",
    "date": "placed_at",
    "单据日期": "placed_at",
    "日期": "placed_at",
    "数量": "quantity",
    "qty": "quantity",
    "unitprice": "unit_price",
    "price": "unit_price",
    "含税单价": "unit_price",
    "单价": "unit_price",
    "stockcode": "sku",
    "商品编码": "sku",
    "物料编码": "sku",
    "金额": "line_total",
    "价税合计": "line_total",
    "amount": "line_total",
    "类别": "category",
    "商品类别": "category",
    "单据类型": "document_type",
    "document type": "document_type",
    "原单号": "original_order_no",
    "原订单号": "original_order_no",
}


def source_mapping_guess(header: tuple[str, ...]) -> dict[str, str]:
    """Return {header: field} for the headers TierHub recognises (each field once)."""
    guessed: dict[str, str] = {}
    for name in header:
        target = HEADER_GUESSES.get(normalise_header(name))
        if target and target not in guessed.values():
            guessed[name] = target
    return guessed


@dataclass(frozen=True)
class PreviewLine:
    """One line of a file as TierHub reads it: shown values, or the problem, per field."""

    line: int
    values: dict[str, str]
    problems: dict[str, str]
    anonymous: bool
    is_return: bool


def order_lines_preview(
    *, source: Source, filename: str, fmt: LineFormat, limit: int = 20
) -> tuple[tuple[str, ...], list[PreviewLine]]:
    """Return the header and the first `limit` lines read through `fmt`, without writing.

    What the mapping page shows: each field as TierHub will take it (customer codes
    normalised, dates in the project time zone, numbers in plain decimals), or why not.
    """
    parser = _Parser(fmt)
    lines: list[PreviewLine] = []
    local = timezone.get_default_timezone()
    with _utf8(source, filename, fmt.encoding) as readable, open_table(readable, filename) as table:
        fields = {
            (fmt.columns or {}).get(name, name if fmt.columns is None else None): name
            for name in table.header
        }
        fields.pop(None, None)
        for line, values in table.rows:
            shown: dict[str, str] = {}
            problems: dict[str, str] = {}
            for name in LINE_FIELDS:
                raw = values.get(fields[name], "") if name in fields else ""
                if name == "customer_code":
                    shown[name] = parser.code(raw)
                elif name == "placed_at" and raw:
                    result = parser.moment(raw)
                    if isinstance(result, str):
                        problems[name] = result
                    else:
                        moment = _moment(result).astimezone(local)
                        shown[name] = moment.strftime("%Y-%m-%d %H:%M:%S")
                elif name in ("quantity", "unit_price", "line_total") and raw:
                    result = parser.number(raw)
                    if isinstance(result, str):
                        problems[name] = result
                    else:
                        shown[name] = str(Decimal(result).scaleb(-4).normalize())
                else:
                    shown[name] = raw
                if name in LINE_REQUIRED and not raw and name not in problems:
                    problems[name] = _("a value is required")
            negative = any(shown.get(n, "").startswith("-") for n in ("quantity", "unit_price"))
            is_return = (
                negative
                or shown.get("line_total", "").startswith("-")
                or (bool(fmt.return_prefix) and shown["order_no"].startswith(fmt.return_prefix))
                or shown.get("document_type", "").lower() in fmt.return_types
            )
            anonymous = not shown["customer_code"]
            lines.append(
                PreviewLine(line, shown, {} if anonymous else problems, anonymous, is_return)
            )
            if len(lines) == limit:
                break
    return table.header, lines


def order_lines_header(
    *, source: Source, filename: str, encoding: str = "utf-8"
) -> tuple[str, ...]:
    """Return the normalised header row of a file (raise TableError when it cannot be read)."""
    with _utf8(source, filename, encoding) as readable, open_table(readable, filename) as table:
        return table.header
