"""Customer and order file imports: formats, validation, all-or-nothing (invariant 7), the
commands, and a query count that does not grow with the file."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from openpyxl import Workbook

from customers.exceptions import ImportRejected
from customers.models import Category, Customer, Order
from customers.services.events import events_import
from customers.services.imports import ImportReport, customer_import, order_import
from customers.tabular import TableError, open_table, read_rows, write_table
from tests.customers.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    UserFactory,
)

LOCAL = ZoneInfo(settings.TIME_ZONE)
#: The date forms a bad date's message lists.
DATE_FORMS = (
    "YYYY-MM-DD or YYYY/MM/DD (with HH:MM[:SS] for a time), an Excel date cell, or ISO 8601 "
    "with an offset"
)
KINDS = (
    "channel_agent (Channel agent, 渠道代理商), reseller (Reseller, 经销商), "
    "end_customer (End customer, 终端客户)"
)
ORDER_HEADER = ["order_no", "customer_code", "placed_at", "amount"]


# --- helpers -------------------------------------------------------------------------------


def write_csv(path: Path, rows: Sequence[Sequence[object]], *, bom: bool = False) -> Path:
    """Write `rows` (header first) as a UTF-8 CSV file, optionally with a BOM."""
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as file:
        csv.writer(file).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    """Write `rows` (header first) to the first sheet; None leaves a row or cell empty."""
    workbook = Workbook()
    sheet = workbook.active
    for row_number, row in enumerate(rows, start=1):
        for column, value in enumerate(row or [], start=1):
            if value is not None:
                sheet.cell(row=row_number, column=column, value=value)
    workbook.save(path)
    return path


def import_customers(path: Path, **kwargs: Any) -> ImportReport:
    return customer_import(source=path, filename=path.name, **kwargs)


def import_orders(path: Path, **kwargs: Any) -> ImportReport:
    return order_import(source=path, filename=path.name, **kwargs)


def rejected_errors(call, *args, **kwargs) -> list[str]:
    """Run an import that must be rejected; return its errors as printed."""
    with pytest.raises(ImportRejected) as rejected:
        call(*args, **kwargs)
    return [str(error) for error in rejected.value.report.errors]


# --- tabular -------------------------------------------------------------------------------


def test_csv_rows_are_keyed_by_normalised_header_with_file_line_numbers(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        [[" Code ", "NAME"], ["C1", " Acme "], [], ["C2", "Beta"], ["", ""]],
        bom=True,
    )

    rows = list(read_rows(path))

    assert rows == [(2, {"code": "C1", "name": "Acme"}), (4, {"code": "C2", "name": "Beta"})]


def test_csv_line_numbers_follow_quoted_cells_spanning_lines(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('code,name\nC1,"two\nlines"\nC2,Beta\n', encoding="utf-8")

    assert [line for line, _ in read_rows(path)] == [2, 4]


def test_binary_file_object_is_read_and_left_open():
    upload = io.BytesIO("code,name\nC1,Äcme\n".encode())

    with open_table(upload, "upload.CSV") as table:
        rows = list(table.rows)

    assert table.header == ("code", "name")
    assert rows == [(2, {"code": "C1", "name": "Äcme"})]
    assert not upload.closed


def test_cells_beyond_the_header_are_kept_under_the_unnamed_column(tmp_path):
    path = write_csv(tmp_path / "c.csv", [["code", "", "name"], ["C1", "x", "Acme", "", "y"]])

    assert list(read_rows(path)) == [(2, {"code": "C1", "name": "Acme", "": "x, y"})]


def test_xlsx_cells_become_exact_strings_with_sheet_row_numbers(tmp_path):
    path = write_xlsx(
        tmp_path / "o.xlsx",
        [
            ["Amount", "Whole", "Count", "Placed", "Day", "Noise"],
            [1234.5, 1234.0, 7, dt.datetime(2024, 5, 1, 10, 30), dt.date(2024, 5, 2), 0.1 + 0.2],
            [None],
            [0.05, None, None, None, None, 12345678901.25],
        ],
    )

    rows = list(read_rows(path))

    assert rows == [
        (
            2,
            {
                "amount": "1234.5",
                "whole": "1234",
                "count": "7",
                "placed": "2024-05-01 10:30:00",
                "day": "2024-05-02 00:00:00",
                "noise": "0.3",
            },
        ),
        (
            4,
            {
                "amount": "0.05",
                "whole": "",
                "count": "",
                "placed": "",
                "day": "",
                "noise": "12345678901.25",
            },
        ),
    ]


@pytest.mark.parametrize("name", ["orders.txt", "orders", "orders.xls"])
def test_other_extensions_are_refused(tmp_path, name):
    path = tmp_path / name
    path.write_text("order_no\n", encoding="utf-8")

    with pytest.raises(TableError, match=r"^unsupported file type .*; use a \.csv or \.xlsx file$"):
        list(read_rows(path))


def test_a_file_that_is_not_xlsx_is_refused(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_text("code,name\n", encoding="utf-8")

    with pytest.raises(TableError, match="not a valid XLSX workbook"):
        list(read_rows(path))


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_write_table_round_trips_and_neutralises_formulas(tmp_path, suffix):
    path = tmp_path / f"out.{suffix}"
    placed = dt.datetime(2024, 5, 1, 2, 30, tzinfo=dt.UTC)  # 10:30 in Asia/Shanghai

    write_table(path, ["code", "amount", "note"], [["C1", "-12.5", "=HYPERLINK(1)"]])
    write_table(tmp_path / f"when.{suffix}", ["placed"], [[placed]])

    assert list(read_rows(path)) == [
        (2, {"code": "C1", "amount": "-12.5", "note": "'=HYPERLINK(1)"})
    ]
    ((_, when),) = read_rows(tmp_path / f"when.{suffix}")
    assert when["placed"] == placed.astimezone(LOCAL).replace(tzinfo=None).isoformat(sep=" ")


# --- customers -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("write", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_customer_import_creates_customers_with_every_column(tmp_path, alice, bob, write):
    path = write(
        tmp_path / f"customers.{'csv' if write is write_csv else 'xlsx'}",
        [
            [
                "code",
                "name",
                "kind",
                "industry",
                "email",
                "phone",
                "registered_at",
                "account_manager",
            ],
            [
                "C1",
                "Acme",
                "Reseller",
                "games",
                "ops@acme.test",
                "+86 10 1234",
                "2023-01-15",
                "alice-am",
            ],
            ["C2", "Beta", "", "", "", "", "2023-02-01 09:30", "BOB-AM@example.com"],
        ],
    )

    report = import_customers(path)

    assert (report.total_rows, report.created, report.updated, report.errors) == (2, 2, 0, [])
    acme, beta = Customer.objects.order_by("code")
    assert (acme.name, acme.kind, acme.industry, acme.email, acme.phone) == (
        "Acme",
        Customer.Kind.RESELLER,
        "games",
        "ops@acme.test",
        "+86 10 1234",
    )
    assert acme.registered_at == dt.datetime(2023, 1, 15, tzinfo=LOCAL)
    assert acme.account_manager == alice
    assert (beta.kind, beta.email, beta.account_manager) == (Customer.Kind.END_CUSTOMER, "", bob)
    assert beta.registered_at == dt.datetime(2023, 2, 1, 9, 30, tzinfo=LOCAL)


@pytest.mark.django_db
def test_customer_reimport_updates_given_columns_and_keeps_blank_cells(tmp_path, alice):
    customer = CustomerFactory(
        code="C1", name="Old", industry="retail", email="old@x.test", phone="123"
    )
    path = write_csv(
        tmp_path / "c.csv",
        [
            ["code", "name", "industry", "email", "account_manager"],
            ["C1", "New name", "", "new@x.test", "alice-am"],
            ["C2", "Fresh", "games", "", ""],
        ],
    )

    report = import_customers(path)

    assert (report.created, report.updated) == (1, 1)
    customer.refresh_from_db()
    assert (customer.name, customer.industry, customer.email, customer.phone) == (
        "New name",
        "retail",  # blank cell: kept
        "new@x.test",
        "123",  # column not in the file: untouched
    )
    assert customer.account_manager == alice
    assert Customer.objects.get(code="C2").industry == "games"


CUSTOMER_ERRORS = [
    pytest.param(
        [["code", "kind"], ["C1", "reseller"]],
        ["line 1, name: required column is missing"],
        id="missing-column",
    ),
    pytest.param(
        [["code", "name", "segment"], ["C1", "A", "x"]],
        [
            "line 1, segment: unknown column; the columns are code, name, kind, industry, "
            "email, phone, registered_at, account_manager"
        ],
        id="unknown-column",
    ),
    pytest.param(
        [["code", "name", "name"], ["C1", "A", "B"]],
        ["line 1, name: the column appears more than once"],
        id="repeated-column",
    ),
    pytest.param(
        [["code", "name"], ["C1", "A"], ["C2", ""]],
        ["line 3, name: a value is required"],
        id="empty-required",
    ),
    pytest.param(
        [["code", "name", "kind"], ["C1", "A", "vip"]],
        [f"line 2, kind: 'vip' is not one of: {KINDS}"],
        id="unknown-kind",
    ),
    pytest.param(
        [["code", "name", "email"], ["C1", "A", "not-an-email"]],
        ["line 2, email: 'not-an-email' is not a valid e-mail address"],
        id="bad-email",
    ),
    pytest.param(
        [["code", "name", "registered_at"], ["C1", "A", "2024-02-30"]],
        ["line 2, registered_at: '2024-02-30' is not a date or date-time; use " + DATE_FORMS],
        id="bad-date",
    ),
    pytest.param(
        [["code", "name"], ["C1", "N" * 201]],
        [f"line 2, name: '{'N' * 39}…' is longer than 200 characters"],
        id="too-long",
    ),
    pytest.param(
        [["code", "name"], ["C1", "A"], ["C2", "B"], ["C1", "C"]],
        ["line 4, code: 'C1' is a duplicate of line 2"],
        id="duplicate-code",
    ),
    pytest.param(
        [["code", "name", "account_manager"], ["C1", "A", "nobody"]],
        ["line 2, account_manager: no active staff user with username or e-mail 'nobody'"],
        id="unknown-manager",
    ),
    pytest.param(
        [["code", "name", "account_manager"], ["C1", "A", "not-staff"]],
        ["line 2, account_manager: no active staff user with username or e-mail 'not-staff'"],
        id="manager-not-staff",
    ),
    pytest.param(
        [["code", "name"], ["C1", "A", "stray"]],
        ["line 2: values in a column without a header: stray"],
        id="stray-cell",
    ),
    pytest.param(
        [["code", "name", "kind", "email"], ["", "", "vip", "x"]],
        [
            "line 2, code: a value is required",
            "line 2, name: a value is required",
            f"line 2, kind: 'vip' is not one of: {KINDS}",
            "line 2, email: 'x' is not a valid e-mail address",
        ],
        id="several-in-one-row",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("rows", "expected"), CUSTOMER_ERRORS)
def test_customer_import_names_line_and_column_of_each_error(tmp_path, rows, expected):
    UserFactory(username="not-staff", is_staff=False)
    path = write_csv(tmp_path / "c.csv", rows)

    assert rejected_errors(import_customers, path) == expected
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_customer_file_with_one_bad_row_changes_nothing(tmp_path):
    customer = CustomerFactory(code="C1", name="Old")
    before = Customer.objects.count()
    rows = [["code", "name", "email"], ["C1", "Renamed", ""]]
    rows += [[f"N{i}", f"New {i}", f"n{i}@x.test"] for i in range(50)]
    rows[30][2] = "broken@"
    path = write_csv(tmp_path / "c.csv", rows)

    assert rejected_errors(import_customers, path) == [
        "line 31, email: 'broken@' is not a valid e-mail address"
    ]

    assert Customer.objects.count() == before
    customer.refresh_from_db()
    assert customer.name == "Old"


@pytest.mark.django_db
def test_customer_dry_run_validates_and_writes_nothing(tmp_path):
    CustomerFactory(code="C1", name="Old")
    path = write_csv(tmp_path / "c.csv", [["code", "name"], ["C1", "New"], ["C2", "Two"]])

    report = import_customers(path, dry_run=True)

    assert (report.total_rows, report.created, report.updated, report.dry_run) == (2, 1, 1, True)
    assert list(Customer.objects.values_list("code", "name")) == [("C1", "Old")]


# --- orders --------------------------------------------------------------------------------


@pytest.fixture
def acme(db):
    return CustomerFactory(code="ACME", name="Acme")


@pytest.mark.django_db
def test_order_import_creates_orders_with_defaults_and_new_categories(tmp_path, acme):
    games = CategoryFactory(code="games")
    path = write_csv(
        tmp_path / "o.csv",
        [
            [*ORDER_HEADER, "category", "status", "profit", "refunded_amount"],
            ["O1", "ACME", "2024-05-01 10:00", "100", "games", "", "", ""],
            ["O2", "ACME", "2024-05-02", "20.5", "cards", "Completed", "-3.10", "5"],
            ["O3", "ACME", "2024-05-03T10:00:00+00:00", "0", "", "refunded", "0", "0.00"],
        ],
    )

    report = import_orders(path)

    assert (report.total_rows, report.created, report.updated) == (3, 3, 0)
    o1, o2, o3 = Order.objects.order_by("order_no")
    assert (o1.customer, o1.amount, o1.refunded_amount, o1.profit, o1.status, o1.category) == (
        acme,
        Decimal("100.00"),
        Decimal("0.00"),
        None,
        Order.Status.PAID,
        games,
    )
    assert o1.placed_at == dt.datetime(2024, 5, 1, 10, tzinfo=LOCAL)
    assert (o2.amount, o2.refunded_amount, o2.profit, o2.status) == (
        Decimal("20.50"),
        Decimal("5.00"),
        Decimal("-3.10"),
        Order.Status.COMPLETED,
    )
    assert o2.placed_at == dt.datetime(2024, 5, 2, tzinfo=LOCAL)
    assert o2.category.code == o2.category.name == "cards"
    assert o3.placed_at == dt.datetime(2024, 5, 3, 10, tzinfo=dt.UTC)
    assert (o3.status, o3.category) == (Order.Status.REFUNDED, None)
    assert o1.created_at is not None


@pytest.mark.django_db
def test_order_import_reads_xlsx_numbers_and_dates(tmp_path, acme):
    path = write_xlsx(
        tmp_path / "o.xlsx",
        [
            [*ORDER_HEADER, "refunded_amount"],
            ["O1", "ACME", dt.datetime(2024, 5, 1, 10, 30), 1234.5, 0.1],
            None,
            ["O2", "ACME", dt.date(2024, 5, 2), 99, None],
        ],
    )

    report = import_orders(path)

    assert (report.total_rows, report.created) == (2, 2)
    o1, o2 = Order.objects.order_by("order_no")
    assert (o1.amount, o1.refunded_amount, o1.placed_at) == (
        Decimal("1234.50"),
        Decimal("0.10"),
        dt.datetime(2024, 5, 1, 10, 30, tzinfo=LOCAL),
    )
    assert (o2.amount, o2.refunded_amount, o2.placed_at) == (
        Decimal("99.00"),
        Decimal("0.00"),
        dt.datetime(2024, 5, 2, tzinfo=LOCAL),
    )


@pytest.mark.django_db
def test_order_reimport_updates_orders_of_the_same_customer(tmp_path, acme):
    cards = CategoryFactory(code="cards")
    order = OrderFactory(
        order_no="O1",
        customer=acme,
        amount=Decimal("50"),
        refunded_amount=Decimal("10"),
        profit=Decimal("5"),
        category=cards,
        status=Order.Status.COMPLETED,
    )
    path = write_csv(
        tmp_path / "o.csv",
        [
            [*ORDER_HEADER, "status", "profit"],
            ["O1", "ACME", "2024-06-01 08:00", "75.00", "", "7.25"],
            ["O2", "ACME", "2024-06-02 08:00", "10", "", ""],
        ],
    )

    report = import_orders(path)

    assert (report.created, report.updated) == (1, 1)
    order.refresh_from_db()
    assert (order.amount, order.profit, order.placed_at) == (
        Decimal("75.00"),
        Decimal("7.25"),
        dt.datetime(2024, 6, 1, 8, tzinfo=LOCAL),
    )
    # Blank cell and columns not in the file: kept.
    assert (order.status, order.refunded_amount, order.category) == (
        Order.Status.COMPLETED,
        Decimal("10.00"),
        cards,
    )
    assert Order.objects.count() == 2


@pytest.mark.django_db
def test_existing_order_of_another_customer_is_refused(tmp_path, acme):
    other = CustomerFactory(code="OTHER")
    OrderFactory(order_no="O1", customer=other, amount=Decimal("10"))
    path = write_csv(
        tmp_path / "o.csv",
        [ORDER_HEADER, ["O2", "ACME", "2024-05-01", "5"], ["O1", "ACME", "2024-05-01", "99"]],
    )

    assert rejected_errors(import_orders, path) == [
        "line 3, order_no: order 'O1' already exists for another customer (OTHER)"
    ]
    assert Order.objects.get(order_no="O1").amount == Decimal("10.00")
    assert not Order.objects.filter(order_no="O2").exists()


@pytest.mark.django_db
def test_lowering_an_amount_below_the_stored_refund_is_refused(tmp_path, acme):
    OrderFactory(order_no="O1", customer=acme, amount=Decimal("50"), refunded_amount=Decimal("40"))
    path = write_csv(tmp_path / "o.csv", [ORDER_HEADER, ["O1", "ACME", "2024-05-01", "30"]])

    assert rejected_errors(import_orders, path) == [
        "line 2, amount: 30.00 is less than the refunded amount 40.00 already stored"
    ]


@pytest.mark.django_db
def test_unknown_customers_are_refused_unless_created(tmp_path, acme):
    path = write_csv(
        tmp_path / "o.csv",
        [
            ORDER_HEADER,
            ["O1", "NEW-1", "2024-05-01", "5"],
            ["O2", "ACME", "2024-05-01", "6"],
            ["O3", "NEW-1", "2024-05-02", "7"],
            ["O4", "NEW-2", "2024-05-02", "8"],
        ],
    )

    assert rejected_errors(import_orders, path) == [
        "line 2, customer_code: no customer with code 'NEW-1'",
        "line 4, customer_code: no customer with code 'NEW-1'",
        "line 5, customer_code: no customer with code 'NEW-2'",
    ]
    assert not Order.objects.exists()

    report = import_orders(path, create_missing_customers=True)

    assert report.created == 4
    new = Customer.objects.get(code="NEW-1")
    assert (new.name, new.kind) == ("NEW-1", Customer.Kind.END_CUSTOMER)
    assert sorted(new.orders.values_list("order_no", flat=True)) == ["O1", "O3"]
    assert Customer.objects.filter(code="NEW-2").exists()


ORDER_ERRORS = [
    pytest.param(
        [["order_no", "customer_code", "placed_at"], ["O1", "ACME", "2024-05-01"]],
        ["line 1, amount: required column is missing"],
        id="missing-column",
    ),
    pytest.param(
        [ORDER_HEADER, ["O1", "ACME", "", "5"]],
        ["line 2, placed_at: a value is required"],
        id="empty-required",
    ),
    pytest.param(
        [ORDER_HEADER, ["O1", "ACME", "2024-05-01", "abc"]],
        ["line 2, amount: 'abc' is not a decimal number"],
        id="not-a-decimal",
    ),
    pytest.param(
        [ORDER_HEADER, ["O1", "ACME", "2024-05-01", "1,000.00"]],
        ["line 2, amount: '1,000.00' is not a decimal number"],
        id="thousands-separator",
    ),
    pytest.param(
        [ORDER_HEADER, ["O1", "ACME", "2024-05-01", "1.234"]],
        ["line 2, amount: '1.234' has more than 2 decimal places"],
        id="three-decimals",
    ),
    pytest.param(
        [ORDER_HEADER, ["O1", "ACME", "2024-05-01", "-5"]],
        ["line 2, amount: '-5' must not be negative"],
        id="negative",
    ),
    pytest.param(
        [ORDER_HEADER, ["O1", "ACME", "2024-05-01", "1000000000000"]],
        ["line 2, amount: '1000000000000' is too large"],
        id="too-large",
    ),
    pytest.param(
        [[*ORDER_HEADER, "refunded_amount"], ["O1", "ACME", "2024-05-01", "100", "120"]],
        ["line 2, refunded_amount: 120.00 is more than the amount 100.00"],
        id="refund-above-amount",
    ),
    pytest.param(
        [[*ORDER_HEADER, "refunded_amount"], ["O1", "ACME", "2024-05-01", "100", "-1"]],
        ["line 2, refunded_amount: '-1' must not be negative"],
        id="negative-refund",
    ),
    pytest.param(
        [ORDER_HEADER, ["O1", "ACME", "05/01/2024", "5"]],
        [
            "line 2, placed_at: '05/01/2024' could be Jan. 5, 2024 or May 1, 2024; choose the "
            "order of day and month (the import's date order option, or IMPORT_DATE_ORDER) or "
            "write YYYY-MM-DD"
        ],
        id="bad-date",
    ),
    pytest.param(
        [ORDER_HEADER, ["O1", "ACME", "2024-05-01 25:00", "5"]],
        ["line 2, placed_at: '2024-05-01 25:00' is not a date or date-time; use " + DATE_FORMS],
        id="bad-time",
    ),
    pytest.param(
        [[*ORDER_HEADER, "status"], ["O1", "ACME", "2024-05-01", "5", "shipped"]],
        [
            "line 2, status: 'shipped' is not one of: paid (Paid, 已付款), completed (Completed, "
            "已完成), refunded (Refunded, 已退款), cancelled (Cancelled, 已取消)"
        ],
        id="unknown-status",
    ),
    pytest.param(
        [ORDER_HEADER, ["O1", "ACME", "2024-05-01", "5"], ["O1", "ACME", "2024-05-02", "6"]],
        ["line 3, order_no: 'O1' is a duplicate of line 2"],
        id="duplicate-order-no",
    ),
    pytest.param(
        [ORDER_HEADER, ["O" * 65, "ACME", "2024-05-01", "5"]],
        [f"line 2, order_no: '{'O' * 39}…' is longer than 64 characters"],
        id="too-long",
    ),
    pytest.param(
        [[*ORDER_HEADER, "category"], ["O1", "ACME", "2024-05-01", "5", "c" * 65]],
        [f"line 2, category: '{'c' * 39}…' is longer than 64 characters"],
        id="category-too-long",
    ),
    pytest.param(
        [ORDER_HEADER, ["O1", "NOPE", "2024-05-01", "5"]],
        ["line 2, customer_code: no customer with code 'NOPE'"],
        id="unknown-customer",
    ),
    pytest.param(
        [ORDER_HEADER, ["O1", "ACME", "2024-05-01", "5"], [], ["O2", "ACME", "x", "-1"]],
        [
            "line 4, placed_at: 'x' is not a date or date-time; use " + DATE_FORMS,
            "line 4, amount: '-1' must not be negative",
        ],
        id="line-numbers-count-blank-lines",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("rows", "expected"), ORDER_ERRORS)
def test_order_import_names_line_and_column_of_each_error(tmp_path, acme, rows, expected):
    path = write_csv(tmp_path / "o.csv", rows)

    assert rejected_errors(import_orders, path) == expected
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_xlsx_errors_name_the_sheet_row(tmp_path, acme):
    path = write_xlsx(
        tmp_path / "o.xlsx",
        [ORDER_HEADER, ["O1", "ACME", "2024-05-01", 5], None, None, ["O2", "ACME", "x", 5]],
    )

    assert rejected_errors(import_orders, path) == [
        "line 5, placed_at: 'x' is not a date or date-time; use " + DATE_FORMS
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("o.txt", b"order_no\n", "unsupported file type '.txt'; use a .csv or .xlsx file"),
        ("o.csv", b"", "line 1: the file is empty; its first row must name the columns"),
        ("o.csv", "order_no\nÄ\n".encode("latin-1"), "the file is not UTF-8 text"),
        ("o.xlsx", b"not a zip", "the file is not a valid XLSX workbook"),
    ],
)
def test_unreadable_files_are_rejected_as_a_whole(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)

    (error,) = rejected_errors(import_orders, path)

    assert error.startswith(expected)


@pytest.mark.django_db
def test_order_file_with_one_bad_row_among_good_ones_changes_nothing(tmp_path, acme):
    OrderFactory(order_no="O0", customer=acme, amount=Decimal("10"))
    before = (Order.objects.count(), Category.objects.count(), Customer.objects.count())
    rows = [[*ORDER_HEADER, "category"], ["O0", "ACME", "2024-05-01", "999", "new-cat"]]
    rows += [[f"O{i}", f"NEW-{i}", "2024-05-01", "5", "new-cat"] for i in range(1, 100)]
    rows[60][3] = "5.555"
    path = write_csv(tmp_path / "o.csv", rows)

    with pytest.raises(ImportRejected) as rejected:
        import_orders(path, create_missing_customers=True)

    assert [str(e) for e in rejected.value.report.errors] == [
        "line 61, amount: '5.555' has more than 2 decimal places"
    ]
    assert rejected.value.report.total_rows == 100
    after = (Order.objects.count(), Category.objects.count(), Customer.objects.count())
    assert after == before
    assert Order.objects.get(order_no="O0").amount == Decimal("10.00")


@pytest.mark.django_db
def test_order_dry_run_validates_references_and_writes_nothing(tmp_path, acme):
    OrderFactory(order_no="O1", customer=acme)
    path = write_csv(
        tmp_path / "o.csv",
        [
            [*ORDER_HEADER, "category"],
            ["O1", "ACME", "2024-05-01", "5", "new"],
            ["O2", "NEW", "2024-05-01", "5", ""],
        ],
    )
    with pytest.raises(ImportRejected):
        import_orders(path, dry_run=True)

    report = import_orders(path, dry_run=True, create_missing_customers=True)

    assert (report.created, report.updated, report.dry_run) == (1, 1, True)
    assert Order.objects.count() == 1
    assert not Category.objects.filter(code="new").exists()
    assert not Customer.objects.filter(code="NEW").exists()


@pytest.mark.django_db
def test_progress_is_reported_in_rows(tmp_path, acme):
    rows = [ORDER_HEADER] + [[f"O{i}", "ACME", "2024-05-01", "1"] for i in range(2500)]
    path = write_csv(tmp_path / "o.csv", rows)
    seen: list[int] = []

    import_orders(path, progress=seen.append)

    assert seen == [1000, 2000, 2500]


def _orders_file(path: Path, n: int) -> Path:
    """n orders over 5 customers and 3 categories; the first half already exists."""
    customers = [CustomerFactory.create(code=f"Q{n}-{i}") for i in range(5)]
    Order.objects.bulk_create(
        Order(
            order_no=f"Q{n}-{i}",
            customer=customers[i % 5],
            placed_at=dt.datetime(2024, 1, 1, tzinfo=LOCAL),
            amount=Decimal("1"),
        )
        for i in range(n // 2)
    )
    rows = [[*ORDER_HEADER, "category", "status", "profit", "refunded_amount"]]
    rows += [
        [f"Q{n}-{i}", f"Q{n}-{i % 5}", "2024-05-01 10:00", "10.50", f"cat-{i % 3}", "", "1", ""]
        for i in range(n)
    ]
    return write_csv(path, rows)


@pytest.mark.django_db
def test_order_import_query_count_does_not_grow_with_rows(tmp_path, django_assert_max_num_queries):
    # The bound leaves room for SQLite's smaller write batches (999 parameters per query);
    # on PostgreSQL both imports run the same number of queries.
    bound = 12
    small = _orders_file(tmp_path / "small.csv", 20)
    large = _orders_file(tmp_path / "large.csv", 400)

    with django_assert_max_num_queries(bound):
        assert import_orders(small).created == 10
    with django_assert_max_num_queries(bound):
        assert import_orders(large).created == 200


@pytest.mark.django_db
def test_customer_import_query_count_does_not_grow_with_rows(
    tmp_path, alice, django_assert_max_num_queries
):
    def customers_file(path: Path, n: int) -> Path:
        Customer.objects.bulk_create(Customer(code=f"K{n}-{i}", name="Old") for i in range(n // 2))
        rows = [["code", "name", "email", "account_manager"]]
        rows += [[f"K{n}-{i}", f"Name {i}", f"k{i}@x.test", "alice-am"] for i in range(n)]
        return write_csv(path, rows)

    # 10 for the import, 6 for the manager queue's needs of the customers written (a
    # savepoint, the latest run and the ladder, DELETE and INSERT ... SELECT per 20,000).
    bound = 16
    small = customers_file(tmp_path / "small.csv", 20)
    large = customers_file(tmp_path / "large.csv", 400)

    with django_assert_max_num_queries(bound):
        assert import_customers(small).updated == 10
    with django_assert_max_num_queries(bound):
        assert import_customers(large).updated == 200


# --- commands ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_customers_command_reports_what_it_did(tmp_path):
    path = write_csv(tmp_path / "c.csv", [["code", "name"], ["C1", "A"], ["C2", "B"]])
    out, err = io.StringIO(), io.StringIO()

    call_command("import_customers", str(path), stdout=out, stderr=err)

    assert out.getvalue() == f"Imported {path}: 2 created, 0 updated\n"
    assert err.getvalue() == ""  # no progress bar when stderr is not a terminal
    assert Customer.objects.count() == 2


@pytest.mark.django_db
def test_import_customers_command_dry_run(tmp_path):
    path = write_csv(tmp_path / "c.csv", [["code", "name"], ["C1", "A"]])
    out = io.StringIO()

    call_command("import_customers", str(path), "--dry-run", stdout=out)

    assert "dry run, nothing imported" in out.getvalue()
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_import_orders_command_fails_with_every_error_and_exit_code_1(tmp_path, acme):
    path = write_csv(
        tmp_path / "o.csv",
        [
            ORDER_HEADER,
            ["O1", "ACME", "2024-05-01", "abc"],
            ["O2", "ACME", "2024-05-01", "5"],
            ["O3", "GHOST", "yesterday", "5"],
        ],
    )
    err = io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("import_orders", str(path), stdout=io.StringIO(), stderr=err)

    assert str(failed.value) == "2 bad rows; nothing was imported"
    assert failed.value.returncode == 1
    assert err.getvalue().splitlines() == [
        "line 2, amount: 'abc' is not a decimal number",
        "line 4, placed_at: 'yesterday' is not a date or date-time; use " + DATE_FORMS,
        "line 4, customer_code: no customer with code 'GHOST'",
    ]
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_import_orders_command_caps_the_printed_errors(tmp_path, acme):
    rows = [ORDER_HEADER] + [[f"O{i}", "ACME", "2024-05-01", "x"] for i in range(205)]
    path = write_csv(tmp_path / "o.csv", rows)
    err = io.StringIO()

    with pytest.raises(CommandError, match=r"^205 bad rows; nothing was imported$"):
        call_command("import_orders", str(path), stderr=err)

    lines = err.getvalue().splitlines()
    assert len(lines) == 201
    assert lines[0] == "line 2, amount: 'x' is not a decimal number"
    assert lines[-1] == "... and 5 more"


@pytest.mark.django_db
def test_import_orders_command_creates_missing_customers(tmp_path):
    path = write_csv(tmp_path / "o.csv", [ORDER_HEADER, ["O1", "NEW", "2024-05-01", "5"]])
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 bad row; nothing was imported"):
        call_command("import_orders", str(path), stdout=out, stderr=io.StringIO())
    call_command("import_orders", str(path), "--create-missing-customers", stdout=out)

    assert out.getvalue() == f"Imported {path}: 1 created, 0 updated\n"
    assert Order.objects.get().customer.code == "NEW"


def test_import_command_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_orders", str(tmp_path / "missing.csv"))


# --- dates in the future (issue 11, item 7) -------------------------------------------------

#: The moment the tests below import at: 2026-06-15 12:00 in the project time zone.
NOW = dt.datetime(2026, 6, 15, 12, tzinfo=LOCAL)


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen_now")
def test_an_order_placed_after_the_tolerance_is_a_row_error_and_nothing_is_written(tmp_path, acme):
    path = write_csv(
        tmp_path / "o.csv",
        [
            ORDER_HEADER,
            ["O1", "ACME", "2026-06-15 11:00", "5"],
            ["O2", "ACME", "2026-06-16 12:00", "5"],  # exactly 24 hours ahead: accepted
            ["O3", "ACME", "2099-01-01", "5"],
            ["O4", "ACME", "2026-06-16T04:00:01Z", "5"],  # 24 h and 1 s ahead (UTC offset)
        ],
    )

    errors = rejected_errors(import_orders, path)

    assert errors == [
        "line 4, placed_at: '2099-01-01' is in the future (more than 24 hours after now)",
        "line 5, placed_at: '2026-06-16T04:00:01Z' is in the future (more than 24 hours after now)",
    ]
    assert not Order.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen_now")
def test_the_future_tolerance_comes_from_the_setting(tmp_path, acme, settings):
    path = write_csv(tmp_path / "o.csv", [ORDER_HEADER, ["O1", "ACME", "2026-06-15 13:00", "5"]])

    settings.ORDER_FUTURE_TOLERANCE_HOURS = 0
    errors = rejected_errors(import_orders, path)
    settings.ORDER_FUTURE_TOLERANCE_HOURS = 1
    report = import_orders(path)

    assert errors == [
        "line 2, placed_at: '2026-06-15 13:00' is in the future (more than 0 hours after now)"
    ]
    assert report.created == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen_now")
def test_reimporting_an_order_with_a_future_date_is_refused(tmp_path, acme):
    OrderFactory(order_no="O1", customer=acme, placed_at=NOW - dt.timedelta(days=3))
    path = write_csv(tmp_path / "o.csv", [ORDER_HEADER, ["O1", "ACME", "2099-01-01", "5"]])

    errors = rejected_errors(import_orders, path)

    assert errors == [
        "line 2, placed_at: '2099-01-01' is in the future (more than 24 hours after now)"
    ]
    assert Order.objects.get().placed_at == NOW - dt.timedelta(days=3)


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen_now")
def test_import_orders_command_lists_future_orders_and_imports_nothing(tmp_path, acme):
    path = write_csv(
        tmp_path / "o.csv",
        [ORDER_HEADER, ["O1", "ACME", "2026-06-01", "5"], ["O2", "ACME", "2099-01-01", "5"]],
    )
    err = io.StringIO()

    with pytest.raises(CommandError, match=r"^1 bad row; nothing was imported$"):
        call_command("import_orders", str(path), stdout=io.StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        "line 3, placed_at: '2099-01-01' is in the future (more than 24 hours after now)"
    ]
    assert not Order.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen_now")
@pytest.mark.parametrize(
    ("kind", "header", "row", "column"),
    [
        ("complaints", ["customer_code", "created_at"], ["ACME", "2099-01-01"], "created_at"),
        (
            "reviews",
            ["customer_code", "rating", "created_at"],
            ["ACME", "4", "2099-01-01"],
            "created_at",
        ),
        (
            "tickets",
            ["customer_code", "subject", "opened_at"],
            ["ACME", "Late", "2099-01-01"],
            "opened_at",
        ),
        (
            "tickets",
            ["customer_code", "subject", "opened_at", "closed_at"],
            ["ACME", "Late", "2026-06-01", "2099-01-01"],
            "closed_at",
        ),
        (
            "invitations",
            ["customer_code", "campaign", "invited_at"],
            ["ACME", "X", "2099-01-01"],
            "invited_at",
        ),
        (
            "referrals",
            ["referrer_code", "referred_name", "created_at"],
            ["ACME", "Bo", "2099-01-01"],
            "created_at",
        ),
    ],
)
def test_engagement_events_dated_in_the_future_are_row_errors(
    tmp_path, acme, kind, header, row, column
):
    path = write_csv(tmp_path / f"{kind}.csv", [header, row])

    with pytest.raises(ImportRejected) as rejected:
        events_import(kind=kind, source=path, filename=path.name)

    errors = [(e.line, e.field, e.message) for e in rejected.value.report.errors]
    assert (2, column, "'2099-01-01' is in the future (more than 24 hours after now)") in errors


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen_now")
def test_admin_import_preview_lists_future_orders_and_offers_no_confirm(client, ops, acme):
    client.force_login(ops)
    upload = SimpleUploadedFile(
        "orders.csv",
        b"order_no,customer_code,placed_at,amount\nO1,ACME,2026-06-01,5\nO2,ACME,2099-01-01,5\n",
        content_type="text/csv",
    )

    page = client.post(reverse("admin:customers_order_import"), {"file": upload})

    assert page.status_code == 200
    errors = [(e.line, e.field) for e in page.context["report"].errors]
    assert errors == [(3, "placed_at")]
    assert "is in the future (more than 24 hours after now)" in page.content.decode()
    assert page.context["token"] is None
    assert not Order.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen_now")
def test_admin_event_import_preview_lists_future_events(client, ops, acme):
    client.force_login(ops)
    upload = SimpleUploadedFile(
        "tickets.csv",
        b"customer_code,subject,opened_at\nACME,Late,2099-01-01\n",
        content_type="text/csv",
    )

    page = client.post(reverse("admin:customers_serviceticket_import"), {"file": upload})

    assert [(e.line, e.field) for e in page.context["report"].errors] == [(2, "opened_at")]
    assert page.context["token"] is None
