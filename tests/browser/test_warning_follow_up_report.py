"""The reports page's "Warning follow-up" table in a real browser (issue 14, item 3): in
English and Chinese, on a 1366x900 desktop and a 390x844 phone, the figures formatted and the
words translated. Screenshots: test-artifacts/screenshots/warning-follow-up-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.appeals.test_warning_follow_up_report import build_history
from tests.browser.screens import staff_login

SCREENS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
WORDS = {
    "en": {
        "title": "Warning follow-up",
        "columns": ["followed up within SLA", "recovered", "downgraded", "appealed"],
        "all": "all",
        "remark": "at most 7 days after the run finished",
    },
    "zh-hans": {
        "title": "预警沟通",
        "columns": ["时限内跟进", "已恢复", "已降级", "已申诉"],
        "all": "全部",
        "remark": "评级完成后 7 天内记录了预警沟通",
    },
}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_the_warning_follow_up_table_reads_in_both_languages_on_both_screens(
    browser, live_server, ops, screenshot, settings, language, screen
):
    settings.WARNING_FOLLOW_UP_SLA_DAYS = 7
    build_history()
    words = WORDS[language]
    context = browser.new_context(viewport=SCREENS[screen], locale="en-GB")
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    staff_login(page, live_server.url, ops.username, "/reports/")

    section = page.locator("#report-warning_follow_up")
    expect(section.locator("h2")).to_have_text(words["title"])
    headings = section.locator("th").all_inner_texts()
    for column in words["columns"]:
        assert column in headings, headings
    rows = [row.locator("td").all_inner_texts() for row in section.locator("tbody tr").all()]
    assert [row[1:] for row in rows] == [
        ["5", "3", "2", "40.00%", "2", "1", "1", "1"],
        ["1", "0", "0", "0.00%", "0", "0", "0", "1"],
        ["1", "0", "0", "0.00%", "0", "0", "0", "1"],
        ["7", "3", "2", "28.57%", "2", "1", "1", "3"],
    ]
    assert rows[-1][0] == words["all"]
    expect(section.locator(".remark")).to_contain_text(words["remark"])
    # The table scrolls inside its box on a phone; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    name = f"warning-follow-up-{language}-{screen}"
    page_shot = screenshot(page, f"{name}-page")
    section.screenshot(path=str(page_shot.with_name(f"{name}-table.png")))
    context.close()
