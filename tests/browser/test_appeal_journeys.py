"""The three journeys of issue 4 in a real browser:

1. a customer (on a phone-sized screen) sees a downgrade, files an appeal with a PDF and
   sees it pending;
2. ops accept it in the admin, with a note for the customer;
3. the account manager sees the restored grade and the closed appeal in the queue.

Every page visited is saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from appeals.models import Appeal
from grading.models import CustomerGrade, GradeOverride
from tests.appeals.factories import PASSWORD, portal_customer
from tests.browser.screens import PHONE, fits_the_screen, staff_login

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_customer_appeals_ops_accept_manager_sees_it(
    browser, live_server, alice, ops, screenshot, settings, tmp_path
):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    account, _change = portal_customer(code="CAROL", manager=alice)

    # 1. The customer, on a phone.
    customer = browser.new_context(viewport=PHONE, locale="en-GB")
    page = customer.new_page()
    page.goto(f"{live_server.url}/portal/")
    expect(page.locator("h1")).to_have_text("Customer portal")
    screenshot(page, "1-customer-01-login")
    page.fill("#id_username", account.user.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("grade")).to_contain_text("Growth")
    expect(page.get_by_test_id("appealable")).to_contain_text("Key → Growth")
    assert fits_the_screen(page)
    screenshot(page, "1-customer-02-home-with-downgrade")
    page.get_by_role("link", name="History").click()
    expect(page.locator("h1")).to_have_text("Your grade history")
    assert fits_the_screen(page)
    screenshot(page, "1-customer-02b-history")
    page.get_by_role("link", name="My grade").click()
    page.get_by_test_id("appealable").get_by_role("link", name="Appeal").click()
    expect(page.locator("h1")).to_have_text("Appeal a downgrade")
    page.fill("#id_reason", "Our orders were delayed by your warehouse move in October.")
    page.set_input_files(
        "input[type=file]",
        files=[{"name": "delivery-notes.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    screenshot(page, "1-customer-03-appeal-form")
    page.get_by_role("button", name="File the appeal").click()
    expect(page.get_by_test_id("appeal-status")).to_have_text("Submitted")
    expect(page.get_by_role("link", name="delivery-notes.pdf")).to_be_visible()
    assert fits_the_screen(page)
    screenshot(page, "1-customer-04-appeal-pending")
    appeal = Appeal.objects.get()
    assert appeal.evidence.get().content_type == "application/pdf"
    # The same page in Chinese, through the language switcher.
    page.select_option("#language", "zh-hans")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_test_id("appeal-status")).to_have_text("已提交")
    screenshot(page, "1-customer-05-appeal-pending-zh")
    page.get_by_role("link", name="我的等级").click()
    expect(page.get_by_test_id("why")).to_contain_text("您获得此等级的原因")
    screenshot(page, "1-customer-06-home-zh")
    customer.close()

    # 2. Operations accept it in the admin.
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    staff_login(page, live_server.url, ops.username, "/admin/appeals/appeal/")
    expect(page.locator("#result_list")).to_contain_text("CAROL")
    screenshot(page, "2-ops-01-appeal-queue")
    page.locator("#result_list").get_by_role("link", name=str(appeal)).click()
    expect(page.locator("body")).to_contain_text("delivery-notes.pdf")
    screenshot(page, "2-ops-02-appeal-with-evidence-and-snapshots")
    page.get_by_role("button", name="Accept").click()
    page.fill("#id_note", "Confirmed: the warehouse move delayed your orders.")
    screenshot(page, "2-ops-03-accept-with-note")
    page.locator("input[type=submit][value=Accept]").click()
    expect(page.get_by_text("Accept: 1 appeal(s).")).to_be_visible()
    screenshot(page, "2-ops-04-accepted")
    context.close()
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.ACCEPTED
    assert CustomerGrade.objects.get(customer=account.customer).grade.code == "key"
    assert GradeOverride.objects.get(customer=account.customer).source == "appeal"

    # 3. The account manager sees the restored grade and the closed appeal.
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    staff_login(page, live_server.url, alice.username, "/manager/")
    row = page.locator("tr[data-code=CAROL]")
    expect(row).to_contain_text("Key")
    expect(row).not_to_contain_text("Open appeal")
    screenshot(page, "3-manager-01-queue")
    row.get_by_role("link", name="CAROL").click()
    expect(page.get_by_test_id("appeals")).to_contain_text("Accepted")
    expect(page.get_by_test_id("grade")).to_have_text("Key")
    screenshot(page, "3-manager-02-customer")
    context.close()
