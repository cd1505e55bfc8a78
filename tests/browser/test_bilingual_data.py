"""Issue #14 item 6 in a real browser: grade and benefit names are data in English and
Chinese. A customer's portal home and the admin's grade list, in zh-Hans on a 1366x900
screen and a 390x844 phone, show the Chinese names and no English one. Screenshots:
test-artifacts/screenshots/bilingual-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.appeals.factories import PASSWORD, portal_customer
from tests.browser.screens import fits_the_screen

SCREENS = [("desktop", 1366, 900), ("phone", 390, 844)]
ENGLISH_NAMES = ("Strategic", "Growth", "Free shipping", "Birthday gift")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(("screen", "width", "height"), SCREENS, ids=[s[0] for s in SCREENS])
def test_portal_and_admin_show_chinese_grade_and_benefit_names(
    browser, live_server, alice, ops, screenshot, screen, width, height
):
    account, _change = portal_customer(code="CAROL", manager=alice)
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()

    page.goto(f"{live_server.url}/portal/")
    page.fill("#id_username", account.user.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    expect(page.get_by_test_id("grade")).to_contain_text("成长客户")
    main = page.locator("main").inner_text()
    assert "免运费" in main
    assert "生日礼物" in main
    for english in ENGLISH_NAMES:
        assert english not in main, english
    assert fits_the_screen(page)
    screenshot(page, f"bilingual-portal-home-zh-{screen}")

    staff = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    admin = staff.new_page()
    admin.goto(f"{live_server.url}/admin/login/?next=/admin/grading/grade/")
    admin.fill("#id_username", ops.username)
    admin.fill("#id_password", PASSWORD)
    admin.locator("#login-form [type=submit]").click()
    listing = admin.locator("#result_list")
    expect(listing).to_contain_text("战略客户")
    text = listing.inner_text()
    assert "1 小时内首次响应" in text
    for english in ("Strategic", "Growth", "First response"):
        assert english not in text, english
    screenshot(admin, f"bilingual-admin-grades-zh-{screen}")
    admin.get_by_role("link", name="成长客户").click()
    expect(admin.locator("#id_name_zh_hans")).to_have_value("成长客户")
    expect(admin.locator("#id_name_en")).to_have_value("Growth")
    # One language at a time, behind tabs named in the reader's language.
    expect(admin.locator("#id_name_en")).to_be_visible()
    expect(admin.locator("#id_name_zh_hans")).to_be_hidden()
    admin.get_by_role("tab", name="简体中文").click()
    expect(admin.locator("#id_name_zh_hans")).to_be_visible()
    expect(admin.locator("#id_service_level_zh_hans")).to_be_visible()
    expect(admin.locator("#id_name_en")).to_be_hidden()
    expect(admin.get_by_text("名称\uff08简体中文\uff09")).to_be_visible()  # fullwidth brackets
    screenshot(admin, f"bilingual-admin-grade-form-zh-{screen}")
    context.close()
    staff.close()
