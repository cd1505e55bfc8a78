"""Issue #13 in a real browser: Operations grade from the admin and decide a proposal where
they read it. "Grade now" queues the run on the harness's Redis and a real Celery worker grades
it on the test database while the run's page polls its progress to 100 % and success; a
proposal is approved, and another rejected (a reason required) from its own page. In English
and Chinese at 1366x900 (the grade-change page on a 390x844 phone too); screenshots in
test-artifacts/screenshots/grade-now-*.png and decide-*.png.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from grading.models import CustomerGrade, GradeAuditEntry, GradeChange, GradingRun
from grading.services.schedule import period_as_of
from tests.appeals.factories import PASSWORD, FollowUpFactory
from tests.browser.conftest import SCREENSHOTS
from tests.browser.screens import DESKTOP, PHONE, fits_the_screen
from tests.customers.factories import CustomerFactory
from tests.grading.factories import grade, orders_for, proposal_for

#: What each language reads: the run's succeeded status, the reason-required error, and the
#: start of the messages after approving and rejecting.
WORDS = {
    "en": ("Succeeded", "Give a reason for rejecting the change.", "Approved: ", "Rejected: "),
    "zh-CN": ("成功", "请填写驳回此变更的原因。", "已批准：", "已驳回："),  # noqa: RUF001
}

READABLE_DURATION = re.compile(r"^\s*\d+(\.\d)? ?(s|秒)\s*$")


def _login(page, live_server, user, url):
    page.goto(f"{live_server.url}/admin/login/?next={url}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(f"**{url}")


def _population(as_of: dt.date, n: int = 30) -> None:
    for i in range(n):
        customer = CustomerFactory(code=f"B{i:03d}", name=f"Buyer {i}")
        orders_for(
            customer,
            *[
                (as_of - dt.timedelta(days=3 + 11 * j + i), str(50 * (i + 1)))
                for j in range(1 + i % 5)
            ],
        )


@pytest.mark.browser
@pytest.mark.services
@pytest.mark.celery
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_ops_grade_now_and_watch_the_run_to_success(
    browser, live_server, ops, screenshot, celery_worker_process, locale
):
    as_of = period_as_of(timezone.localdate())
    _population(as_of)
    succeeded = WORDS[locale][0]
    context = browser.new_context(locale=locale, viewport=DESKTOP)
    page = context.new_page()
    runs = "/admin/grading/gradingrun/"
    label = locale[:2]

    _login(page, live_server, ops, runs)
    page.get_by_test_id("grade-now").click()
    page.wait_for_url("**/grade-now/")
    expect(page.locator("#id_as_of")).to_have_value(as_of.isoformat())
    assert fits_the_screen(page)
    screenshot(page, f"grade-now-{label}-01-form")

    # A date after today is refused on its field; nothing is queued.
    page.fill("#id_as_of", (timezone.localdate() + dt.timedelta(days=3)).isoformat())
    page.locator("[data-testid=grade-now-form] [type=submit]").click()
    expect(page.locator(".field-as_of .errorlist")).to_be_visible()
    assert not GradingRun.objects.exists()
    screenshot(page, f"grade-now-{label}-02-future-refused")

    page.fill("#id_as_of", as_of.isoformat())
    page.locator("[data-testid=grade-now-form] [type=submit]").click()
    page.wait_for_url("**/change/")
    progress = page.get_by_test_id("run-progress")
    expect(progress).to_be_visible()
    screenshot(page, f"grade-now-{label}-03-queued-or-running")

    # The worker grades it; the page polls, then reloads on the finished run.
    expect(progress.locator("[data-run-field=status_label]")).to_have_text(
        succeeded, timeout=60_000
    )
    expect(progress.locator("progress")).to_have_attribute("value", "100")
    run = GradingRun.objects.get()
    assert run.status == GradingRun.Status.SUCCEEDED, run.error
    assert (run.scored, run.progress_done, run.progress_total) == (30, 30, 30)
    assert run.triggered_by == ops.username
    assert fits_the_screen(page)
    screenshot(page, f"grade-now-{label}-04-succeeded")

    page.goto(f"{live_server.url}{runs}")
    # "0.4 s" or "2 s", never 0.42662157400191063.
    expect(page.locator("td.field-duration").first).to_have_text(READABLE_DURATION)
    assert fits_the_screen(page)
    screenshot(page, f"grade-now-{label}-05-runs-list")
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(
    ("locale", "viewport", "label"),
    [("en", DESKTOP, "en-desktop"), ("zh-CN", DESKTOP, "zh-desktop"), ("en", PHONE, "en-phone")],
)
def test_ops_approve_and_reject_from_the_change_page(
    browser, live_server, ops, alice, screenshot, locale, viewport, label
):
    first = proposal_for(
        CustomerFactory(name="Liu Jing", account_manager=alice),
        from_code="growth",
        to_code="standard",
    )
    second = proposal_for(
        CustomerFactory(name="Wang Fang", account_manager=alice),
        from_code="key",
        to_code="growth",
    )
    FollowUpFactory(customer=first.customer, author=alice, outcome="Called: orders resume in May.")
    _, reason_required, approved, rejected = WORDS[locale]
    context = browser.new_context(locale=locale, viewport=viewport)
    page = context.new_page()
    url = f"/admin/grading/gradechange/{first.pk}/change/"

    _login(page, live_server, ops, url)
    expect(page.get_by_test_id("change-decision")).to_be_visible()
    expect(page.get_by_test_id("change-follow-ups")).to_contain_text("orders resume in May")
    expect(page.get_by_test_id("change-appeals")).to_be_visible()
    assert fits_the_screen(page)
    screenshot(page, f"decide-{label}-01-proposal")

    page.fill("#id_note", "Checked with the account manager")
    page.get_by_test_id("approve").click()
    page.wait_for_load_state()
    expect(page.get_by_text(f"{approved}Liu Jing")).to_be_visible()
    first.refresh_from_db()
    assert first.status == GradeChange.Status.APPLIED
    assert CustomerGrade.objects.get(customer=first.customer).grade == grade("standard")
    assert GradeAuditEntry.objects.filter(change=first, actor=ops).count() == 1
    expect(page.get_by_test_id("change-decision")).to_have_count(0)
    screenshot(page, f"decide-{label}-02-approved")

    page.goto(f"{live_server.url}/admin/grading/gradechange/{second.pk}/change/")
    page.get_by_test_id("reject").click()
    expect(page.locator(".field-note .errorlist")).to_contain_text(reason_required)
    assert fits_the_screen(page)
    screenshot(page, f"decide-{label}-03-reason-required")
    # What the reviewer sees first, without scrolling: the error, the box, both buttons.
    page.screenshot(path=str(SCREENSHOTS / f"decide-{label}-03-reason-required-viewport.png"))
    page.fill("#id_note", "Seasonal dip; orders resume next quarter")
    page.get_by_test_id("reject").click()
    page.wait_for_load_state()
    expect(page.get_by_text(f"{rejected}Wang Fang")).to_be_visible()
    second.refresh_from_db()
    assert second.status == GradeChange.Status.REJECTED
    assert second.decision_note == "Seasonal dip; orders resume next quarter"
    assert fits_the_screen(page)
    screenshot(page, f"decide-{label}-04-rejected")
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_the_grade_now_form_and_a_running_run_fit_a_phone(
    browser, live_server, ops, screenshot, locale
):
    from tests.grading.factories import GradingRunFactory, default_scheme

    as_of = period_as_of(timezone.localdate())
    run = GradingRunFactory(
        scheme=default_scheme(),
        as_of=as_of,
        status=GradingRun.Status.RUNNING,
        phase=GradingRun.Phase.SCORE,
        started_at=timezone.now() - dt.timedelta(seconds=75),
        progress_total=1234,
    )
    context = browser.new_context(locale=locale, viewport=PHONE)
    page = context.new_page()
    runs = "/admin/grading/gradingrun/"
    label = locale[:2]

    _login(page, live_server, ops, runs)
    widget = page.locator("#result_list .run-progress").first
    expect(widget).to_be_visible()
    expect(widget.locator("[data-run-field=customers]")).to_contain_text("1,234")
    # The list's widget is live: what the run records next shows without a reload.
    GradingRun.objects.filter(pk=run.pk).update(phase=GradingRun.Phase.WRITE, progress_total=4321)
    expect(widget.locator("[data-run-field=customers]")).to_contain_text("4,321")
    expect(widget.locator("progress")).to_have_attribute("value", "60")
    assert fits_the_screen(page)
    screenshot(page, f"grade-now-{label}-phone-01-runs-list")

    page.goto(f"{live_server.url}{runs}grade-now/")
    expect(page.locator("#id_as_of")).to_have_value(as_of.isoformat())
    assert fits_the_screen(page)
    screenshot(page, f"grade-now-{label}-phone-02-form")
    context.close()
