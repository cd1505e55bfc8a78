"""Binary COPY to and from numpy (`grading.pipeline.pgcopy`): every kind of value the pipeline
moves comes back as it went in, whether the bytes travel in one chunk or in many."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.db import DatabaseError, connection, transaction

from grading.pipeline import pgcopy
from grading.pipeline.backends import postgresql

pytestmark = [pytest.mark.services, pytest.mark.django_db]

ROWS = 1_000
#: Text travels as 1-based codes into these labels (0: none), as in the write's load table.
LABELS = ["Key account", "金卡", 'O\'Brien, "quoted"', "", "a\\b\tc"]
EPOCH_2000 = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
INSTANTS = [
    dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),  # before both epochs
    EPOCH_2000,
    dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),  # a DST change in Europe
    dt.datetime(2026, 11, 1, 5, 59, 59, 123_456, tzinfo=dt.UTC),
]
COLUMNS = [
    ("n", "bigint", "i8"),
    ("small", "smallint", "i2"),
    ("medium", "integer", "i4"),
    ("big", "bigint", "i8"),
    ("real", "double precision", "f8"),
    ("at", "timestamp with time zone", "i8"),  # microseconds since 2000-01-01 UTC
    ("code", "smallint", "i2"),
]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("binary COPY is PostgreSQL's")


def _micros(instant: dt.datetime) -> int:
    return (instant - EPOCH_2000) // dt.timedelta(microseconds=1)


def _values() -> dict[str, np.ndarray]:
    """ROWS rows with each type's extremes first, then seeded random values."""
    rng = np.random.default_rng(7)
    n = np.arange(ROWS, dtype=np.int64)
    values = {
        "n": n,
        "small": rng.integers(-(2**15), 2**15, ROWS, dtype=np.int16),
        "medium": rng.integers(-(2**31), 2**31, ROWS, dtype=np.int32),
        "big": rng.integers(-(2**63), 2**63 - 1, ROWS, dtype=np.int64),
        "real": rng.normal(0, 1e6, ROWS),
        "at": rng.integers(_micros(INSTANTS[0]), _micros(INSTANTS[-1]), ROWS, dtype=np.int64),
        "code": rng.integers(0, len(LABELS) + 1, ROWS, dtype=np.int16),
    }
    values["small"][:2] = [np.iinfo(np.int16).min, np.iinfo(np.int16).max]
    values["medium"][:2] = [np.iinfo(np.int32).min, np.iinfo(np.int32).max]
    values["big"][:2] = [np.iinfo(np.int64).min, np.iinfo(np.int64).max]
    special = [np.nan, -0.0, np.inf, -np.inf, 5e-324, np.finfo(np.float64).max, np.nan]
    values["real"][: len(special)] = special
    values["real"][ROWS // 2 :: 97] = np.nan
    values["at"][: len(INSTANTS)] = [_micros(instant) for instant in INSTANTS]
    values["code"][: len(LABELS) + 1] = np.arange(len(LABELS) + 1)
    return values


def _load(values: dict[str, np.ndarray], *, chunk_bytes: int | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE copied ("
            + ", ".join(f"{name} {sqltype} NOT NULL" for name, sqltype, _ in COLUMNS)
            + ")"
        )
    pgcopy.copy_in(
        "copied",
        [(name, kind) for name, _, kind in COLUMNS],
        [values[name] for name, _, _ in COLUMNS],
        chunk_bytes=chunk_bytes,
    )


@pytest.fixture
def parses(monkeypatch) -> list[int]:
    """The number of rows in each block `copy_out` parsed."""
    blocks: list[int] = []
    frombuffer = np.frombuffer

    def counting(*args, **kwargs):
        block = frombuffer(*args, **kwargs)
        blocks.append(len(block))
        return block

    monkeypatch.setattr(pgcopy.np, "frombuffer", counting)
    return blocks


@pytest.mark.parametrize("chunk_bytes", [None, 1, 150, 4096])
def test_values_round_trip_in_one_chunk_or_many(chunk_bytes, parses):
    values = _values()

    _load(values, chunk_bytes=chunk_bytes)
    out = pgcopy.copy_out(
        "SELECT " + ", ".join(name for name, _, _ in COLUMNS) + " FROM copied ORDER BY n",
        [],
        [(name, kind) for name, _, kind in COLUMNS],
        chunk_bytes=chunk_bytes,
    )

    assert list(out) == [name for name, _, _ in COLUMNS]
    for name, _, kind in COLUMNS:
        assert out[name].dtype == np.dtype(kind), name
        np.testing.assert_array_equal(out[name], values[name], err_msg=name)  # NaN == NaN
    assert np.isnan(out["real"]).sum() == np.isnan(values["real"]).sum() > 2
    assert np.signbit(out["real"][1]), "-0.0 keeps its sign"
    # The chunked path: one parse at the end, or one every `chunk_bytes` of rows.
    assert sum(parses) == ROWS
    assert len(parses) == 1 if chunk_bytes is None else len(parses) > 10


def test_the_module_chunk_size_is_the_default(monkeypatch, parses):
    monkeypatch.setattr(pgcopy, "COPY_CHUNK_BYTES", 200)
    values = _values()

    _load(values, chunk_bytes=None)
    out = pgcopy.copy_out("SELECT n FROM copied ORDER BY n", [], [("n", "i8")])

    np.testing.assert_array_equal(out["n"], values["n"])
    assert len(parses) > ROWS // 20


def test_timestamps_are_the_server_instants():
    values = _values()
    _load(values, chunk_bytes=None)

    with connection.cursor() as cursor:
        cursor.execute("SELECT at FROM copied WHERE n < %s ORDER BY n", [len(INSTANTS)])
        assert [row[0] for row in cursor.fetchall()] == INSTANTS
    out = pgcopy.copy_out(
        "SELECT %s::timestamptz, at FROM copied WHERE n = 2",
        [INSTANTS[2]],
        [("param", "i8"), ("at", "i8")],
    )
    assert out["param"].tolist() == out["at"].tolist() == [_micros(INSTANTS[2])]


def test_text_round_trips_as_codes():
    """In: codes decoded by the backend's SQL; out: text encoded as its position in a list."""
    values = _values()
    _load(values, chunk_bytes=1)
    decode_sql, params = postgresql.decode("code", LABELS)

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE labelled AS SELECT n, {decode_sql} AS label FROM copied",
            params,
        )
        cursor.execute("SELECT label FROM labelled ORDER BY n")
        labels = [row[0] for row in cursor.fetchall()]
    expected = [LABELS[code - 1] if code else None for code in values["code"].tolist()]
    assert labels == expected
    out = pgcopy.copy_out(
        "SELECT n, coalesce(array_position(%s::text[], label), 0)::smallint"
        " FROM labelled ORDER BY n",
        [LABELS],
        [("n", "i8"), ("code", "i2")],
        chunk_bytes=64,
    )
    # An empty label decodes to '' and comes back as its own code; NULL (code 0) as 0.
    np.testing.assert_array_equal(out["code"], values["code"])


def test_no_rows_give_empty_typed_arrays():
    _load({name: np.empty(0, dtype=kind) for name, _, kind in COLUMNS}, chunk_bytes=1)

    out = pgcopy.copy_out("SELECT n, real FROM copied", [], [("n", "i8"), ("real", "f8")])

    assert out["n"].dtype == np.int64
    assert out["real"].dtype == np.float64
    assert out["n"].size == out["real"].size == 0


def test_a_null_is_refused():
    with pytest.raises(DatabaseError, match="NULL"):
        pgcopy.copy_out("SELECT NULL::bigint FROM generate_series(1, 3)", [], [("n", "i8")])


def test_a_server_error_is_raised_with_its_message():
    with pytest.raises(DatabaseError, match="division by zero"):
        pgcopy.copy_out("SELECT 1 / 0", [], [("n", "i4")])


# ------------------------------------------------------------------- copy_rows: any shape

#: What `copy_rows` writes, against the SQL type each kind is for.
ROW_TABLE = (
    "CREATE TEMPORARY TABLE shaped (n bigint NOT NULL, small smallint, medium integer,"
    " real double precision, money numeric(14, 2), whole numeric(12, 0), label varchar(20),"
    " note text)"
)


def _shaped_columns(rng: np.random.Generator, rows: int) -> list[pgcopy.CopyColumn]:
    """Columns with extremes first, then seeded random values, NULLs in every nullable one."""
    cents = rng.integers(-(10**14) + 1, 10**14, rows, dtype=np.int64)
    edge_cents = [0, 1, -1, 99, -99, 100, 10_000, 123_456_789, 10**14 - 1, -(10**14) + 1]
    cents[: len(edge_cents)] = edge_cents
    small = rng.integers(-(2**15), 2**15, rows, dtype=np.int64)
    small[:2] = [-(2**15), 2**15 - 1]
    medium = rng.integers(-(2**31), 2**31, rows, dtype=np.int64)
    medium[:2] = [-(2**31), 2**31 - 1]
    real = rng.normal(0, 1e6, rows)
    real[:4] = [-0.0, np.inf, 5e-324, np.finfo(np.float64).max]
    whole = rng.integers(-(10**12) + 1, 10**12, rows, dtype=np.int64)
    whole[:3] = [0, 10**12 - 1, 9_999]
    label = rng.integers(0, len(LABELS) + 1, rows, dtype=np.int16)
    label[: len(LABELS) + 1] = np.arange(len(LABELS) + 1)
    return [
        pgcopy.CopyColumn("n", "int8", np.arange(rows)),
        pgcopy.CopyColumn("small", "int2", small, null=rng.random(rows) < 0.2),
        pgcopy.CopyColumn("medium", "int4", medium),
        pgcopy.CopyColumn("real", "float8", real, null=rng.random(rows) < 0.3),
        pgcopy.CopyColumn("money", "numeric", cents, null=rng.random(rows) < 0.1, scale=2),
        pgcopy.CopyColumn("whole", "numeric", whole),
        pgcopy.CopyColumn("label", "text", label, labels=LABELS),
        pgcopy.CopyColumn("note", "text", np.ones(rows, dtype=np.int16), labels=["é ✓"]),
    ]


def _expected(columns: list[pgcopy.CopyColumn]) -> list[tuple]:
    """The rows as psycopg reads them back: NULL as None, money as exact Decimals."""
    from decimal import Decimal

    out = []
    for row in range(len(columns[0].values)):
        values: list[object] = []
        for column in columns:
            value = column.values[row]
            if (column.null is not None and column.null[row]) or (
                column.kind == "text" and value == 0
            ):
                values.append(None)
            elif column.kind == "text":
                values.append(column.labels[int(value) - 1])
            elif column.kind == "numeric":
                values.append(Decimal(int(value)).scaleb(-column.scale))
            elif column.kind == "float8":
                values.append(float(value))
            else:
                values.append(int(value))
        out.append(tuple(values))
    return out


@pytest.mark.parametrize("chunk_bytes", [None, 1, 300])
def test_rows_of_every_shape_arrive_as_they_went(chunk_bytes):
    """NULLs, text of every length (empty, multibyte), money of every sign and size: each row
    comes back exactly and in its order, whether the rows are sent in one block or one by one."""
    columns = _shaped_columns(np.random.default_rng(11), 600)
    with connection.cursor() as cursor:
        cursor.execute(ROW_TABLE)

    written = pgcopy.copy_rows("shaped", columns, chunk_bytes=chunk_bytes)

    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM shaped ORDER BY ctid")  # as the COPY wrote them
        order = [n for (n,) in cursor.fetchall()]
        cursor.execute("SELECT * FROM shaped ORDER BY n")
        rows = cursor.fetchall()
        cursor.execute("SELECT DISTINCT scale(money) FROM shaped WHERE money IS NOT NULL")
        scales = cursor.fetchall()
    assert written == len(rows) == 600
    assert order == list(range(600))
    assert rows == _expected(columns)
    assert scales == [(2,)], "money keeps its two decimals, as a cast to numeric(14, 2) gives"


def test_money_is_stored_as_the_cast_of_its_cents_stores_it():
    """The bytes the server keeps are those of the SQL the INSERT path uses (cents / 100.0)."""
    cents = np.array([0, 1, -1, 100, -100, 1_000_000, 123_456_789_012, -99_990_000], np.int64)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE money (n bigint, copied numeric(14, 2))")
    pgcopy.copy_rows(
        "money",
        [
            pgcopy.CopyColumn("n", "int8", cents),
            pgcopy.CopyColumn("copied", "numeric", cents, scale=2),
        ],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM money WHERE numeric_send(copied)"
            " = numeric_send((n / 100.0)::numeric(14, 2))"
        )
        assert cursor.fetchone()[0] == len(cents)


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (pgcopy.CopyColumn("small", "int2", np.array([1, 2**15])), "small: a value is out of"),
        (pgcopy.CopyColumn("medium", "int4", np.array([-(2**31) - 1])), "medium: a value is out"),
        (pgcopy.CopyColumn("label", "text", np.array([1, 2]), labels=["x"]), "label: a code"),
        (pgcopy.CopyColumn("money", "numeric", np.array([1]), scale=5), "money: numeric scale"),
    ],
)
def test_a_value_that_does_not_fit_is_refused_before_anything_is_sent(column, message):
    with connection.cursor() as cursor:
        cursor.execute(ROW_TABLE)
    values = np.arange(len(column.values))

    with pytest.raises((DatabaseError, ValueError), match=message):
        pgcopy.copy_rows("shaped", [pgcopy.CopyColumn("n", "int8", values), column])


def test_the_server_refuses_what_only_it_checks():
    """Too long for varchar(20), too many digits for numeric(14, 2): the server's message."""
    with connection.cursor() as cursor:
        cursor.execute(ROW_TABLE)
    one = np.array([0])

    with pytest.raises(DatabaseError, match="character varying"), transaction.atomic():
        pgcopy.copy_rows(
            "shaped",
            [
                pgcopy.CopyColumn("n", "int8", one),
                pgcopy.CopyColumn("label", "text", np.array([1]), labels=["x" * 21]),
            ],
        )
    with pytest.raises(DatabaseError, match="numeric field overflow"), transaction.atomic():
        pgcopy.copy_rows(
            "shaped",
            [
                pgcopy.CopyColumn("n", "int8", one),
                pgcopy.CopyColumn("money", "numeric", np.array([10**14]), scale=2),
            ],
        )


def test_no_rows_write_nothing():
    assert pgcopy.copy_rows("shaped", [pgcopy.CopyColumn("n", "int8", np.empty(0))]) == 0
