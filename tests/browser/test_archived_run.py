"""Issue #15 item 2 in a real browser: a run whose snapshots retention archived says so on its
page, in words, and offers its scores as CSV (read from the Parquet file); a grade change of
that run says its snapshot was moved out instead of pretending there was none. English and
Chinese, 1366x900 and 390x844; screenshots in test-artifacts/screenshots/archived-run-*.png.
"""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from grading.models import GradeChange, GradingRun
from grading.services.runs import grading_run_execute
from grading.services.snapshots import snapshots_retain
from tests.browser.screens import DESKTOP, PHONE, fits_the_screen, staff_login
from tests.customers.factories import CustomerFactory
from tests.grading.factories import orders_for

MONTHS = [dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1)]
WORDS = {
    "en": {
        "archived": "the scores left the database for a Parquet file (customers: 8)",
        "download": "Download the scores",
        "change": "moved out of the database by retention",
    },
    "zh-hans": {
        "archived": "评分已从数据库移至 Parquet 文件（客户数：8）",  # noqa: RUF001
        "download": "下载评分",
        "change": "按保留策略，本次评级的快照已移出数据库",  # noqa: RUF001
    },
}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_archived_run_says_so_and_offers_its_scores(
    browser, live_server, ops, screenshot, settings, tmp_path, language, viewport
):
    settings.GRADING_SNAPSHOT_ARCHIVE_DIR = str(tmp_path / "archive")
    for i in range(8):
        orders_for(
            CustomerFactory(code=f"A{i:02d}", name=f"Buyer {i}"),
            (MONTHS[0] - dt.timedelta(days=3 + i), str(60 + 40 * i)),
        )
    for as_of in MONTHS:
        grading_run_execute(as_of=as_of)
    snapshots_retain(by="command", hot_periods=2)
    old = GradingRun.objects.get(as_of=MONTHS[0])
    change = GradeChange.objects.filter(run=old).order_by("pk").first()
    words = WORDS[language]
    name = f"archived-run-{language}-{'phone' if viewport is PHONE else 'desktop'}"
    context = browser.new_context(viewport=viewport, locale="en-GB", accept_downloads=True)
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    run_page = f"/admin/grading/gradingrun/{old.pk}/change/"
    staff_login(page, live_server.url, ops.username, run_page)
    page.wait_for_url(f"**{run_page}")

    field = page.get_by_test_id("snapshots-kept")
    expect(field).to_contain_text(words["archived"])
    assert fits_the_screen(page)
    field.scroll_into_view_if_needed()
    screenshot(page, f"{name}-01-run")
    with page.expect_download() as download:
        field.get_by_role("link", name="CSV").click()
    lines = download.value.path().read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("customer_code,recency_days")
    assert len(lines) == 9

    page.goto(f"{live_server.url}/admin/grading/gradechange/{change.pk}/change/")
    explanation = page.locator(".grading-explanation")
    expect(explanation).to_contain_text(words["change"])
    assert fits_the_screen(page)
    explanation.scroll_into_view_if_needed()
    screenshot(page, f"{name}-02-change")
    context.close()
