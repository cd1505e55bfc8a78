"""PostgreSQL binary COPY of fixed-width columns to and from numpy arrays.

Big reads and writes of a grading run on PostgreSQL use COPY in its binary format with
fixed-width, NOT NULL columns only (NULLs travel as sentinels, text as small integer codes),
so a whole block of rows is one numpy structured array: no per-value Python object, no text
formatting or parsing on either side. Used by the grading pipeline's PostgreSQL backend
(`grading.pipeline.backends.postgresql`: extract, grade states and the write's load), and
through `numeric_columns` (which falls back to the cursor's rows on SQLite) by the reports,
the what-if and the window's profit read.

A run's snapshots, which have text, NULLs and `numeric` money, are written into their new
partition by `copy_rows` (`CopyColumn`): a block of rows is built fixed-width and the bytes
COPY does not want are masked out, so it stays numpy throughout.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import DatabaseError, DataError, connection

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no extension
_COPY_TRAILER = b"\xff\xff"
#: Raw COPY bytes parsed (or built) at a time: bounds the buffers of a 10M-row extract.
#: Either function also takes `chunk_bytes=` (tests pass a few rows' worth).
COPY_CHUNK_BYTES = 32 << 20
#: `copy_rows`'s blocks are smaller: the server parses one while the next is built (a
#: million snapshots: ~0.3 s less than 32 MB blocks, which leave each side waiting in turn).
COPY_ROWS_CHUNK_BYTES = 1 << 20


def copy_layout(columns: Sequence[tuple[str, str]]) -> np.dtype:
    """Return the binary COPY row layout of `columns` ((name, numpy kind i2/i4/i8/f8) pairs)."""
    fields: list[tuple[str, str]] = [("_fields", ">i2")]
    for index, (name, kind) in enumerate(columns):
        fields += [(f"_size{index}", ">i4"), (name, ">" + kind)]
    return np.dtype(fields)


def copy_out(
    sql: str,
    params: Sequence[Any],
    columns: Sequence[tuple[str, str]],
    *,
    chunk_bytes: int | None = None,
) -> dict[str, np.ndarray]:
    """Run `COPY (sql) TO STDOUT` in binary and return each column as a native numpy array.

    Every selected value must be NOT NULL and of the fixed-width type `columns` names (i2 =
    smallint, i4 = integer/date difference, i8 = bigint, f8 = double precision). The rows
    are read through libpq directly: psycopg's COPY iterator costs more per row than the
    server takes to produce it, which is what a 10M-row extract is made of. The bytes are
    parsed every `chunk_bytes` (default `COPY_CHUNK_BYTES`) and at the end.
    """
    from psycopg import pq

    chunk_bytes = chunk_bytes or COPY_CHUNK_BYTES
    layout = copy_layout(columns)
    with connection.cursor() as cursor:
        query = cursor.cursor.mogrify(sql, params)
    pgconn = connection.connection.pgconn
    pgconn.send_query(f"COPY ({query}) TO STDOUT (FORMAT binary)".encode())
    result = pgconn.get_result()
    if result is None or result.status != pq.ExecStatus.COPY_OUT:
        copy_drain(pgconn, result)
    parts: dict[str, list[np.ndarray]] = {name: [] for name, _ in columns}
    pending = bytearray()
    offset = len(_COPY_SIGNATURE)

    def parse(final: bool) -> None:
        nonlocal offset
        if len(pending) < offset:
            return
        if offset and pending[:11] != _COPY_SIGNATURE[:11]:
            raise DatabaseError("COPY did not start with the binary signature")
        tail = len(_COPY_TRAILER) if final else 0
        count = (len(pending) - offset - tail) // layout.itemsize
        block = np.frombuffer(pending, dtype=layout, count=count, offset=offset)
        sizes = [block[f"_size{i}"] for i in range(len(columns))]
        if (block["_fields"] != len(columns)).any() or any(
            (size != np.dtype(kind).itemsize).any()
            for size, (_, kind) in zip(sizes, columns, strict=True)
        ):
            raise DatabaseError("COPY returned a NULL or an unexpected column type")
        for name, kind in columns:
            parts[name].append(block[name].astype(kind))
        used = offset + count * layout.itemsize
        del block, sizes
        if final and bytes(pending[used:]) != _COPY_TRAILER:
            raise DatabaseError("COPY data did not end on a row boundary")
        del pending[:used]
        offset = 0

    get_copy_data = pgconn.get_copy_data
    while True:
        size, data = get_copy_data(0)  # blocking: one CopyData message (one row) per call
        if size < 0:
            break
        pending += data
        if len(pending) >= chunk_bytes:
            parse(final=False)
    copy_drain(pgconn, pgconn.get_result())
    parse(final=True)
    arrays: dict[str, np.ndarray] = {}
    for name, kind in columns:  # one column at a time: the chunks go as each is joined
        chunks = parts.pop(name)
        arrays[name] = np.concatenate(chunks) if chunks else np.empty(0, dtype=kind)
        del chunks
    return arrays


def copy_drain(pgconn: Any, result: Any) -> None:
    """Read the results that end a COPY; raise DatabaseError with the server's message."""
    from psycopg import pq

    error = ""
    while result is not None:
        if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.COPY_OUT):
            error = error or (result.error_message or b"COPY failed").decode(errors="replace")
        result = pgconn.get_result()
    if error:
        raise DatabaseError(error.strip())


