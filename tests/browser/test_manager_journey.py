"""An account manager's warning follow-up in a real browser (issue 14).

In English and Chinese, on a 1366x900 desktop and a 390x844 phone: the staff login at the
site root lands the manager on the queue, whose first row is the urgent one; it shows the
warned customer with "Reach out"; the customer page shows the pending warning; a warning
follow-up (预警沟通) with outcome and next step is recorded; the page shows it and the
queue's flag is gone. Screenshots under test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from appeals.models import FollowUp
from grading.services.notifications import run_notify
from tests.appeals.factories import PASSWORD, grade, run_for, snapshot
from tests.benefits.factories import set_grade
from tests.browser.screens import DESKTOP, PHONE, fits_the_screen
from tests.customers.factories import CustomerFactory

WORDS = {
    "en": {
        "reach_out": "Reach out",
        "kind": "Warning follow-up",
        "add": "Add to the log",
        "recorded": "Follow-up recorded.",
        "warning": "Downgrade warning",
        "message": "Reach out: WARNED Liu Jing is below Key",
        "score": "Composite score 45.0 in the run",
    },
    "zh-hans": {
        "reach_out": "需联系",
        "kind": "预警沟通",
        "add": "添加记录",
        "recorded": "跟进记录已保存。",
        "warning": "降级预警",
        "message": "请跟进：WARNED Liu Jing 已低于 重点客户 标准",  # noqa: RUF001
        "score": "中的综合得分为 45.0。",
    },
}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_manager_records_a_warning_follow_up_and_the_flag_clears(
    browser, live_server, alice, screenshot, language, viewport
):
    customer = CustomerFactory(code="WARNED", name="Liu Jing", account_manager=alice)
    set_grade(customer, "key")
    run = run_for(dt.date(2026, 11, 1))
    snapshot(
        customer, run, grade_code="key", composite=45.0, action="warn", grade_before=grade("key")
    )
    calm = CustomerFactory(code="CALM", name="Wang Fang", account_manager=alice)
    set_grade(calm, "strategic")
    snapshot(calm, run, grade_code="strategic", composite=95.0, action="keep")
    run.save()
    run_notify(run_id=run.pk)  # the run's follow-up task: Alice hears of the warning
    words = WORDS[language]
    name = f"manager-journey-{language}-{'phone' if viewport is PHONE else 'desktop'}"
    context = browser.new_context(viewport=viewport, locale="en-GB")
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    # One staff login at the site root; an account manager lands on the queue.
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", alice.username)
    page.fill("#id_password", PASSWORD)
    page.locator("#login-form [type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/manager/")

    row = page.locator("tr[data-code=WARNED]")
    expect(row).to_contain_text(words["reach_out"])
    # Urgency first: the warned Key customer above the calm Strategic one.
    expect(page.get_by_test_id("queue").locator("tbody tr").first).to_have_attribute(
        "data-code", "WARNED"
    )
    assert fits_the_screen(page)
    screenshot(page, f"{name}-01-queue-reach-out")
    row.get_by_role("link", name="WARNED").click()
    expect(page.get_by_test_id("pending-warning")).to_contain_text(words["warning"])
    expect(page.locator("#id_kind")).to_have_value("warning")
    page.fill("#id_outcome", "Orders paused for a warehouse move; they resume in December.")
    page.fill("#id_next_step", "Call again on 12 December.")
    screenshot(page, f"{name}-02-customer-warning")
    page.get_by_role("button", name=words["add"]).click()
    expect(page.locator("ul.messages")).to_contain_text(words["recorded"])
    expect(page.get_by_test_id("followed-up")).to_contain_text("Call again on 12 December.")
    expect(page.get_by_test_id("follow-ups")).to_contain_text(words["kind"])
    assert fits_the_screen(page)
    screenshot(page, f"{name}-03-followed-up")
    assert FollowUp.objects.get().run == run

    page.goto(f"{live_server.url}/manager/")
    expect(page.locator("tr[data-code=WARNED]")).not_to_contain_text(words["reach_out"])
    expect(page.get_by_test_id("queue").locator("tbody tr").first).to_have_attribute(
        "data-code", "CALM"
    )
    screenshot(page, f"{name}-04-queue-cleared")

    # The run's message, in the manager's language, about the customer by name.
    page.goto(f"{live_server.url}/manager/notifications/")
    message = page.get_by_test_id("message").first
    expect(message).to_contain_text(words["message"])
    expect(page.locator("main")).to_contain_text(words["score"])
    assert fits_the_screen(page)
    screenshot(page, f"{name}-05-messages")
    context.close()
