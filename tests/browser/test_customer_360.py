"""Issue #13 in a real browser: an Operations user opens a customer with history (the customer
360), sees every section, and assigns an account manager through the picker. In English and
Chinese, at 1366x900 and on a 390x844 phone; screenshots in test-artifacts/screenshots/360-*.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from customers.models import ManagerAssignment
from tests.appeals.factories import PASSWORD
from tests.backoffice.factories import customer_with_history, pin
from tests.browser.screens import DESKTOP, PHONE, fits_the_screen
from tests.customers.factories import UserFactory

RUNS = [
    ("en", DESKTOP, "en-desktop"),
    ("en", PHONE, "en-phone"),
    ("zh-CN", DESKTOP, "zh-desktop"),
    ("zh-CN", PHONE, "zh-phone"),
]
SECTIONS = (
    "c360-summary",
    "c360-scores",
    "c360-proposal",
    "c360-history",
    "c360-appeals",
    "c360-follow-ups",
    "c360-benefits",
    "c360-orders",
)
#: What each language reads on the page: (a section heading, the picker's group of managers).
WORDS = {
    "en": ("Latest scores and why", "Account managers"),
    "zh-CN": ("最新得分及原因", "客户经理"),
}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(("locale", "viewport", "label"), RUNS, ids=[r[2] for r in RUNS])
def test_ops_read_the_customer_360_and_assign_a_manager(
    browser, live_server, ops, alice, screenshot, locale, viewport, label
):
    history = customer_with_history(manager=alice)
    pin(history.customer)
    UserFactory.create(
        username="wei-am",
        first_name="Wei",
        last_name="Zhang",
        is_staff=True,
        groups=list(alice.groups.all()),
    )
    heading, managers_group = WORDS[locale]
    context = browser.new_context(locale=locale, viewport=viewport)
    page = context.new_page()
    url = f"/admin/customers/customer/{history.customer.pk}/change/"

    page.goto(f"{live_server.url}/admin/login/?next={url}")
    page.fill("#id_username", ops.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(f"**{url}")

    for section in SECTIONS:
        expect(page.get_by_test_id(section)).to_be_visible()
    expect(page.get_by_test_id("c360-scores")).to_contain_text(heading)
    expect(page.get_by_test_id("c360-orders")).to_contain_text("12,345.60")
    expect(page.get_by_test_id("c360-benefits")).to_contain_text("1,200")
    assert fits_the_screen(page)
    screenshot(page, f"360-{label}-01-page")
    # Every input, component score and policy check, in words.
    scores = page.get_by_test_id("c360-scores")
    scores.locator("summary").click()
    expect(scores.locator("table").first).to_be_visible()
    assert "needs_attention" not in scores.inner_text()
    assert fits_the_screen(page)
    screenshot(page, f"360-{label}-01b-explanation")

    # The picker: staff only, account managers first.
    page.locator("#id_account_manager + .select2 .select2-selection").click()
    groups = page.locator(".select2-results__group")
    expect(groups.first).to_have_text(managers_group)
    expect(page.get_by_role("option", name=ops.username)).to_be_visible()  # other staff, after
    screenshot(page, f"360-{label}-02-picker")
    page.locator(".select2-container--open .select2-search__field").fill("Wei")
    option = page.get_by_role("option", name="Wei Zhang (wei-am)")
    expect(option).to_be_visible()
    option.click()
    page.locator("[name=_save]").first.click()

    page.wait_for_load_state()
    assignment = ManagerAssignment.objects.get(customer=history.customer)
    assert (assignment.previous, assignment.manager.username) == (alice, "wei-am")
    assert assignment.assigned_by == ops
    page.goto(f"{live_server.url}{url}")
    expect(page.get_by_test_id("c360-manager")).to_contain_text("Wei Zhang")
    assert fits_the_screen(page)
    screenshot(page, f"360-{label}-03-assigned")
    context.close()