def copy_in(
    table: str,
    columns: Sequence[tuple[str, str]],
    values: Sequence[np.ndarray],
    *,
    chunk_bytes: int | None = None,
) -> None:
    """Load aligned numpy arrays into `table` with one binary COPY, a block of rows at a time.

    A block is at most `chunk_bytes` (default `COPY_CHUNK_BYTES`) of rows, at least one row.
    """
    layout = copy_layout(columns)
    rows = len(values[0]) if values else 0
    step = max(1, (chunk_bytes or COPY_CHUNK_BYTES) // layout.itemsize)
    names = ", ".join(name for name, _ in columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT binary)") as copy,
    ):
        copy.write(_COPY_SIGNATURE)
        for start in range(0, rows, step):
            stop = min(start + step, rows)
            block = np.empty(stop - start, dtype=layout)
            block["_fields"] = len(columns)
            for index, ((name, kind), array) in enumerate(zip(columns, values, strict=True)):
                block[f"_size{index}"] = np.dtype(kind).itemsize
                block[name] = array[start:stop]
            copy.write(block.tobytes())
        copy.write(_COPY_TRAILER)


#: `CopyColumn.kind`: its numpy layout in a row (numeric: its own header fields).
_INT_KINDS = {"int2": ">i2", "int4": ">i4", "int8": ">i8"}
_NBASE = 10_000  # numeric's digits are base 10,000


@dataclass(frozen=True, eq=False)
class CopyColumn:
    """One column of `copy_rows`: its name, PostgreSQL type and values.

    `kind`: "int2", "int4", "int8", "float8" (the values as they are, range-checked);
    "numeric" (integers in units of 10**-`scale`, `scale` 0-4: money in cents is scale 2);
    "text" (1-based codes into `labels`, 0 for NULL, as in the write's load table).
    `null`: True where the value is NULL (any kind).
    """

    name: str
    kind: str
    values: np.ndarray
    null: np.ndarray | None = None
    labels: Sequence[str] = ()
    scale: int = 0


def _null_mask(column: CopyColumn) -> np.ndarray | None:
    if column.kind == "text":
        codes = column.values == 0
        return codes if column.null is None else codes | column.null
    return column.null


