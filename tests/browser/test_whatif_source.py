"""Issue #15 item 4 in a real browser: the what-if page says where the draft's facts came from
(the run that graded the date, no order read; or the orders, and why), in English and
Chinese, at 1366x900 and 390x844, with nothing wider than the screen; each page is saved
under test-artifacts/screenshots/whatif-source-*.png."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from grading.models import GradingScheme
from grading.services.runs import grading_run_execute
from grading.services.schedule import period_as_of
from grading.services.schemes import scheme_revise
from tests.browser.screens import DESKTOP, PHONE, fits_the_screen, staff_login
from tests.customers.factories import CustomerFactory
from tests.grading.factories import buyer, threshold_scheme

RUNS = [
    ("en", "en", "Scored from the facts stored by the run", "Scored from the orders"),
    ("zh-CN", "zh", "根据评级批次", "根据订单评分"),
]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(("locale", "label", "from_run", "from_orders"), RUNS, ids=["en", "zh"])
def test_the_what_if_page_says_where_the_facts_came_from(
    browser, live_server, ops, screenshot, locale, label, from_run, from_orders
):
    as_of = period_as_of(timezone.localdate())
    scheme = threshold_scheme(f"source-{label}")
    buyer("BIG1", "150000", as_of=as_of)
    buyer("MID", "100", as_of=as_of)
    buyer("OLD", "100", as_of=as_of, days_ago=100)
    CustomerFactory(code="NEVER")
    grading_run_execute(as_of=as_of, scheme=scheme)
    same = scheme_revise(scheme=scheme, by=None)
    other = scheme_revise(scheme=scheme, by=None)
    GradingScheme.objects.filter(pk=other.pk).update(window_days=200)

    for screen, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(locale=locale, viewport=viewport)
        page = context.new_page()
        staff_login(page, live_server.url, ops.username)
        for draft, words, name in ((same, from_run, "run"), (other, from_orders, "orders")):
            page.goto(f"{live_server.url}/reports/what-if/{draft.pk}/")
            expect(page.locator("[data-testid=what-if-source]")).to_contain_text(words)
            assert fits_the_screen(page), page.url
            screenshot(page, f"whatif-source-{label}-{screen}-{name}")
        context.close()
