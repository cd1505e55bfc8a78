"""The orders import's fast path (issue #15): `_OrderCells.parse` reads every cell as the
checker does, errors included, and the block-built COPY writes the same rows as psycopg's
`write_row` per row did."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import override_settings

from customers.models import Category, Order
from customers.services import imports
from customers.services.imports import ImportReport, RowChecker, _OrderCells, order_import
from tests.customers.factories import CustomerFactory

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)

#: A valid row; each case below changes one or more of its cells.
GOOD = {
    "order_no": "O-1",
    "customer_code": "ACME",
    "placed_at": "2026-05-01 09:30",
    "amount": "100.50",
}

#: (column, cell): good, unusual and bad values of every column the fast path reads.
CELLS = [
    *[
        ("order_no", cell)
        for cell in ("", "O" * 64, "O" * 65, "'=SUM(A1)", "'x", "订单-1", "a\tb\\c", "\\N")
    ],
    *[("customer_code", cell) for cell in ("", "C" * 64, "C" * 65, "'-C1", "客户")],
    *[
        ("placed_at", cell)
        for cell in (
            "",
            "2026-05-01",
            "2026-05-01T09:30:15.123456",
            "2026-05-01 09:30+05:30",
            "2026-05-01 09:30Z",
            "2026-05-01 09:30-0800",
            "2026-02-30",
            "2026-05-01 25:00",
            "2026-12-05 11:59",  # within the tolerance (24 hours after now)
            "2026-12-05 20:01",  # local time: past the tolerance
            "2026-12-05 12:01Z",  # an offset: past the tolerance
            "2027-01-01",
            "2026/05/01",
            "2026年5月1日",
            "03/04/2026",
            "25/12/2026",
            "'=2026-05-01",
            "x",
        )
    ],
    *[
        ("amount", cell)
        for cell in (
            "",
            "0",
            "-0",
            "+5",
            ".5",
            "5.",
            "1,5",
            "1.234",
            "1.230",
            "-1",
            "9999999999.99",
            "10000000000",
            "1e3",
            "'=1",
        )
    ],
    *[("category", cell) for cell in ("", "c" * 64, "c" * 65, "'@cat", "类别")],
    *[("status", cell) for cell in ("", "paid", "Completed", "已退款", " REFUNDED ", "shipped")],
    *[("profit", cell) for cell in ("", "0", "-12.5", "-0.001", "12.345", "x", "-99999999999")],
    *[("refunded_amount", cell) for cell in ("", "0", "5.5", "-1", "100.51", "x")],
]


def _read(row: dict[str, str], *, fast: bool, times: int = 2) -> tuple[list[Any], list[str]]:
    """Return each reading of `row` (read `times` times, from line 2 on) and the errors."""
    report = ImportReport()
    cells = _OrderCells(RowChecker(report, Order))
    read = cells.parse if fast else cells.checked
    values = [read(line, dict(row)) for line in range(2, 2 + times)]
    return values, [str(error) for error in report.errors]


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(("column", "cell"), CELLS)
def test_fast_cells_read_and_reject_as_the_checker_does(column, cell):
    row = {**GOOD, column: cell}

    fast, fast_errors = _read(row, fast=True)
    checked, checked_errors = _read(row, fast=False)

    assert fast == checked
    # The same error, naming line and column, on every line that has the cell (a cell the
    # fast path remembered is good; a bad one is never remembered).
    assert fast_errors == checked_errors


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_a_missing_column_is_a_required_value_on_the_fast_path():
    row = {"order_no": "O-1", "amount": "5"}

    fast, errors = _read(row, fast=True, times=1)

    assert fast == _read(row, fast=False, times=1)[0]
    assert errors == [
        "line 2, customer_code: a value is required",
        "line 2, placed_at: a value is required",
    ]


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    "cell",
    [
        "2026-03-08 02:30",  # New York: a time the clocks skip
        "2026-11-01 01:30",  # New York: a time that happens twice
        "2026-07-01 12:00",
        "2026-12-05 06:59",  # 11:59 UTC: within the tolerance (24 hours after now)
        "2026-12-05 07:01",  # past it
    ],
)
def test_fast_moments_follow_a_daylight_saving_zone(cell):
    with override_settings(TIME_ZONE="America/New_York"):
        row = {**GOOD, "placed_at": cell}
        assert _read(row, fast=True) == _read(row, fast=False)


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_cells_past_the_cache_are_still_read_exactly(monkeypatch):
    monkeypatch.setattr(imports, "_CELL_CACHE", 1)
    report = ImportReport()
    cells = _OrderCells(RowChecker(report, Order))
    rows = [{**GOOD, "amount": amount, "profit": f"-{amount}"} for amount in ("1", "2", "1")]

    values = [cells.parse(line, row) for line, row in enumerate(rows, start=2)]

    assert [(value[3], value[6]) for value in values] == [
        (Decimal("1.00"), Decimal("-1.00")),
        (Decimal("2.00"), Decimal("-2.00")),
        (Decimal("1.00"), Decimal("-1.00")),
    ]
    assert list(cells.money) == ["1"]
    assert not report.errors


# --- the rows written ------------------------------------------------------------------------

#: A file to trip up COPY's text format and the cell reading: quotes, commas, tabs,
#: backslashes (and the text "\N"), new lines, unicode, blank optional cells, several zones.
TRICKY = [
    ["order_no", "customer_code", "placed_at", "amount", "category", "status", "profit"],
    ['O "quoted", with commas', "ACME", "2026-05-01 09:30", "100.5", "", "", ""],
    [
        "O\ttab\\backslash",
        "客户-1",
        "2026-05-01T09:30:15.123456+05:30",
        "0",
        "类别\\1",
        "paid",
        "-3",
    ],
    ["\\N", "ACME", "2026-05-01 23:59:59Z", "-0", "cat,1", "Completed", "0"],
    ["O\nnew line\rreturn", "客户-1", "2026/05/02 8:05", "1.2", "cat\t2", "已退款", "12.34"],
    ["订单—ü", "ACME", "2026年5月3日", "9999999999.99", "", "cancelled", "-9999999999.99"],
    ["O\\b\\t", "ACME", "2026-05-04 00:00:00-08:00", "7", "cat,1", "", ""],
    ["'=formula", "ACME", "2026-03-29 02:30", "3", "", "", ""],
]


def _old_insert_orders(
    rows: Any, customer_ids: dict[str, int], category_ids: dict[str, int]
) -> None:
    """The insert before the fast path: psycopg's `write_row` per row (PostgreSQL)."""
    now = imports.timezone.now()
    values = [
        (
            row[1],
            customer_ids[row[2]],
            row[3],
            row[4],
            Decimal("0.00") if row[5] is None else row[5],
            row[6],
            category_ids[row[7]] if row[7] else None,
            row[8] or Order.Status.PAID.value,
            now,
        )
        # (line, order_no, customer_code, placed_at, amount, refunded, profit, category, status)
        for row in rows
    ]
    if connection.vendor != "postgresql":
        attnames = [imports._field(Order, name).attname for name in imports._COPY_COLUMNS]
        Order.objects.bulk_create(Order(**dict(zip(attnames, row, strict=True))) for row in values)
        return
    columns = ", ".join(
        connection.ops.quote_name(imports._column(Order, name)) for name in imports._COPY_COLUMNS
    )
    with connection.cursor() as cursor:
        sql = f"COPY {Order._meta.db_table} ({columns}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for row in values:
                copy.write_row(row)