def _checked(column: CopyColumn, rows: int) -> np.ndarray:
    """The column's values as int64/float64, checked to fit its type (NULLs aside)."""
    if len(column.values) != rows:
        raise ValueError(f"{column.name}: {len(column.values)} values for {rows} rows")
    values = np.asarray(column.values)
    if column.kind == "float8":  # nothing to check: any double fits
        return values.astype(np.float64, copy=False)
    values = values.astype(np.int64, copy=False)
    null = _null_mask(column)
    present = values if null is None else values[~null]
    if column.kind == "text":
        if len(present) and (present.min() < 0 or present.max() > len(column.labels)):
            raise ValueError(f"{column.name}: a code has no label")
        return values
    if column.kind in _INT_KINDS:
        info = np.iinfo(np.dtype(_INT_KINDS[column.kind]))
    elif column.kind == "numeric":
        if not 0 <= column.scale <= 4:
            raise ValueError(f"{column.name}: numeric scale {column.scale} is not 0-4")
        info = np.iinfo(np.int64)
    else:
        raise ValueError(f"{column.name}: no binary COPY for kind {column.kind!r}")
    if len(present) and (present.min() < info.min or present.max() > info.max):
        raise DataError(f"{column.name}: a value is out of range for {column.kind}")
    return values


def _numeric_digits(column: CopyColumn, values: np.ndarray) -> int:
    """How many base-10,000 digits of integer part the column's largest value needs."""
    whole = np.abs(values) // 10**column.scale
    largest = int(whole.max()) if len(whole) else 0
    digits = 1
    while largest >= _NBASE**digits:
        digits += 1
    return digits


def copy_rows(table: str, columns: Sequence[CopyColumn], *, chunk_bytes: int | None = None) -> int:
    """Load `columns` into `table` with one binary COPY, in their row order; return the rows.

    Unlike `copy_in`, values may be NULL, text or numeric (`copy_rows_stream` makes the
    bytes). A value that does not fit its column raises `DataError` naming it before anything
    is sent; the server checks the rest (lengths of `varchar`, precision of `numeric`,
    constraints) and its refusal is raised as Django's error.
    """
    rows = len(columns[0].values) if columns else 0
    if not rows:
        return 0
    stream = copy_rows_stream(columns, chunk_bytes=chunk_bytes)
    names = ", ".join(column.name for column in columns)
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT binary)") as copy,
    ):
        for data in stream:
            copy.write(data)
    return rows


