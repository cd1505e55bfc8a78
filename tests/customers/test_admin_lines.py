"""Admin: map a new (Chinese-header) file, preview it, save the mapping, import with it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customers.models import Order, ReturnDocument, SourceMapping
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

SAMPLE = (
    "单据编号,客户编码,单据日期,数量,含税单价,单据类型,备注\n"
    'XS001,17850.0,2025/03/01 09:30,2,"1.234,5",销售单,x\n'
    'TH001,17850.0,2025/03/04 12:00,-1,"234,5",退货单,\n'
    "XS002,,2025/03/04 12:00,1,1,销售单,\n"
).encode()


def _upload(name: str = "erp.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, SAMPLE, content_type="text/csv")


def test_map_preview_save_then_import_with_the_mapping(client, ops, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path)
    CustomerFactory(code="17850")
    client.force_login(ops)
    base = "/admin/customers/sourcemapping/"

    # upload a sample: headers guessed
    page = client.post(f"{base}map/", {"file": _upload(), "encoding": "utf-8"})
    assert page.status_code == 200
    form = page.context["form"]
    assert form.initial["column_0"] == "order_no"
    assert form.initial["column_4"] == "unit_price"
    assert form.initial["column_6"] == ""  # 备注: not imported
    token = page.context["token"]

    data = {
        "token": token,
        "name": "erp-cn",
        "column_0": "order_no",
        "column_1": "customer_code",
        "column_2": "placed_at",
        "column_3": "quantity",
        "column_4": "unit_price",
        "column_5": "document_type",
        "column_6": "",
        "return_types": "退货单",
        "date_format": "%Y/%m/%d %H:%M",
        "decimal_separator": ",",
        "thousands_separator": ".",
        "customer_code_format": "integer",
        "encoding": "utf-8",
    }
    preview = client.post(f"{base}map/", {**data, "preview": "1"})
    assert preview.status_code == 200
    rows = preview.context["preview"]
    _first_line, first_cells = rows[0]
    assert first_cells[1] == ("17850", None)
    assert first_cells[2] == ("2025-03-01 09:30:00", None)
    assert first_cells[4] == ("1234.5", None)
    assert rows[1][0].is_return
    assert rows[2][0].anonymous
    assert not SourceMapping.objects.exists()

    saved = client.post(f"{base}map/", {**data, "save": "1"})
    assert saved.status_code == 302
    mapping = SourceMapping.objects.get()
    assert mapping.columns["单据编号"] == "order_no"

    # import with it: dry run, report, confirm
    dry = client.post(f"{base}import-lines/", {"file": _upload(), "mapping": "erp-cn"})
    assert dry.status_code == 200, dry.content.decode()[:2000]
    quality = {key: value for key, _label, value in dry.context["quality"]}
    assert quality["anonymous_lines"] == "1"
    assert quality["returns_allocated_amount"] == "234.50"
    assert not Order.objects.exists()
    done = client.post(f"{base}import-lines/confirm/", {"token": dry.context["token"]})
    assert done.status_code == 200
    order = Order.objects.get()
    assert (order.amount, order.refunded_amount) == (Decimal("2469.00"), Decimal("234.50"))
    assert ReturnDocument.objects.get().return_no == "TH001"

    csv_link = re.search(r'href="([^"]+/report/\?data=[^"]+)"', done.content.decode()).group(1)
    download = client.get(csv_link.replace("&amp;", "&"))
    assert download.status_code == 200
    assert "anonymous_lines" in download.content.decode()


def test_bad_file_lists_rows_and_offers_no_confirm(client, ops, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path)
    client.force_login(ops)
    content = b"order_no,customer_code,placed_at,quantity,unit_price\nA,NOPE,2025-01-01,1,x\n"
    page = client.post(
        "/admin/customers/sourcemapping/import-lines/",
        {"file": SimpleUploadedFile("l.csv", content, content_type="text/csv")},
    )
    assert page.status_code == 400
    assert page.context["token"] is None
    assert [(e.line, e.field) for e in page.context["errors"]] == [(2, "unit_price")]


def test_account_managers_cannot_map_or_import(client, alice):
    client.force_login(alice)
    for url in ("map/", "import-lines/"):
        assert client.get(f"/admin/customers/sourcemapping/{url}").status_code == 403
