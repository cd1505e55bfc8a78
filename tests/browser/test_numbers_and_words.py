"""Issue #13 item 5 in a real browser: the reports page and an admin list with money read in
words and formatted numbers, in English and Chinese, on a 1366x900 screen and a 390x844
phone. Screenshots: test-artifacts/screenshots/numbers-*.png."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from tests.appeals.factories import PASSWORD

LANGUAGES = [("en", "en"), ("zh-CN", "zh")]
SCREENS = [("desktop", 1366, 900), ("phone", 390, 844)]
#: Codes that must never reach a page: pyramid, lifecycle, policy actions and rules.
CODES = re.compile(
    r"\b(small|medium|large|top|mature|growing|dormant|churned|at_risk|propose_downgrade"
    r"|downgrade_after|warn_after|first_grading)\b"
)
#: Float noise or unformatted money: 378403.710000001, 2446219.18000000, 221.0 on a chart.
NOISE = re.compile(r"\d\.\d{3,}|\b\d{5,}\.\d\d\b|\b\d+\.0\b")


@pytest.fixture
def demo(transactional_db):
    """120 demo customers and three months of history (runs, redemptions, appeals)."""
    call_command("seed_demo", "--customers=120", "--months=3", stdout=StringIO())


def _login(page, url: str) -> None:
    page.goto(f"{url}/admin/login/?next=/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_load_state()


def _table_text(page, selector: str) -> str:
    return " ".join(page.locator(selector).all_inner_texts())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(("locale", "label"), LANGUAGES, ids=[r[1] for r in LANGUAGES])
def test_reports_and_money_lists_read_as_words_and_formatted_numbers(
    browser, live_server, demo, screenshot, locale, label
):
    from django.contrib.auth import get_user_model

    ops = get_user_model().objects.get(username="ops")
    ops.set_password(PASSWORD)
    ops.save(update_fields=["password"])
    for screen, width, height in SCREENS:
        context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
        page = context.new_page()
        _login(page, live_server.url)

        page.goto(f"{live_server.url}/reports/")
        page.wait_for_selector("svg[role=img]")
        screenshot(page, f"numbers-reports-{label}-{screen}")
        tables = _table_text(page, ".report-table table")
        assert "¥" in tables  # money with its currency
        assert CODES.search(tables) is None, CODES.search(tables)
        assert NOISE.search(tables) is None, NOISE.search(tables)
        charts = " ".join(page.locator("svg[role=img] text").all_text_contents())
        assert NOISE.search(charts) is None, NOISE.search(charts)
        assert "¥" in charts, page.content()[:3000]  # the profit and cost chart's values
        headings = page.locator(".report-table th").all_inner_texts()
        assert "stage" not in headings
        if label == "zh":
            assert "生命周期阶段" in headings
            assert "Lifecycle" not in page.locator("#content").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        page.goto(f"{live_server.url}/admin/customers/order/")
        rows = _table_text(page, "#result_list tbody")
        assert re.search(r"¥\d{1,3}(,\d{3})*\.\d\d", rows), rows[:300]
        screenshot(page, f"numbers-orders-{label}-{screen}")
        context.close()
