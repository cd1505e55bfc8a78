"""Sales-line imports (issue #18): grouping, rounding, returns and their allocation, source
mappings, idempotent re-import, all-or-nothing refusal. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from customers.exceptions import ImportRejected
from customers.models import (
    Category,
    Order,
    RefundAllocation,
    ReturnDocument,
    SalesLine,
    SourceMapping,
)
from customers.services.lines import LineFormat, _Parser, order_lines_import
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

LOCAL = ZoneInfo(settings.TIME_ZONE)
HEADER = ["order_no", "customer_code", "placed_at", "quantity", "unit_price"]


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(rows)
    return path


def run(path: Path, **options):
    return order_lines_import(source=path, filename=path.name, **options)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=LOCAL)


def snapshot() -> dict[str, list]:
    """Everything an import writes, without ids that a rewrite could renumber."""
    return {
        "orders": list(
            Order.objects.order_by("order_no").values_list(
                "id",
                "order_no",
                "customer__code",
                "placed_at",
                "amount",
                "refunded_amount",
                "status",
                "category__code",
            )
        ),
        "returns": list(
            ReturnDocument.objects.order_by("return_no").values_list(
                "id", "return_no", "returned_at", "amount", "unallocated_amount"
            )
        ),
        "allocations": list(
            RefundAllocation.objects.order_by("id").values_list(
                "id", "return_document__return_no", "order__order_no", "amount"
            )
        ),
        "lines": list(
            SalesLine.objects.order_by("document_no", "line_no").values_list(
                "document_no",
                "line_no",
                "sku",
                "quantity",
                "unit_price",
                "line_total",
                "category__code",
            )
        ),
    }


@pytest.fixture
def customers():
    return [CustomerFactory(code=code) for code in ("C1", "C2")]


def test_lines_group_into_orders_rounded_half_up_once_per_document(tmp_path, customers):
    # given: one invoice of three lines a minute apart, prices with 3 and 4 decimals
    path = write_csv(
        tmp_path / "lines.csv",
        [
            [*HEADER, "sku", "category"],
            ["INV1", "C1", "2025-03-01 10:01", "3", "0.335", "A", "toys"],
            ["INV1", "C1", "2025-03-01 10:00", "1", "0.0025", "B", "books"],
            ["INV1", "C1", "2025-03-01 10:01", "2", "1.5", "C", ""],
            ["INV2", "C2", "2025-03-02", "1", "0.005", "", ""],
        ],
    )
    # when
    report = run(path)
    # then: 1.005 + 0.0025 + 3 = 4.0075 -> 4.01 (per line it would be 1.01 + 0.00 + 3.00)
    order = Order.objects.get(order_no="INV1")
    assert order.amount == Decimal("4.01")
    assert order.placed_at == at("2025-03-01 10:00")
    assert order.category.code == "toys"
    assert order.status == Order.Status.PAID
    assert Order.objects.get(order_no="INV2").amount == Decimal("0.01")  # half up
    assert report.total_rows == 4
    assert report.documents == 2
    assert report.created == 2
    lines = SalesLine.objects.filter(document_no="INV1").order_by("line_no")
    assert [line.sku for line in lines] == ["A", "B", "C"]
    assert [line.category.code if line.category else None for line in lines] == [
        "toys",
        "books",
        None,
    ]
    assert lines[1].unit_price == Decimal("0.0025")


def test_line_total_wins_over_quantity_times_price(tmp_path, customers):
    path = write_csv(
        tmp_path / "lines.csv",
        [[*HEADER, "line_total"], ["INV1", "C1", "2025-03-01", "3", "10", "27.5"]],
    )
    run(path)
    assert Order.objects.get().amount == Decimal("27.50")


def test_anonymous_lines_are_skipped_and_counted(tmp_path, customers):
    path = write_csv(
        tmp_path / "lines.csv",
        [HEADER, ["INV1", "C1", "2025-03-01", "1", "5"], ["INV9", "", "bad date", "x", "y"]],
    )
    report = run(path)
    assert report.anonymous_lines == 1
    assert list(Order.objects.values_list("order_no", flat=True)) == ["INV1"]


@pytest.mark.parametrize(
    ("rows", "options"),
    [
        ([["C100", "C1", "2025-03-05", "1", "4"]], {"return_prefix": "C"}),
        ([["R100", "C1", "2025-03-05", "-1", "4"]], {}),
        ([["R100", "C1", "2025-03-05", "1", "-4"]], {}),
    ],
    ids=["prefix", "negative-quantity", "negative-price"],
)
def test_returns_are_detected_by_prefix_or_sign(tmp_path, customers, rows, options):
    path = write_csv(
        tmp_path / "lines.csv", [HEADER, ["INV1", "C1", "2025-03-01", "2", "5"], *rows]
    )
    report = run(path, **options)
    document = ReturnDocument.objects.get()
    assert document.amount == Decimal("4.00")
    assert document.returned_at == at("2025-03-05")
    assert Order.objects.get().refunded_amount == Decimal("4.00")
    assert report.returns == 1
    assert report.returns_allocated == 1


def test_returns_are_detected_by_document_type(tmp_path, customers):
    path = write_csv(
        tmp_path / "lines.csv",
        [
            [*HEADER, "document_type"],
            ["INV1", "C1", "2025-03-01", "2", "5", "invoice"],
            ["CN1", "C1", "2025-03-05", "1", "5", "Credit Note"],
        ],
    )
    run(path)
    assert ReturnDocument.objects.get().amount == Decimal("5.00")
    order = Order.objects.get()
    assert (order.refunded_amount, order.status) == (Decimal("5.00"), Order.Status.PAID)


def test_unlinked_returns_spill_newest_first_and_keep_what_is_left(tmp_path, customers):
    # given: three orders; the latest two at the same moment (higher number first)
    path = write_csv(
        tmp_path / "lines.csv",
        [
            HEADER,
            ["R0", "C1", "2025-01-01", "-1", "7"],  # older than any order: kept unallocated
            ["INV1", "C1", "2025-02-01", "1", "10"],
            ["INV2", "C1", "2025-03-01", "1", "20"],
            ["INV3", "C1", "2025-03-01", "1", "30"],
            ["R1", "C1", "2025-04-01", "-1", "45"],  # INV3 30, then INV2 15
            ["R2", "C1", "2025-04-02", "-1", "20"],  # INV2 5 more, then INV1 10; 5 left
        ],
    )
    report = run(path)
    allocations = {
        (a.return_document.return_no, a.order.order_no): a.amount
        for a in RefundAllocation.objects.select_related("return_document", "order")
    }
    assert allocations == {
        ("R1", "INV3"): Decimal("30.00"),
        ("R1", "INV2"): Decimal("15.00"),
        ("R2", "INV2"): Decimal("5.00"),
        ("R2", "INV1"): Decimal("10.00"),
    }
    orders = {o.order_no: (o.refunded_amount, o.status) for o in Order.objects.all()}
    assert orders == {
        "INV1": (Decimal("10.00"), Order.Status.REFUNDED),
        "INV2": (Decimal("20.00"), Order.Status.REFUNDED),
        "INV3": (Decimal("30.00"), Order.Status.REFUNDED),
    }
    left = dict(ReturnDocument.objects.values_list("return_no", "unallocated_amount"))
    assert left == {"R0": Decimal("7.00"), "R1": Decimal("0.00"), "R2": Decimal("5.00")}
    assert (report.returns_unallocated, report.returns_unallocated_cents) == (2, 1200)
    assert (report.returns_allocated, report.returns_allocated_cents) == (2, 6000)
    assert report.orders_fully_refunded == 3


def test_returns_apply_in_date_order_and_only_to_earlier_orders(tmp_path, customers):
    # R-late is first in the file, but R-early comes back first and takes INV1.
    path = write_csv(
        tmp_path / "lines.csv",
        [
            HEADER,
            ["RB", "C1", "2025-05-01", "-1", "8"],
            ["INV1", "C1", "2025-02-01", "1", "10"],
            ["RA", "C1", "2025-03-01", "-1", "6"],
            ["INV2", "C1", "2025-04-01", "1", "3"],
        ],
    )
    run(path)
    allocations = sorted(
        RefundAllocation.objects.values_list(
            "return_document__return_no", "order__order_no", "amount"
        )
    )
    assert allocations == [
        ("RA", "INV1", Decimal("6.00")),
        ("RB", "INV1", Decimal("4.00")),
        ("RB", "INV2", Decimal("3.00")),
    ]
    assert ReturnDocument.objects.get(return_no="RB").unallocated_amount == Decimal("1.00")


def test_linked_return_refunds_its_order_and_a_full_refund_stops_counting(tmp_path, customers):
    path = write_csv(
        tmp_path / "lines.csv",
        [
            [*HEADER, "original_order_no"],
            ["INV1", "C1", "2025-02-01", "1", "10", ""],
            ["INV2", "C1", "2025-03-01", "1", "10", ""],
            ["R1", "C1", "2025-04-01", "-2", "5", "INV1"],
        ],
    )
    run(path)
    inv1, inv2 = Order.objects.order_by("order_no")
    assert (inv1.refunded_amount, inv1.status) == (Decimal("10.00"), Order.Status.REFUNDED)
    assert (inv2.refunded_amount, inv2.status) == (Decimal("0.00"), Order.Status.PAID)
    assert ReturnDocument.objects.get().original_order == inv1


def test_over_refunding_a_linked_order_is_a_row_error(tmp_path, customers):
    path = write_csv(
        tmp_path / "lines.csv",
        [
            [*HEADER, "original_order_no"],
            ["INV1", "C1", "2025-02-01", "1", "10", ""],
            ["R1", "C1", "2025-04-01", "-3", "5", "INV1"],
        ],
    )
    with pytest.raises(ImportRejected) as rejected:
        run(path)
    [error] = rejected.value.report.errors
    assert (error.line, error.field) == (3, "original_order_no")
    assert "more than the 10.00 left" in error.message
    assert not Order.objects.exists()
    assert not ReturnDocument.objects.exists()


def test_malformed_file_writes_nothing_and_lists_every_bad_row(tmp_path, customers):
    path = write_csv(
        tmp_path / "lines.csv",
        [
            HEADER,
            ["INV1", "C1", "2025-03-01", "1", "5"],
            ["INV2", "C1", "yesterday", "1", "5"],
            ["INV3", "C1", "2025-03-01", "1", "5.12345"],
            ["", "C1", "2025-03-01", "one", "5"],
            ["INV5", "NOPE", "2025-03-01", "1", "5"],
        ],
    )
    with pytest.raises(ImportRejected) as rejected:
        run(path)
    found = [(e.line, e.field) for e in rejected.value.report.errors]
    assert found == [
        (3, "placed_at"),
        (4, "unit_price"),
        (5, "order_no"),
        (5, "quantity"),
    ]
    assert "more than 4 decimal places" in rejected.value.report.errors[1].message
    assert not Order.objects.exists()
    assert not SalesLine.objects.exists()
    assert not Category.objects.exists()


def test_unknown_customers_are_refused_unless_created(tmp_path, customers):
    path = write_csv(tmp_path / "lines.csv", [HEADER, ["INV1", "NEW", "2025-03-01", "1", "5"]])
    with pytest.raises(ImportRejected) as rejected:
        run(path)
    assert rejected.value.report.errors[0].message == "no customer with code 'NEW'"
    run(path, create_missing_customers=True)
    assert Order.objects.get().customer.code == "NEW"


def test_reimporting_the_same_file_changes_nothing(tmp_path, customers):
    path = write_csv(
        tmp_path / "lines.csv",
        [
            [*HEADER, "sku"],
            ["INV1", "C1", "2025-02-01", "2", "10", "A"],
            ["INV1", "C1", "2025-02-01", "1", "1", "B"],
            ["INV2", "C1", "2025-03-01", "1", "10", "A"],
            ["R1", "C1", "2025-04-01", "-1", "15", "A"],
            ["R0", "C2", "2025-01-01", "-1", "3", "A"],
        ],
    )
    run(path)
    before = snapshot()
    report = run(path)
    assert snapshot() == before
    assert (report.created, report.updated) == (0, 2)


def test_a_later_file_with_earlier_orders_reallocates_deterministically(tmp_path, customers):
    # given: a return imported before the order it belongs to
    first = write_csv(tmp_path / "a.csv", [HEADER, ["R1", "C1", "2025-04-01", "-1", "5"]])
    second = write_csv(tmp_path / "b.csv", [HEADER, ["INV1", "C1", "2025-02-01", "1", "8"]])
    run(first)
    assert ReturnDocument.objects.get().unallocated_amount == Decimal("5.00")
    # when
    run(second)
    # then: the same result as one file with both
    assert ReturnDocument.objects.get().unallocated_amount == Decimal("0.00")
    assert Order.objects.get().refunded_amount == Decimal("5.00")


def test_refunds_from_an_order_import_are_kept(tmp_path, customers):
    OrderFactory(
        order_no="OLD",
        customer=customers[0],
        placed_at=at("2025-01-01"),
        amount=Decimal("10"),
        refunded_amount=Decimal("4"),
    )
    path = write_csv(tmp_path / "lines.csv", [HEADER, ["R1", "C1", "2025-04-01", "-1", "9"]])
    run(path)
    order = Order.objects.get()
    assert (order.refunded_amount, order.status) == (Decimal("10.00"), Order.Status.REFUNDED)
    assert ReturnDocument.objects.get().unallocated_amount == Decimal("3.00")


def test_dry_run_reports_everything_and_writes_nothing(tmp_path, customers):
    path = write_csv(
        tmp_path / "lines.csv",
        [HEADER, ["INV1", "C1", "2025-02-01", "1", "8"], ["R1", "C1", "2025-04-01", "-1", "5"]],
    )
    report = run(path, dry_run=True)
    assert (report.documents, report.returns, report.returns_allocated_cents) == (1, 1, 500)
    assert not Order.objects.exists()
    assert not SalesLine.objects.exists()


def test_quality_report_counts_duplicates_zero_prices_and_customer_conflicts(tmp_path, customers):
    path = write_csv(
        tmp_path / "lines.csv",
        [
            HEADER,
            ["INV1", "C1", "2025-02-01", "1", "8"],
            ["INV1", "C1", "2025-02-01", "1", "8"],
            ["INV1", "C2", "2025-02-01", "1", "0"],
        ],
    )
    report = run(path)
    assert (report.duplicate_lines, report.zero_price_lines, report.customer_conflicts) == (
        1,
        1,
        1,
    )
    # Duplicates are kept (an invoice may repeat a line); the first line's customer wins.
    order = Order.objects.get()
    assert (order.amount, order.customer.code) == (Decimal("16.00"), "C1")


CHINESE = ["单据编号", "客户编码", "单据日期", "数量", "含税单价", "单据类型", "商品编码"]


@pytest.fixture
def chinese_mapping():
    return SourceMapping.objects.create(
        name="erp-cn",
        columns={
            "单据编号": "order_no",
            "客户编码": "customer_code",
            "单据日期": "placed_at",
            "数量": "quantity",
            "含税单价": "unit_price",
            "单据类型": "document_type",
            "商品编码": "sku",
        },
        return_types=["退货单"],
        date_format="%Y/%m/%d %H:%M",
        decimal_separator=",",
        thousands_separator=".",
        customer_code_format=SourceMapping.CodeFormat.INTEGER,
    )


def test_a_mapping_reads_chinese_headers_formats_and_float_codes(tmp_path, chinese_mapping):
    CustomerFactory(code="17850")
    path = write_csv(
        tmp_path / "erp.csv",
        [
            CHINESE,
            ["XS001", "17850.0", "2025/03/01 09:30", "2", "1.234,5", "销售单", "P1"],
            ["TH001", "17850.0", "2025/03/04 12:00", "1", "234,5", "退货单", "P1"],
            ["XS002", "", "2025/03/04 12:00", "1", "1", "销售单", "P1"],
        ],
    )
    report = run(path, mapping=chinese_mapping)
    order = Order.objects.get()
    assert (order.order_no, order.customer.code, order.amount) == (
        "XS001",
        "17850",
        Decimal("2469.00"),
    )
    assert order.placed_at == at("2025-03-01 09:30")
    assert order.refunded_amount == Decimal("234.50")
    assert ReturnDocument.objects.get().return_no == "TH001"
    assert report.anonymous_lines == 1


def test_the_command_uses_a_saved_mapping_and_prints_the_quality_report(
    tmp_path, chinese_mapping, capsys
):
    CustomerFactory(code="17850")
    path = write_csv(
        tmp_path / "erp.csv",
        [CHINESE, ["XS001", "17850.0", "2025/03/01 09:30", "2", "10", "销售单", "P1"]],
    )
    call_command("import_order_lines", str(path), "--mapping", "erp-cn")
    out = capsys.readouterr().out
    assert "Sales documents built: 1" in out
    assert Order.objects.get().amount == Decimal("20.00")


def test_the_command_refuses_an_unknown_mapping(tmp_path):
    path = write_csv(tmp_path / "erp.csv", [HEADER])
    with pytest.raises(CommandError, match="no source mapping called 'nope'"):
        call_command("import_order_lines", str(path), "--mapping", "nope")


def test_a_mapping_transcodes_a_gbk_file(tmp_path, chinese_mapping):
    CustomerFactory(code="17850")
    chinese_mapping.encoding = "gb18030"
    chinese_mapping.save()
    path = tmp_path / "erp.csv"
    path.write_bytes(
        "\n".join([",".join(CHINESE), "XS001,17850.0,2025/03/01 09:30,2,10,销售单,P1"]).encode(
            "gb18030"
        )
    )
    run(path, mapping=chinese_mapping)
    assert Order.objects.get().amount == Decimal("20.00")


def test_a_file_in_another_encoding_is_refused_clearly(tmp_path, chinese_mapping):
    path = tmp_path / "erp.csv"
    path.write_bytes(",".join(CHINESE).encode("gb18030"))
    with pytest.raises(ImportRejected) as rejected:
        run(path, mapping=chinese_mapping)
    assert "not UTF-8" in rejected.value.report.errors[0].message


def test_a_row_wider_than_the_header_is_refused_with_its_line(tmp_path, customers):
    path = tmp_path / "lines.csv"
    path.write_text(
        "order_no,customer_code,placed_at,quantity,unit_price\n"
        "INV1,C1,2025-03-01,1,5\n"
        "INV2,C1,2025-03-01,1,5,stray\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as rejected:
        run(path)
    [error] = rejected.value.report.errors
    assert error.line == 3
    assert "without a header" in error.message
    assert not Order.objects.exists()


def test_an_xlsx_file_with_float_codes_and_date_cells(tmp_path, customers):
    from openpyxl import Workbook

    CustomerFactory(code="17850")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["InvoiceNo", "CustomerID", "InvoiceDate", "Quantity", "UnitPrice"])
    sheet.append([536365, 17850.0, dt.datetime(2010, 12, 1, 8, 26), 6, 2.55])
    sheet.append(["C536379", 17850.0, dt.datetime(2010, 12, 1, 9, 41), -1, 2.55])
    path = tmp_path / "retail.xlsx"
    workbook.save(path)
    mapping = SourceMapping.objects.create(
        name="uci",
        columns={
            "InvoiceNo": "order_no",
            "CustomerID": "customer_code",
            "InvoiceDate": "placed_at",
            "Quantity": "quantity",
            "UnitPrice": "unit_price",
        },
        return_prefix="C",
        customer_code_format=SourceMapping.CodeFormat.INTEGER,
    )
    run(path, mapping=mapping)
    order = Order.objects.get()
    assert (order.order_no, order.amount, order.refunded_amount) == (
        "536365",
        Decimal("15.30"),
        Decimal("2.55"),
    )
    assert order.placed_at == at("2010-12-01 08:26")


def test_vectorised_numbers_read_exactly_what_the_decimal_parser_reads():
    parser = _Parser(LineFormat())
    rng = random.Random(18)
    spelled = [
        "0", "-0", "12.3456", "5.", ".5", "-7", "0012.5", "9999999999.9999",
        "-9999999999.9999", "0.0001", "1.23450", "+5", "1e3", "12.34567", "\uff11\uff12", " 1",
        "abc", "99999999999", "12345678901.5", "-.5", "", "1,5",
    ]  # fmt: skip
    spelled += [
        f"{rng.choice(['', '-'])}{rng.randrange(10 ** rng.randint(1, 10))}."
        f"{rng.randrange(10**4):0{rng.randint(0, 4)}d}".rstrip(".")
        for _ in range(5000)
    ]
    values = np.array(list(dict.fromkeys(spelled)), dtype=object)

    numbers, messages = parser.numbers(values)

    for value, number, message in zip(values, numbers, messages, strict=True):
        expected = parser.number(value)
        if isinstance(expected, str):
            assert message == expected, value
        else:
            assert (int(number), message) == (expected, ""), value
