"""Issue #18 in a real browser: map a new file with Chinese headers, preview it as TierHub
reads it, save the mapping, import a file with it (dry run with the data-quality report,
then confirm). In English at 1366x900 and in Chinese at 390x844; every page is saved under
test-artifacts/screenshots/lines-*.png."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from customers.models import Order, SourceMapping
from tests.appeals.factories import PASSWORD
from tests.customers.factories import CustomerFactory

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
    ("zh-CN", {"width": 390, "height": 844}, "phone-zh"),
]


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

    page.goto(f"{live_server.url}/admin/login/?next=/admin/customers/sourcemapping/")
    page.fill("#id_username", ops.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]")
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

    page.goto(f"{base}import-lines/")
    page.set_input_files("#id_file", str(sample))
    page.select_option("#id_mapping", f"erp-cn-{label}")
    screenshot(page, f"lines-{label}-04-import-form")
    page.click("input[type=submit].default")
    expect(page.locator("#lines-quality")).to_be_visible()
    screenshot(page, f"lines-{label}-05-dry-run-report")
    assert not Order.objects.exists()
    page.click("input[name=confirm]")
    expect(page.locator("#lines-quality")).to_be_visible()
    screenshot(page, f"lines-{label}-06-imported")
    order = Order.objects.get(order_no="XS001")
    assert (order.amount, order.refunded_amount) == (Decimal("2481.25"), Decimal("234.50"))
    context.close()