def _stored_orders() -> list[tuple[Any, ...]]:
    """Return every order as the database has it, as text (numbers, times and all)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT o.order_no, c.code, CAST(o.placed_at AS TEXT), CAST(o.amount AS TEXT), "
            "CAST(o.refunded_amount AS TEXT), CAST(o.profit AS TEXT), k.code, o.status, "
            "CAST(o.created_at AS TEXT) "
            f"FROM {Order._meta.db_table} o "
            "JOIN customers_customer c ON c.id = o.customer_id "
            "LEFT JOIN customers_category k ON k.id = o.category_id ORDER BY o.order_no"
        )
        return list(cursor.fetchall())


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/London"])
def test_fast_path_writes_the_rows_the_checker_and_write_row_wrote(
    tmp_path: Path, monkeypatch, zone
):
    CustomerFactory(code="ACME")
    CustomerFactory(code="客户-1")
    path = tmp_path / "tricky.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(TRICKY)

    with override_settings(TIME_ZONE=zone):
        order_import(source=path, filename=path.name)
        fast = _stored_orders()
        Order.objects.all().delete()
        Category.objects.all().delete()
        with monkeypatch.context() as patched:
            patched.setattr(_OrderCells, "parse", _OrderCells.checked)
            patched.setattr(imports, "_insert_orders", _old_insert_orders)
            order_import(source=path, filename=path.name)
        before = _stored_orders()

    assert len(fast) == len(TRICKY) - 1
    assert fast == before
    assert {row[0] for row in fast} >= {"O\ttab\\backslash", "\\N", "O\nnew line\rreturn"}
