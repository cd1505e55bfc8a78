"""The dashboard's needs counts (issue #19) at 1366x900 and on a 390x844 phone, in English
and Chinese: the section shows every need with its count, fits the screen, and a count leads
to the manager queue filtered to that need, listing as many customers as it said.
Screenshots: test-artifacts/screenshots/dashboard-needs-*.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from manager.needs import queue_needs_refresh
from tests.backoffice.test_dashboard import _needs_population
from tests.browser.screens import staff_login

SCREENS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
LANGUAGES = {"en": "en-GB", "zh-hans": "zh-CN"}
TITLE = {"en": "Customers needing their account manager", "zh-hans": "需要客户经理跟进的客户"}
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_needs_counts_fit_and_lead_to_the_filtered_queue(
    browser, live_server, ops, alice, bob, screenshot, language
):
    _needs_population(alice, bob)
    queue_needs_refresh()
    for screen, viewport in SCREENS.items():
        context = browser.new_context(
            viewport=viewport,
            locale=LANGUAGES[language],
            extra_http_headers={"Accept-Language": language},
        )
        page = context.new_page()
        staff_login(page, live_server.url, ops.username)

        needs = page.get_by_test_id("needs")
        expect(needs).to_be_visible()
        expect(page.get_by_text(TITLE[language])).to_be_visible()
        counts = needs.get_by_test_id("need-count")
        expect(counts).to_have_count(7)
        assert page.evaluate(FITS), f"the dashboard ({language}, {screen}) scrolls sideways"
        needs.scroll_into_view_if_needed()
        screenshot(page, f"dashboard-needs-{language}-{screen}")

        breached = int(counts.first.inner_text())
        assert breached > 0
        counts.first.click()
        expect(page).to_have_url(re.compile(r"/manager/\?flag=sla$"))
        expect(page.locator("[data-testid=queue] tbody tr[data-code]")).to_have_count(breached)
        context.close()
