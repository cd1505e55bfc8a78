"""Import limits (issue #11, item 5): an XLSX's unpacked size and compression ratio, rows,
columns, line length and the number of errors, checked before and while parsing, in the
service, the commands, the admin preview and the API. A file past a limit is refused with
the limit named, after bounded work, and nothing is written."""

from __future__ import annotations

import csv
import io
import struct
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse_lazy
from openpyxl import Workbook
from rest_framework.test import APIClient

from customers.exceptions import ImportRejected
from customers.models import Customer, Order
from customers.services.imports import customer_import, order_import
from customers.tabular import MAX_CSV_LINE_CHARS, Records, TableError, TableLimits, read_rows
from tests.customers.factories import CustomerFactory

ORDER_HEADER = ["order_no", "customer_code", "placed_at", "amount"]
ORDER_IMPORT = reverse_lazy("admin:customers_order_import")
CUSTOMER_IMPORT = reverse_lazy("admin:customers_customer_import")
SHEET = "xl/worksheets/sheet1.xml"
MB = 1024 * 1024
#: Generous for a refusal that takes milliseconds, so a busy shared machine cannot fail it.
QUICKLY = 5.0

TOO_LARGE = (
    "the workbook unpacks to more than 200.0\xa0MB, the limit (IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES)"
)


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    """Admin uploads go to a fresh folder per test, so "nothing kept" can be checked."""
    root = tmp_path / "private"
    settings.PRIVATE_MEDIA_ROOT = str(root)
    return root


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def ops_client(client, ops):
    client.force_login(ops)
    return client


# --- files ------------------------------------------------------------------------------------


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(rows)
    return path


