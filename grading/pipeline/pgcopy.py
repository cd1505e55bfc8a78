"""PostgreSQL binary COPY of fixed-width columns to and from numpy arrays.

Big reads and writes of a grading run on PostgreSQL use COPY in its binary format with
fixed-width, NOT NULL columns only (NULLs travel as sentinels, text as small integer codes),
so a whole block of rows is one numpy structured array: no per-value Python object, no text
formatting or parsing on either side. Used by the grading pipeline's PostgreSQL backend
(`grading.pipeline.backends.postgresql`: extract, grade states and the write's load), and
through `numeric_columns` (which falls back to the cursor's rows on SQLite) by the reports,
the what-if and the window's profit read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from django.db import DatabaseError, connection

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no extension
_COPY_TRAILER = b"\xff\xff"
#: Raw COPY bytes parsed (or built) at a time: bounds the buffers of a 10M-row extract.
#: Either function also takes `chunk_bytes=` (tests pass a few rows' worth).
COPY_CHUNK_BYTES = 32 << 20


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