def copy_rows_stream(
    columns: Sequence[CopyColumn], *, chunk_bytes: int | None = None
) -> Iterator[bytes]:
    """Return the bytes of a binary COPY of `columns` (signature, rows, trailer), in pieces.

    The values are checked here, at the call (`DataError` or `ValueError` naming the column);
    the pieces are made as they are read. A block of rows (at most `chunk_bytes` of them at
    their widest, default `COPY_ROWS_CHUNK_BYTES`) is built as one fixed-width numpy array,
    each text as wide as its longest label and each NULL with room for a value; the bytes
    that are not sent (past a text's length, a NULL's value) are then dropped by one boolean
    mask, which leaves the rows as COPY wants them, in their order.
    """
    rows = len(columns[0].values) if columns else 0
    values = [_checked(column, rows) for column in columns]
    nulls = [_null_mask(column) for column in columns]
    # Text: each code's label in UTF-8 (code 0, NULL, has none) and its length in bytes.
    encoded: dict[int, np.ndarray] = {}
    lengths: dict[int, np.ndarray] = {}
    for index, column in enumerate(columns):
        if column.kind == "text":
            texts = [b"", *(str(label).encode() for label in column.labels)]
            encoded[index] = np.array(texts, dtype=f"S{max(1, *map(len, texts))}")
            lengths[index] = np.array([len(text) for text in texts], dtype=np.int32)
    digits = [
        _numeric_digits(column, value) if column.kind == "numeric" else 0
        for column, value in zip(columns, values, strict=True)
    ]
    fields: list[tuple[str, Any]] = [("_fields", ">i2")]
    for index, column in enumerate(columns):
        fields.append((f"_size{index}", ">i4"))
        if column.kind == "text":
            fields.append((f"v{index}", encoded[index].dtype))
        elif column.kind == "numeric":
            count = digits[index] + (1 if column.scale else 0)
            fields += [(f"v{index}_{part}", ">i2") for part in ("n", "w", "s", "d")]
            fields += [(f"v{index}_{digit}", ">i2") for digit in range(count)]
        else:
            kind = ">f8" if column.kind == "float8" else _INT_KINDS[column.kind]
            fields.append((f"v{index}", kind))
    layout = np.dtype(fields)
    # Where each column's value lies in a row: from after its size to the next size.
    offsets = [layout.fields[f"_size{index}"][1] for index in range(len(columns))]  # type: ignore[index]
    spans = list(
        zip([offset + 4 for offset in offsets], [*offsets[1:], layout.itemsize], strict=True)
    )
    step = max(1, (chunk_bytes or COPY_ROWS_CHUNK_BYTES) // layout.itemsize)

    def pieces() -> Iterator[bytes]:
        yield _COPY_SIGNATURE
        for at in range(0, rows, step):
            part = slice(at, min(at + step, rows))
            block = np.empty(part.stop - part.start, dtype=layout)
            block["_fields"] = len(columns)
            keep: np.ndarray | None = None
            for index, column in enumerate(columns):
                value = values[index][part]
                null = nulls[index]
                null = None if null is None else null[part]
                start, end = spans[index]
                if column.kind == "text":
                    size = lengths[index][value]
                    block[f"v{index}"] = encoded[index][value]
                    sent = np.arange(end - start) < size[:, None]
                elif column.kind == "numeric":
                    _numeric_fill(block, index, column, value, digits[index])
                    size = np.full(len(block), end - start, dtype=np.int32)
                    sent = None
                else:
                    block[f"v{index}"] = value
                    size = np.full(len(block), end - start, dtype=np.int32)
                    sent = None
                if null is not None:
                    size = np.where(null, -1, size)
                    sent = ~null[:, None] if sent is None else sent & ~null[:, None]
                block[f"_size{index}"] = size
                if sent is not None:
                    if keep is None:
                        keep = np.ones((len(block), layout.itemsize), dtype=bool)
                    keep[:, start:end] = sent
            data = block.view(np.uint8).reshape(len(block), layout.itemsize)
            yield (data if keep is None else data[keep]).tobytes()
        yield _COPY_TRAILER

    return pieces()


def _numeric_fill(
    block: np.ndarray, index: int, column: CopyColumn, values: np.ndarray, digits: int
) -> None:
    """Write `values` (units of 10**-scale) as numeric: ndigits, weight, sign, dscale, then
    the base-10,000 digits, most significant first. Leading and trailing zero digits are
    allowed: the server strips them (its own form, the same value as a cast would give)."""
    scale = column.scale
    count = digits + (1 if scale else 0)
    whole, fraction = np.divmod(np.abs(values), 10**scale)
    prefix = f"v{index}_"
    block[prefix + "n"] = count
    block[prefix + "w"] = digits - 1
    block[prefix + "s"] = np.where(values < 0, 0x4000, 0).astype(np.int16)
    block[prefix + "d"] = scale
    for digit in range(digits):
        block[prefix + str(digit)] = (whole // _NBASE ** (digits - 1 - digit)) % _NBASE
    if scale:
        block[prefix + str(digits)] = fraction * 10 ** (4 - scale)


def numeric_columns(
    sql: str, params: Sequence[Any], columns: Sequence[tuple[str, str]]
) -> dict[str, np.ndarray]:
    """Return the rows of `sql` as one numpy array per column (`columns`: (name, kind) pairs,
    kind i2/i4/i8/f8), for the reads of a run's million snapshots or customers in one
    statement (the reports, the what-if, the window's profit).

    On PostgreSQL one binary COPY (`copy_out`: every value NOT NULL and of the named width);
    elsewhere (SQLite, small) the cursor's rows, where a NULL float is NaN.
    """
    if connection.vendor == "postgresql":
        return copy_out(sql, params, columns)
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        rows = cursor.fetchall()
    return {
        name: np.array(
            [row[i] for row in rows],
            dtype=np.float64 if kind == "f8" else np.int64,
        ).astype(kind)
        for i, (name, kind) in enumerate(columns)
    }