def csv_upload(rows: list[list[object]], name: str = "orders.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def padded_workbook(path: Path, *, sheet_bytes: int, row: bytes | None = None) -> Path:
    """Write a valid workbook whose sheet holds the order header and `sheet_bytes` of rows.

    The sheet is streamed through ZIP_DEFLATED a megabyte at a time: repeated rows compress
    some 300 times, so 300 MB of sheet XML makes a file of about 1 MB, in under a second and
    without ever being held in memory.
    """
    template = io.BytesIO()
    book = Workbook()
    book.active.append(ORDER_HEADER)
    book.save(template)
    row = row or b'<row><c t="inlineStr"><is><t>BOMB-1</t></is></c><c><v>1</v></c></row>'
    chunk = row * (MB // len(row))
    with (
        zipfile.ZipFile(template) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename != SHEET:
                out.writestr(info.filename, data)
                continue
            head, tail = data.split(b"</sheetData>")
            with out.open(SHEET, "w") as sheet:
                sheet.write(head)
                for _ in range(-(-sheet_bytes // len(chunk))):
                    sheet.write(chunk)
                sheet.write(b"</sheetData>" + tail)
    return path


def declare_size(path: Path, member: str, size: int) -> Path:
    """Make the zip's local and central headers claim `member` unpacks to `size` bytes."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    struct.pack_into("<L", data, info.header_offset + 22, size)
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length] == member.encode():
            struct.pack_into("<L", data, at + 24, size)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A 1 MB workbook whose sheet XML unpacks to 300 MB (the issue's had 348 MB)."""
    return padded_workbook(tmp_path_factory.mktemp("bomb") / "orders.xlsx", sheet_bytes=300 * MB)


def timed_refusal(call, *args, **kwargs) -> tuple[BaseException, float]:
    started = time.perf_counter()
    with pytest.raises((ImportRejected, CommandError, TableError)) as refused:
        call(*args, **kwargs)
    return refused.value, time.perf_counter() - started


def messages_of(refused: Any) -> list[str]:
    return [str(error) for error in refused.report.errors]


# --- XLSX: zip bombs --------------------------------------------------------------------------


def test_the_bomb_really_unpacks_to_hundreds_of_megabytes(bomb):
    assert bomb.stat().st_size < 2 * MB
    with zipfile.ZipFile(bomb) as archive:
        assert archive.getinfo(SHEET).file_size >= 300 * MB


@pytest.mark.django_db
def test_a_zip_bomb_is_refused_by_the_service_before_parsing(bomb):
    refused, seconds = timed_refusal(order_import, source=bomb, filename=bomb.name)

    assert messages_of(refused) == [TOO_LARGE]
    assert seconds < QUICKLY
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_a_zip_bomb_is_refused_by_the_command(bomb):
    err = io.StringIO()

    refused, seconds = timed_refusal(
        call_command, "import_orders", str(bomb), stdout=io.StringIO(), stderr=err
    )

    assert isinstance(refused, CommandError)
    assert TOO_LARGE in err.getvalue()
    assert seconds < QUICKLY
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_a_zip_bomb_is_refused_by_the_admin_upload(ops_client, bomb, private_root):
    upload = SimpleUploadedFile(bomb.name, bomb.read_bytes())

    started = time.perf_counter()
    page = ops_client.post(ORDER_IMPORT, {"file": upload})
    seconds = time.perf_counter() - started

    assert page.status_code == 400
    assert f"“orders.xlsx” cannot be imported: {TOO_LARGE}." in page.content.decode()
    assert seconds < QUICKLY
    assert Order.objects.count() == 0
    assert stored_files(private_root) == []


@pytest.mark.django_db
def test_a_part_compressed_suspiciously_well_is_refused(tmp_path):
    # 20 MB is well under the size limit; the ratio (~300x) gives the bomb away.
    path = padded_workbook(tmp_path / "orders.xlsx", sheet_bytes=20 * MB)

    refused, seconds = timed_refusal(order_import, source=path, filename=path.name)

    [message] = messages_of(refused)
    assert message.startswith("a part of the workbook unpacks to ")
    assert message.endswith(
        " times its stored size, more than 100, the limit (IMPORT_MAX_XLSX_COMPRESSION_RATIO)"
    )
    assert seconds < QUICKLY


@pytest.mark.django_db
def test_a_workbook_lying_about_its_size_is_refused_without_unpacking_it(tmp_path):
    # The headers claim 1 kB; the deflate stream holds 50 MB. Only the claimed size is read,
    # then the CRC check fails: refused before openpyxl sees the sheet.
    path = declare_size(padded_workbook(tmp_path / "orders.xlsx", sheet_bytes=50 * MB), SHEET, 1000)

    refused, seconds = timed_refusal(order_import, source=path, filename=path.name)

    assert messages_of(refused) == ["the file is not a valid XLSX workbook"]
    assert seconds < QUICKLY


@pytest.mark.django_db
def test_the_uncompressed_limit_counts_every_part(tmp_path, settings):
    settings.IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES = 1_000_000
    row = b'<row><c t="inlineStr"><is><t>O-1</t></is></c></row>'
    path = padded_workbook(tmp_path / "orders.xlsx", sheet_bytes=2 * MB, row=row)

    errors = messages_of(timed_refusal(order_import, source=path, filename=path.name)[0])

    assert errors == [
        "the workbook unpacks to more than 976.6\xa0KB, the limit "
        "(IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES)"
    ]


def test_a_workbook_of_too_many_parts_is_refused_before_its_directory_is_read(tmp_path):
    path = tmp_path / "parts.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(10_001):
            archive.writestr(f"xl/p{index}.xml", b"")

    with pytest.raises(TableError) as refused:
        list(read_rows(path))

    assert refused.value.message == "the workbook has 10,001 parts, more than the 10,000 accepted"


def test_a_normal_workbook_reads_within_the_limits(tmp_path):
    path = tmp_path / "orders.xlsx"
    book = Workbook()
    book.active.append(ORDER_HEADER)
    book.active.append(["O-1", "C1", "2026-03-01", 10])
    book.save(path)

    assert [line for line, _row in read_rows(path)] == [2]


# --- rows -----------------------------------------------------------------------------------------


def order_rows(count: int, customer: str = "C1") -> list[list[Any]]:
    return [ORDER_HEADER] + [[f"O-{i}", customer, "2026-03-01", "10"] for i in range(count)]


@pytest.mark.django_db
def test_rows_up_to_the_limit_are_imported(tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 5
    CustomerFactory(code="C1")
    path = write_csv(tmp_path / "orders.csv", order_rows(5))

    report = order_import(source=path, filename=path.name)

    assert report.created == 5


@pytest.mark.django_db
def test_reading_stops_at_the_row_limit_and_nothing_is_written(tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 5
    CustomerFactory(code="C1")
    path = write_csv(tmp_path / "orders.csv", order_rows(10_000))

    refused, _seconds = timed_refusal(order_import, source=path, filename=path.name)

    assert messages_of(refused) == ["the file has more than 5 rows, the limit (IMPORT_MAX_ROWS)"]
    assert refused.report.total_rows == 5  # the rest of the file was never parsed
    assert Order.objects.count() == 0


def test_the_default_limits_are_named_with_their_values(settings):
    assert TableLimits.from_settings() == TableLimits(
        max_rows=1_000_000,
        max_columns=50,
        max_xlsx_uncompressed_bytes=200 * MB,
        max_xlsx_compression_ratio=100,
    )
    assert settings.IMPORT_MAX_ERRORS == 1000
    # A sequence that only claims its length: refused before any row is looked at.
    with pytest.raises(TableError) as refused:
        list(read_rows(Records(range(1_000_001))))

    assert refused.value.message == (
        "the file has more than 1,000,000 rows, the limit (IMPORT_MAX_ROWS)"
    )


def test_blank_sheet_rows_count_toward_the_row_limit(tmp_path, settings):
    # A sheet can declare a row far down: the rows in between still cost reading.
    settings.IMPORT_MAX_ROWS = 100
    path = tmp_path / "orders.xlsx"
    book = Workbook()
    book.active.append(ORDER_HEADER)
    book.active.cell(row=100_000, column=1, value="O-1")
    book.save(path)

    with pytest.raises(TableError) as refused:
        list(read_rows(path))

    assert refused.value.message == "the file has more than 100 rows, the limit (IMPORT_MAX_ROWS)"


@pytest.mark.django_db
def test_the_row_limit_applies_to_api_rows(settings):
    settings.IMPORT_MAX_ROWS = 2
    rows = [{"code": f"C{i}", "name": "N"} for i in range(3)]

    refused, _seconds = timed_refusal(customer_import, source=Records(rows), filename="request")

    assert messages_of(refused) == ["the file has more than 2 rows, the limit (IMPORT_MAX_ROWS)"]
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_the_row_limit_in_the_command_and_the_admin(tmp_path, settings, ops_client, private_root):
    settings.IMPORT_MAX_ROWS = 3
    CustomerFactory(code="C1")
    rows = order_rows(4)
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_orders", str(write_csv(tmp_path / "o.csv", rows)), stderr=err)
    page = ops_client.post(ORDER_IMPORT, {"file": csv_upload(rows)})

    message = "the file has more than 3 rows, the limit (IMPORT_MAX_ROWS)"
    assert message in err.getvalue()
    assert page.status_code == 200
    assert message in [e.message for e in page.context["errors"]]
    assert page.context["token"] is None
    assert Order.objects.count() == 0
    assert stored_files(private_root) == []


# --- columns and lines ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_header_past_the_column_limit_is_refused_at_upload(settings, ops_client, private_root):
    settings.IMPORT_MAX_COLUMNS = 3
    upload = csv_upload([ORDER_HEADER, ["O-1", "C1", "2026-03-01", "10"]])

    page = ops_client.post(ORDER_IMPORT, {"file": upload})

    assert page.status_code == 400
    assert (
        "“orders.csv” cannot be imported: line 1 has more than 3 columns, the limit "
        "(IMPORT_MAX_COLUMNS)."
    ) in page.content.decode()
    assert stored_files(private_root) == []


@pytest.mark.django_db
def test_a_row_past_the_column_limit_stops_the_import(tmp_path, settings):
    settings.IMPORT_MAX_COLUMNS = 4
    rows = [*order_rows(2), ["O-9", "C1", "2026-03-01", "10", "x"]]
    path = write_csv(tmp_path / "orders.csv", rows)

    errors = messages_of(timed_refusal(order_import, source=path, filename=path.name)[0])

    assert "line 4 has more than 4 columns, the limit (IMPORT_MAX_COLUMNS)" in errors
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_blank_cells_after_the_last_value_do_not_count_as_columns(tmp_path, settings):
    settings.IMPORT_MAX_COLUMNS = 4
    CustomerFactory(code="C1")
    path = tmp_path / "orders.csv"
    path.write_text(",".join(ORDER_HEADER) + ",,,,\nO-1,C1,2026-03-01,10,,,,,,,\n")

    assert order_import(source=path, filename=path.name).created == 1


def test_the_column_limit_applies_to_api_rows(settings):
    settings.IMPORT_MAX_COLUMNS = 2
    with pytest.raises(TableError) as refused:
        list(read_rows(Records([{"a": 1, "b": 2}, {"c": 3}])))

    assert refused.value.message == (
        "the rows have more than 2 columns, the limit (IMPORT_MAX_COLUMNS)"
    )


def test_a_csv_line_of_millions_of_cells_is_refused_before_it_is_split(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(",".join(ORDER_HEADER) + "\n" + "," * (MAX_CSV_LINE_CHARS + 10) + "\n")

    with pytest.raises(TableError) as refused:
        list(read_rows(path))

    assert refused.value.message == "line 2 is longer than 1,048,576 characters"


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_checking_stops_at_the_error_limit(tmp_path, settings):
    settings.IMPORT_MAX_ERRORS = 10
    rows = [["code", "name"]] + [[f"C{i}", ""] for i in range(100_000)]
    path = write_csv(tmp_path / "customers.csv", rows)

    refused, seconds = timed_refusal(customer_import, source=path, filename=path.name)

    report = refused.report
    assert len(report.errors) == 10
    assert report.total_rows == 10  # reading stopped at the tenth bad row
    assert report.rejection() == (
        "checking stopped after 10 errors, the limit (IMPORT_MAX_ERRORS); the rest of the "
        "file was not checked; nothing was imported"
    )
    assert seconds < QUICKLY
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_errors_past_the_limit_are_counted_not_kept(tmp_path, settings):
    # Every row parses; the unknown customers are found afterwards, all at once.
    settings.IMPORT_MAX_ERRORS = 5
    path = write_csv(tmp_path / "orders.csv", order_rows(20, customer="NOPE"))

    report = timed_refusal(order_import, source=path, filename=path.name)[0].report

    assert len(report.errors) == 5
    assert report.errors.omitted == 15
    assert report.limit_note() == (
        "15 more errors are not listed; at most 5 are kept, the limit (IMPORT_MAX_ERRORS)"
    )
    assert report.rejection().endswith("; nothing was imported")


@pytest.mark.django_db
def test_the_command_prints_the_error_limit(tmp_path, settings):
    settings.IMPORT_MAX_ERRORS = 3
    path = write_csv(tmp_path / "c.csv", [["code", "name"]] + [[f"C{i}", ""] for i in range(50)])
    err = io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("import_customers", str(path), stderr=err)

    assert len(err.getvalue().splitlines()) == 3
    assert str(failed.value).startswith("checking stopped after 3 errors, the limit")


@pytest.mark.django_db
def test_the_admin_preview_says_checking_stopped(settings, ops_client, private_root):
    settings.IMPORT_MAX_ERRORS = 3
    upload = csv_upload([["code", "name"]] + [[f"C{i}", ""] for i in range(50)], "c.csv")

    page = ops_client.post(CUSTOMER_IMPORT, {"file": upload})

    errors = page.context["errors"]
    assert [(e.line, e.field) for e in errors] == [(0, ""), (2, "name"), (3, "name"), (4, "name")]
    assert errors[0].message.startswith("checking stopped after 3 errors")
    assert page.context["more_errors"] == 0
    html = page.content.decode()
    assert "checking stopped after 3 errors, the limit (IMPORT_MAX_ERRORS)" in html
    assert page.context["token"] is None
    assert Customer.objects.count() == 0
    assert stored_files(private_root) == []


@pytest.mark.django_db
def test_the_api_reports_the_error_limit(ops, settings):
    settings.IMPORT_MAX_ERRORS = 4
    client = APIClient()
    client.force_authenticate(ops)
    rows = [{"code": f"C{i}", "name": ""} for i in range(30)]

    response = client.post("/api/customers/bulk/", {"rows": rows}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"].startswith("checking stopped after 4 errors, the limit")
    assert len(error["rows"]) == 4
    assert Customer.objects.count() == 0
