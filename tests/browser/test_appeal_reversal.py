"""A downgrade reversed by an accepted appeal, as the account manager sees it (issue 14, item
5): beside the accepted appeal, "Reversed on appeal on <date>: <grade> kept", in English and
Chinese, on a 1366x900 desktop and a 390x844 phone. The customer's side is in
test_customer_journey.py. Screenshots: test-artifacts/screenshots/appeal-reversal-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from appeals.services import appeal_accept
from tests.appeals.factories import file_appeal, portal_customer
from tests.browser.screens import staff_login

SCREENS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
WORDS = {
    "en": ("Reversed on appeal on", "Key kept"),
    "zh-hans": ("申诉后撤销", "保留重点客户"),
}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_the_manager_reads_that_the_downgrade_was_reversed(
    browser, live_server, alice, ops, screenshot, settings, tmp_path, language, screen
):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    account, change = portal_customer(code="CAROL", manager=alice)
    appeal = file_appeal(account, change)
    appeal_accept(appeal_id=appeal.pk, by=ops, note="Confirmed: the warehouse move.")
    context = browser.new_context(viewport=SCREENS[screen], locale="en-GB")
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    staff_login(page, live_server.url, alice.username, f"/manager/customers/{account.customer.pk}/")

    reversed_note = page.get_by_test_id("appeals").get_by_test_id("reversed")
    for words in WORDS[language]:
        expect(reversed_note).to_contain_text(words)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_test_id("appeals").scroll_into_view_if_needed()
    screenshot(page, f"appeal-reversal-manager-{language}-{screen}")
    context.close()
