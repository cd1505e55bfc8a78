"""A provisional upgrade reaching the portal in a real browser (issue #15, item 3).

In English and Chinese, on a 1366x900 desktop and a 390x844 phone: a customer graded Growth
at the first of this month orders enough to earn Key; the check upgrades them at once, and
their portal shows Key, the sentence saying the upgrade is provisional until the next
grading, the message congratulating them and the history row "Provisional upgrade".
Screenshots under test-artifacts/screenshots/.

Dates are today's (the live server runs on the real clock): one order of 6,000 eleven days
before the run (H = 50, Growth), then one of 1,000 now (H = 58.33, Key) under the
hand-computable scheme of tests/grading/factories.py (`threshold_scheme`).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.services.imports import order_import
from customers.tabular import Records
from grading.models import CustomerGrade, GradingRun
from grading.services.provisional import grade_provisional_upgrade_check
from grading.services.runs import grading_run_execute
from grading.services.schemes import scheme_activate, scheme_provisional_upgrades_set
from tests.appeals.factories import PASSWORD, CustomerAccountFactory
from tests.browser.screens import DESKTOP, PHONE, fits_the_screen
from tests.customers.factories import CustomerFactory, UserFactory
from tests.grading.factories import orders_for, threshold_scheme

WORDS = {
    "en": {
        "grade": "Key",
        "provisional": "Upgraded provisionally to Key on",
        "next": "the next grading confirms it.",
        "message": "Congratulations: your recent orders made you Key",
        "source": "Provisional upgrade",
    },
    "zh-hans": {
        "grade": "重点客户",
        "provisional": "临时升为重点客户",
        "next": "下一次评级将予以确认。",
        "message": "恭喜：您近期的订单让您升为重点客户",  # noqa: RUF001
        "source": "临时升级",
    },
}


def _upgraded_customer():
    """A portal customer upgraded provisionally from Growth to Key a moment ago."""
    active = scheme_activate(scheme=threshold_scheme("provisional"), by=None)
    scheme_provisional_upgrades_set(scheme=active, enabled=True, by=None)
    customer = CustomerFactory(code="FAST", name="Fast Buyer")
    user = UserFactory(username="fast@example.com", email="fast@example.com")
    account = CustomerAccountFactory(user=user, customer=customer)
    as_of = timezone.localdate().replace(day=1)
    orders_for(customer, (as_of - dt.timedelta(days=11), "6000"))
    assert grading_run_execute(as_of=as_of).status == GradingRun.Status.SUCCEEDED
    assert CustomerGrade.objects.get(customer=customer).grade.code == "growth"
    order_import(
        source=Records(
            [
                {
                    "order_no": "FAST-NOW",
                    "customer_code": "FAST",
                    "placed_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
                    "amount": "1000",
                }
            ]
        ),
        filename="api",
    )
    # What the task enqueued on commit does (tests/grading/test_provisional_race.py runs it
    # through a real worker).
    assert grade_provisional_upgrade_check(customer_ids=[customer.pk]).upgraded == 1
    return account


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_provisional_upgrade_reaches_the_portal(
    browser, live_server, screenshot, language, viewport
):
    account = _upgraded_customer()
    words = WORDS[language]
    name = f"provisional-upgrade-{language}-{'phone' if viewport is PHONE else 'desktop'}"
    context = browser.new_context(viewport=viewport, locale="en-GB")
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#id_username", account.user.username)
    page.fill("#id_password", PASSWORD)
    page.locator("form [type=submit]").last.click()

    # The grade page: Key, and why it is provisional.
    expect(page.get_by_test_id("grade")).to_contain_text(words["grade"])
    provisional = page.get_by_test_id("provisional")
    expect(provisional).to_contain_text(words["provisional"])
    expect(provisional).to_contain_text(words["next"])
    assert fits_the_screen(page)
    provisional.scroll_into_view_if_needed()
    screenshot(page, f"{name}-01-grade")

    # The message, and opening it leads back to the grade page.
    page.goto(f"{live_server.url}/portal/notifications/")
    message = page.get_by_test_id("message").first
    expect(message).to_contain_text(words["message"])
    assert fits_the_screen(page)
    screenshot(page, f"{name}-02-message")
    message.click()
    expect(page).to_have_url(f"{live_server.url}/portal/")
    expect(page.get_by_test_id("provisional")).to_be_visible()

    # The history names the upgrade for what it is.
    page.goto(f"{live_server.url}/portal/history/")
    expect(page.locator("table tbody tr").first).to_contain_text(words["source"])
    assert fits_the_screen(page)
    screenshot(page, f"{name}-03-history")
    context.close()
