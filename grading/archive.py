"""A run's snapshots as a Parquet file: written before retention drops them, read after.

The file holds every column of the snapshot table, one row per snapshot, typed from the model
(integers as int64, floats as float64, money as decimal, text as strings, NULL kept), so that
anything read from the snapshots of a hot run can be read from an archived one the same way
(`grading.exports`). Written to a temporary name and renamed: a file at the final path is
complete. docs/operations.md, "Snapshots and retention".
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from django.conf import settings
from django.db import connection, models

from grading.models import GradingRun, ScoreSnapshot


def _arrow_type(field: models.Field[Any, Any]) -> pa.DataType:
    if isinstance(field, models.DecimalField):
        return pa.decimal128(field.max_digits, field.decimal_places)
    if isinstance(field, models.FloatField):
        return pa.float64()
    if isinstance(field, models.CharField):
        return pa.string()
    if isinstance(field, models.IntegerField | models.AutoField | models.ForeignKey):
        return pa.int64()
    raise TypeError(f"ScoreSnapshot.{field.name}: no archive type for {field!r}")


def archive_schema() -> pa.Schema:
    """Return the archive's columns: the snapshot table's, by column name, in model order."""
    return pa.schema(
        [
            pa.field(field.column, _arrow_type(field), nullable=field.null or field.primary_key)
            for field in ScoreSnapshot._meta.concrete_fields
        ]
    )


def archive_path(run: GradingRun) -> Path:
    """Return where run `run`'s archive goes: `<GRADING_SNAPSHOT_ARCHIVE_DIR>/<scheme>/run-<id>`."""
    root = Path(settings.GRADING_SNAPSHOT_ARCHIVE_DIR)
    return root / f"scheme-{run.scheme_id}" / f"run-{run.pk}.parquet"


def _read_table(run_id: int, schema: pa.Schema) -> pa.Table:
    table = ScoreSnapshot._meta.db_table
    names = ", ".join(schema.names)
    select = f"SELECT {names} FROM {table} WHERE run_id = {int(run_id)} ORDER BY customer_id"
    if connection.vendor == "postgresql":
        # One COPY, parsed by Arrow: a million rows in a couple of seconds. PostgreSQL writes
        # floats with the shortest text that reads back exactly.
        buffer = io.BytesIO()
        copy_sql = f"COPY ({select}) TO STDOUT WITH (FORMAT csv)"
        with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
            for block in copy:
                buffer.write(block)
        buffer.seek(0)
        if not buffer.getbuffer().nbytes:
            return schema.empty_table()
        return pa_csv.read_csv(
            buffer,
            read_options=pa_csv.ReadOptions(column_names=schema.names),
            convert_options=pa_csv.ConvertOptions(
                column_types=schema, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
    with connection.cursor() as cursor:
        cursor.execute(select)
        rows = cursor.fetchall()
    columns: list[list[Any]] = [[] for _ in schema.names]
    for row in rows:
        for values, value in zip(columns, row, strict=True):
            values.append(value)
    return pa.table(
        [pa.array(values, type=f.type) for values, f in zip(columns, schema, strict=True)],
        schema=schema,
    )


def archive_write(run: GradingRun) -> tuple[Path, int]:
    """Write run `run`'s snapshots to its archive file; return (path, rows).

    Written to `<path>.tmp`, flushed and renamed over the final name, so a crash leaves no
    half file at the path a run records.
    """
    schema = archive_schema()
    table = _read_table(run.pk, schema)
    path = archive_path(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    pq.write_table(table, temporary, compression="zstd")
    with open(temporary, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return path, table.num_rows


def archive_frame(run: GradingRun, columns: list[str] | None = None) -> pd.DataFrame:
    """Return the archived snapshots of `run` (column names as in the table: `customer_id`).

    Nullable integers come back as pandas' Int64 and money as Decimal, as the ORM gives them.
    """
    table = pq.read_table(run.snapshots_archive, columns=columns)
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
