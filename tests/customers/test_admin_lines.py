"""Admin: map a new (Chinese-header) file, preview it, save the mapping, import with it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from customers.models import LineImport, Order, ReturnDocument, SourceMapping
from customers.tasks import import_order_lines_task
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


@contextmanager
def _eager_tasks() -> Iterator[mock.MagicMock]:
    """Run the import task queued on commit at once, in process (Celery's `apply`)."""
    with (
        mock.patch(
            "customers.tasks.import_order_lines_task.delay",
            side_effect=lambda pk: import_order_lines_task.apply(args=[pk]),
        ) as delay,
        mock.patch.object(transaction, "on_commit", lambda callback, *a, **k: callback()),
    ):
        yield delay


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

    # import with it: a dry run queued as a task, its page, the report, confirm, the report
    with _eager_tasks() as delay:
        queued = client.post(f"{base}import-lines/", {"file": _upload(), "mapping": "erp-cn"})
    assert queued.status_code == 302
    dry_run = LineImport.objects.get()
    assert queued["Location"] == f"{base}import-lines/{dry_run.pk}/"
    delay.assert_called_once_with(dry_run.pk)
    dry = client.get(queued["Location"])
    assert dry.status_code == 200, dry.content.decode()[:2000]
    quality = {key: value for key, _label, value in dry.context["quality"]}
    assert quality["anonymous_lines"] == "1"
    assert quality["returns_allocated_amount"] == "234.50"
    assert dry.context["record"].status == LineImport.Status.SUCCEEDED
    assert not Order.objects.exists()
    with _eager_tasks():
        confirmed = client.post(dry.context["confirm_url"])
    imported = LineImport.objects.exclude(pk=dry_run.pk).get()
    assert confirmed["Location"] == f"{base}import-lines/{imported.pk}/"
    done = client.get(confirmed["Location"])
    assert done.status_code == 200
    assert done.context["confirm_url"] is None
    order = Order.objects.get()
    assert (order.amount, order.refunded_amount) == (Decimal("2469.00"), Decimal("234.50"))
    assert ReturnDocument.objects.get().return_no == "TH001"
    assert (imported.dry_run, imported.created_by, imported.lines_done) == (False, ops, 3)

    csv_link = re.search(r'href="([^"]+/report/\?data=[^"]+)"', done.content.decode()).group(1)
    download = client.get(csv_link.replace("&amp;", "&"))
    assert download.status_code == 200
    assert "anonymous_lines" in download.content.decode()
    # A dry run is confirmed once: the second click imports nothing more.
    again = client.post(dry.context["confirm_url"], follow=True)
    assert "already imported or has expired" in again.content.decode()
    assert LineImport.objects.count() == 2


def test_bad_file_lists_rows_and_offers_no_confirm(client, ops, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path)
    client.force_login(ops)
    content = b"order_no,customer_code,placed_at,quantity,unit_price\nA,NOPE,2025-01-01,1,x\n"
    with _eager_tasks():
        queued = client.post(
            "/admin/customers/sourcemapping/import-lines/",
            {"file": SimpleUploadedFile("l.csv", content, content_type="text/csv")},
        )
    page = client.get(queued["Location"])
    assert page.status_code == 400
    assert page.context["confirm_url"] is None
    assert [(e.line, e.field) for e in page.context["errors"]] == [(2, "unit_price")]
    record = LineImport.objects.get()
    assert (record.status, record.error_count, record.stored_name) == ("rejected", 1, "")
    assert not list((tmp_path / "imports").iterdir())  # the upload is gone


def test_progress_page_polls_while_queued_and_the_endpoint_answers_json(
    client, ops, settings, tmp_path
):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path)
    client.force_login(ops)
    with mock.patch("customers.tasks.import_order_lines_task.delay"):
        queued = client.post("/admin/customers/sourcemapping/import-lines/", {"file": _upload()})
    record = LineImport.objects.get()
    page = client.get(queued["Location"])
    body = page.content.decode()
    progress_url = f"/admin/customers/sourcemapping/import-lines/{record.pk}/progress/"
    assert f'data-run-progress-url="{progress_url}"' in body
    assert "js/run-progress" in body
    assert "<script>" not in body

    state = client.get(progress_url).json()
    assert state["status"] == "queued"
    assert state["finished"] is False
    assert (state["percent"], state["eta"], state["phase"]) == (0, "—", "waiting")

    LineImport.objects.filter(pk=record.pk).update(
        status="running",
        phase="reading",
        lines_total=1_000_000,
        lines_done=250_000,
        started_at=timezone.now() - dt.timedelta(seconds=5),
    )
    state = client.get(progress_url).json()
    assert (state["percent"], state["lines"]) == (25, "250,000 of 1,000,000 lines")
    assert state["phase_label"] == "Reading and checking the lines"
    assert 14.9 <= state["eta_seconds"] <= 15.5  # 750,000 more at 50,000 lines/s
    assert state["eta"] == "15 s"


def test_account_managers_cannot_map_or_import(client, alice):
    client.force_login(alice)
    for url in ("map/", "import-lines/"):
        assert client.get(f"/admin/customers/sourcemapping/{url}").status_code == 403


def test_the_imports_list_links_each_import_to_its_page(client, ops, alice):
    record = LineImport.objects.create(filename="march.csv", created_by=ops, dry_run=False)
    page_url = f"/admin/customers/sourcemapping/import-lines/{record.pk}/"
    client.force_login(ops)

    listing = client.get("/admin/customers/lineimport/")

    assert listing.status_code == 200
    body = listing.content.decode()
    assert f'href="{page_url}"' in body
    assert "Queued" in body
    assert client.get(f"/admin/customers/lineimport/{record.pk}/change/")["Location"] == page_url
    client.force_login(alice)
    assert client.get("/admin/customers/lineimport/").status_code == 403
    assert client.get(page_url).status_code == 403
