"""Issue #18 in a real browser: map a new file with Chinese headers, preview it as TierHub
reads it, save the mapping, import a file with it (the dry run runs as a task: its progress
page is watched until the data-quality report replaces it, then confirm, and the same for the
import), and read the returns rule on the grading scheme's page. In English at 1366x900 and in
Chinese at 1366x900 and 390x844; every page is saved under
test-artifacts/screenshots/lines-*.png."""

from __future__ import annotations

import re
import threading
import time
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from playwright.sync_api import expect

from customers.models import Order, SourceMapping
from customers.services import line_imports, lines
from customers.tasks import import_order_lines_task
from tests.browser.screens import staff_login
from tests.customers.factories import CustomerFactory
from tests.grading.factories import default_scheme

SAMPLE = (
    "单据编号,客户编码,单据日期,商品编码,数量,含税单价,单据类型,备注\n"
    'XS001,17850.0,2025/03/01 09:30,P-1,2,"1.234,5",销售单,首单\n'
    'XS001,17850.0,2025/03/01 09:31,P-2,1,"12,25",销售单,\n'
    'TH001,17850.0,2025/03/04 12:00,P-1,-1,"234,5",退货单,\n'
    "XS002,,2025/03/04 12:00,P-3,1,1,销售单,散客\n"
    'XS003,13047.0,2025/03/05 16:02,P-3,3,"9,999",销售单,\n'
)
RUNS = [
    ("en", {"width": 1366, "height": 900}, "desktop"),
    ("zh-CN", {"width": 1366, "height": 900}, "desktop-zh"),
    ("zh-CN", {"width": 390, "height": 844}, "phone-zh"),
]


class _Worker:
    """Stands in for the Celery worker: runs each queued import in a thread, slowly enough
    (one line a chunk, a pause after each) that the page shows it running."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def delay(self, import_id: int) -> None:
        def run() -> None:
            try:
                import_order_lines_task.apply(args=[import_id])
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        self.threads.append(thread)
        thread.start()


def _slow_lines(original):
    def lines_read(self, done: int) -> None:
        original(self, done)
        time.sleep(0.6)

    return lines_read


def _watch_progress(page, screenshot, name: str) -> None:
    """The progress page, seen running, then replaced by the report when the task ends."""
    progress = page.get_by_test_id("import-progress")
    expect(progress).to_be_visible()
    expect(progress.locator("[data-run-field=percent]")).to_have_text(re.compile(r"^[1-9]"))
    screenshot(page, name)
    expect(page.locator("#lines-quality")).to_be_visible(timeout=30_000)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(("locale", "viewport", "label"), RUNS, ids=[r[2] for r in RUNS])
def test_map_preview_and_import_a_chinese_erp_file(
    browser, live_server, ops, screenshot, settings, tmp_path, locale, viewport, label
):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    CustomerFactory(code="17850")
    CustomerFactory(code="13047")
    sample = tmp_path / "erp.csv"
    sample.write_text(SAMPLE, encoding="utf-8")
    context = browser.new_context(locale=locale, viewport=viewport)
    page = context.new_page()
    base = f"{live_server.url}/admin/customers/sourcemapping/"

    staff_login(page, live_server.url, ops.username, "/admin/customers/sourcemapping/")
    screenshot(page, f"lines-{label}-01-mappings")

    page.goto(f"{base}map/")
    page.set_input_files("#id_file", str(sample))
    page.click("input[type=submit].default")
    # Known headers are guessed; 备注 (a note) is left out.
    expect(page.locator("#id_column_0")).to_have_value("order_no")
    expect(page.locator("#id_column_7")).to_have_value("")
    page.fill("#id_name", f"erp-cn-{label}")
    page.fill("#id_return_types", "退货单")
    page.fill("#id_date_format", "%Y/%m/%d %H:%M")
    page.select_option("#id_decimal_separator", ",")
    page.select_option("#id_thousands_separator", ".")
    page.select_option("#id_customer_code_format", "integer")
    page.click("input[name=preview]")
    preview = page.locator("#lines-preview")
    expect(preview).to_contain_text("17850")
    expect(preview).to_contain_text("1234.5")
    expect(preview).to_contain_text("2025-03-01 09:30:00")
    screenshot(page, f"lines-{label}-02-mapping-preview")
    # The wide preview scrolls inside its box; the page itself fits the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.click("input[name=save]")
    assert SourceMapping.objects.filter(name=f"erp-cn-{label}").exists()
    screenshot(page, f"lines-{label}-03-mapping-saved")

    worker = _Worker()
    with (
        mock.patch("customers.tasks.import_order_lines_task.delay", worker.delay),
        mock.patch.object(lines, "CHUNK_ROWS", 1),
        mock.patch.object(
            line_imports._Recorder, "lines", _slow_lines(line_imports._Recorder.lines)
        ),
    ):
        page.goto(f"{base}import-lines/")
        page.set_input_files("#id_file", str(sample))
        page.select_option("#id_mapping", f"erp-cn-{label}")
        screenshot(page, f"lines-{label}-04-import-form")
        page.click("input[type=submit].default")
        _watch_progress(page, screenshot, f"lines-{label}-05-dry-run-progress")
        screenshot(page, f"lines-{label}-06-dry-run-report")
        assert not Order.objects.exists()
        page.click("input[name=confirm]")
        _watch_progress(page, screenshot, f"lines-{label}-07-import-progress")
        screenshot(page, f"lines-{label}-08-imported")
        for thread in worker.threads:
            thread.join(timeout=30)
    order = Order.objects.get(order_no="XS001")
    assert (order.amount, order.refunded_amount) == (Decimal("2481.25"), Decimal("234.50"))

    # The returns rule where the operator reads the grading scheme.
    page.goto(f"{live_server.url}/admin/grading/gradingscheme/{default_scheme().pk}/change/")
    rule = page.get_by_test_id("scheme-counted-orders")
    rule.locator("summary").click()
    expect(rule).to_contain_text("newest first" if locale == "en" else "从最新的订单开始")
    rule.scroll_into_view_if_needed()
    screenshot(page, f"lines-{label}-09-scheme-returns-rule")
    context.close()
