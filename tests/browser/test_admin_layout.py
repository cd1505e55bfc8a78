"""The operations admin at 1366x900, in English and Chinese: the dashboard shows its sections,
and the main lists fit the screen (no sideways scroll of the page, nor of the list's own box),
with the object tools clear of the title. Screenshots: test-artifacts/screenshots/admin-*.png.
"""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.screens import staff_login

DESKTOP = {"width": 1366, "height": 900}
LISTS = {
    "customers": "/admin/customers/customer/",
    "review-queue": "/admin/grading/gradechange/",
    "runs": "/admin/grading/gradingrun/",
    "appeals": "/admin/appeals/appeal/",
    "redemptions": "/admin/benefits/redemption/",
    "snapshots": "/admin/grading/scoresnapshot/",
}
LANGUAGES = {"en": "en-GB", "zh-hans": "zh-CN"}
DASHBOARD_TITLE = {"en": "Dashboard", "zh-hans": "工作台"}

#: The page does not scroll sideways, and a list's table fits the box it scrolls in.
FITS = """() => {
  if (document.documentElement.scrollWidth > window.innerWidth) return false;
  const table = document.querySelector("#result_list");
  if (!table) return true;
  let box = table.parentElement;
  while (box && getComputedStyle(box).overflowX === "visible") box = box.parentElement;
  return !box || box.scrollWidth <= box.clientWidth;
}"""
#: The header's title and its tools (buttons, menus) do not overlap.
TOOLS_CLEAR = """() => {
  const header = document.querySelector("#header-inner");
  const title = header.querySelector("h1").getBoundingClientRect();
  return [...header.querySelectorAll("a, button")].every((tool) => {
    if (tool.closest("h1")) return true;
    const box = tool.getBoundingClientRect();
    if (!box.width) return true;
    return box.left >= title.right || box.right <= title.left
        || box.top >= title.bottom || box.bottom <= title.top;
  });
}"""


@pytest.fixture
def demo(db):
    """A small lived-in demo: a year of monthly runs, proposals, appeals, redemptions."""
    call_command("seed_demo", customers=60, today=dt.date(2026, 12, 4), stdout=StringIO())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_admin_fits_1366_and_the_dashboard_shows_its_sections(
    browser, live_server, demo, ops, screenshot, language
):
    context = browser.new_context(
        viewport=DESKTOP,
        locale=LANGUAGES[language],
        extra_http_headers={"Accept-Language": language},
    )
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda message: (
            errors.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    staff_login(page, live_server.url, ops.username)

    # The login lands on the dashboard (not on a 404: unfold's form has no "next" of its own).
    expect(page.locator("#header-inner h1")).to_contain_text(DASHBOARD_TITLE[language])
    for section in ("pending-count", "pending-oldest", "appeals-overdue", "last-run", "alarms"):
        expect(page.get_by_test_id(section)).to_be_visible()
    expect(page.locator("#nav-sidebar")).to_be_visible()
    assert page.evaluate(FITS)
    screenshot(page, f"admin-{language}-dashboard")

    for name, path in LISTS.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("#result_list")).to_be_visible()
        assert page.evaluate(FITS), f"{name} ({language}) is wider than 1366 px"
        assert page.evaluate(TOOLS_CLEAR), f"{name} ({language}): tools over the title"
        screenshot(page, f"admin-{language}-{name}")

    # The filters panel opens and filters (Alpine.js under the staff policy).
    page.goto(f"{live_server.url}/admin/appeals/appeal/")
    expect(page.locator("#changelist-filter")).to_be_hidden()
    page.locator(".filter-open-button").click()
    expect(page.locator("#changelist-filter")).to_be_visible()
    screenshot(page, f"admin-{language}-appeals-filters")
    page.locator("#changelist-filter a[href*='sla=overdue']").click()
    expect(page).to_have_url(re.compile(r"sla=overdue"))

    # The import / export menu opens (Alpine.js under the staff policy).
    page.goto(f"{live_server.url}/admin/customers/customer/")
    page.get_by_test_id("io-tools").click()
    expect(page.locator(".io-tools nav a").first).to_be_visible()
    context.close()

    assert not errors, "\n".join(errors)


INVITED = {"en": "Invitations sent: 2.", "zh-hans": "已发送邀请：2 封。"}  # noqa: RUF001


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_rows_ticked_in_a_list_reach_the_action(browser, live_server, ops, screenshot, language):
    """The row checkboxes (rendered once per language, common.admin.ModelAdmin) carry each
    row's key: the two rows ticked, and only they, are invited to the portal."""
    from django.core import mail

    from customers.models import CustomerAccount
    from tests.customers.factories import CustomerFactory

    customers = CustomerFactory.create_batch(3)
    context = browser.new_context(
        viewport=DESKTOP,
        locale=LANGUAGES[language],
        extra_http_headers={"Accept-Language": language},
    )
    page = context.new_page()
    staff_login(page, live_server.url, ops.username)
    page.goto(f"{live_server.url}/admin/customers/customer/")
    for customer in customers[:2]:
        page.locator(f"#result_list input.action-select[value='{customer.pk}']").check()
    expect(page.locator(".action-counter")).to_contain_text("2")
    page.select_option("#changelist-actions select[name=action]", "invite_to_portal")
    screenshot(page, f"admin-{language}-customers-two-ticked")
    page.locator("#changelist-actions button[name=index]").click()
    expect(page.get_by_text(INVITED[language])).to_be_visible()
    screenshot(page, f"admin-{language}-customers-invited")
    context.close()

    invited = {message.to[0] for message in mail.outbox}
    assert invited == {customer.email for customer in customers[:2]}
    assert not CustomerAccount.objects.filter(customer=customers[2]).exists()
