"""The admin's sidebar kept per permission set (issue #19), in a browser: 1366x900 and 390x844,
English and Chinese. An account manager sees their links and not Operations'; a permission
taken from their group takes its link away on the next page; the link of the page shown is
the active one. Screenshots: test-artifacts/screenshots/admin-sidebar-*.png.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from common.roles import ACCOUNT_MANAGERS
from tests.browser.screens import DESKTOP, PHONE, fits_the_screen, staff_login

LANGUAGES = {"en": "en-GB", "zh-hans": "zh-CN"}
FOLLOW_UPS = "/admin/appeals/followup/"
ACCOUNTS = "/admin/customers/customeraccount/"
QUEUE_TITLE = {"en": "Account-manager queue", "zh-hans": "客户经理工作队列"}


def _open_sidebar(page, screen: dict[str, int]) -> None:
    """At 1280 px and less unfold hides the sidebar behind its menu button."""
    if screen["width"] <= 1280:
        page.locator("[x-on\\:click='sidebarToggle()']").locator("visible=true").first.click()
    expect(page.locator("#nav-sidebar")).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_the_sidebar_follows_permissions_and_the_page(
    browser, live_server, alice, screenshot, language, screen
):
    viewport = DESKTOP if screen == "desktop" else PHONE
    context = browser.new_context(
        viewport=viewport,
        locale=LANGUAGES[language],
        extra_http_headers={"Accept-Language": language},
    )
    page = context.new_page()
    staff_login(page, live_server.url, alice.username, next_path=FOLLOW_UPS)
    expect(page).to_have_url(f"{live_server.url}{FOLLOW_UPS}")
    _open_sidebar(page, viewport)
    sidebar = page.locator("#nav-sidebar")
    # The first link of each is the navigation's, the other "All applications"' (the app list).
    follow_ups = sidebar.locator(f"a[href='{FOLLOW_UPS}']").first
    accounts = sidebar.locator(f"a[href='{ACCOUNTS}']").first
    expect(follow_ups).to_be_visible()
    expect(accounts).to_be_visible()
    expect(sidebar.get_by_text(QUEUE_TITLE[language])).to_be_visible()
    # Operations' links (users, grading runs) are not an account manager's.
    expect(sidebar.locator("a[href='/admin/auth/user/']")).to_have_count(0)
    expect(sidebar.locator("a[href='/admin/grading/gradingrun/']")).to_have_count(0)
    assert "active" in (follow_ups.get_attribute("class") or "")
    assert fits_the_screen(page)
    screenshot(page, f"admin-sidebar-{language}-{screen}-follow-ups")

    # Another page: its link is the active one now, the follow-ups' no longer.
    page.goto(f"{live_server.url}{ACCOUNTS}")
    _open_sidebar(page, viewport)
    assert "active" in (accounts.get_attribute("class") or "")
    assert "active" not in (follow_ups.get_attribute("class") or "")

    # The group loses the portal accounts' view permission: the link goes at once.
    Group.objects.get(name=ACCOUNT_MANAGERS).permissions.remove(
        Permission.objects.get(codename="view_customeraccount")
    )
    page.goto(f"{live_server.url}{FOLLOW_UPS}")
    _open_sidebar(page, viewport)
    expect(follow_ups).to_be_visible()
    expect(sidebar.locator(f"a[href='{ACCOUNTS}']")).to_have_count(0)
    assert fits_the_screen(page)
    screenshot(page, f"admin-sidebar-{language}-{screen}-without-accounts")
    context.close()
