"""Issue #13 item 6 in a real browser: edit a draft scheme's thresholds and ladder (a wrong
value is refused naming the score), open its what-if, filter the customers who would move,
then activate the draft through its confirmation page. At 1366x900 in English and Chinese,
with no horizontal scroll on any page; each page is saved under
test-artifacts/screenshots/scheme-whatif-*.png."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from grading.models import GradingScheme, SchemeGrade
from grading.services.runs import grading_run_execute
from grading.services.schedule import period_as_of
from grading.services.schemes import scheme_revise
from tests.appeals.factories import PASSWORD
from tests.customers.factories import CustomerFactory
from tests.grading.factories import buyer, threshold_scheme

RUNS = [("en", "en"), ("zh-CN", "zh")]


def _population(name: str):
    """Four buyers graded under a threshold scheme (key >= 55, growth >= 25, H only) and a
    draft of it; see tests/grading/test_whatif_movers.py for the hand computation."""
    as_of = period_as_of(timezone.localdate())
    scheme = threshold_scheme(name)
    buyer("BIG1", "150000", as_of=as_of)
    buyer("BIG2", "150000", as_of=as_of)
    buyer("MID", "100", as_of=as_of)
    buyer("OLD", "100", as_of=as_of, days_ago=100)
    CustomerFactory(code="NEVER")
    grading_run_execute(as_of=as_of, scheme=scheme)
    return scheme_revise(scheme=scheme, by=None)


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(("locale", "label"), RUNS, ids=[r[1] for r in RUNS])
def test_edit_a_draft_check_its_what_if_filter_the_movers_and_activate_it(
    browser, live_server, ops, screenshot, locale, label
):
    draft = _population(f"whatif-{label}")
    context = browser.new_context(locale=locale, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    shot = f"scheme-whatif-{label}"

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", ops.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_load_state()

    # 1. The draft: thresholds one field per score, the ladder within the screen.
    page.goto(f"{live_server.url}/admin/grading/gradingscheme/{draft.pk}/change/")
    expect(page.locator("#id_f_threshold_4")).to_have_value("8")
    _fits(page)
    ladder = page.locator("#ladder-group table")
    assert ladder.bounding_box()["width"] <= page.locator("#ladder-group").bounding_box()["width"]
    screenshot(page, f"{shot}-01-draft")
    page.fill("#id_f_threshold_4", "4")
    page.fill("#id_ladder-0-min_score", "70")  # Key (ladder rows by rank)
    page.fill("#id_ladder-1-min_score", "15")  # Growth
    page.locator("button[name=_continue]").click()
    page.wait_for_load_state()
    error = page.locator(".field-f_threshold_4 .errorlist, .field-f_threshold_4 ul").first
    expect(error).to_contain_text("4")
    screenshot(page, f"{shot}-02-threshold-refused")
    page.fill("#id_f_threshold_4", "10")
    page.fill("#id_ladder-0-min_score", "70")
    page.fill("#id_ladder-1-min_score", "15")
    page.locator("button[name=_continue]").click()
    page.wait_for_load_state()
    draft.refresh_from_db()
    assert draft.f_thresholds == [2, 4, 10, 16]
    assert SchemeGrade.objects.get(scheme=draft, grade__code="key").min_score == 70
    assert "revise" not in page.content()  # no "new draft version" offered on a draft

    # 2. Its what-if: who would move, filtered by move.
    page.goto(f"{live_server.url}/admin/grading/gradingscheme/{draft.pk}/what-if/")
    expect(page.locator("[data-testid=what-if-summary]")).to_contain_text("3")
    expect(page.locator("[data-testid=movers] tbody tr")).to_have_count(3)
    _fits(page)
    screenshot(page, f"{shot}-03-what-if")
    page.select_option("#move", "key>growth")
    page.locator(".what-if-filters button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator("[data-testid=movers] tbody tr")).to_have_count(2)
    expect(page.locator("[data-testid=movers]")).to_contain_text("BIG1")
    expect(page.locator("[data-testid=movers]")).not_to_contain_text("OLD")
    _fits(page)
    screenshot(page, f"{shot}-04-movers-filtered")

    # 3. Activate the draft: a confirmation page, then the service.
    page.locator("[data-testid=activate-draft]").click()
    page.wait_for_load_state()
    expect(page.locator("[data-testid=activate-confirmation]")).to_be_visible()
    _fits(page)
    screenshot(page, f"{shot}-05-activate-confirm")
    page.locator("[data-testid=activate-confirmation] button[type=submit]").click()
    page.wait_for_load_state()
    draft.refresh_from_db()
    assert draft.status == GradingScheme.Status.ACTIVE
    expect(page.locator("body")).to_contain_text(f"whatif-{label}")
    _fits(page)
    screenshot(page, f"{shot}-06-activated")
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_draft_what_if_and_activation_pages_fit_a_phone_in_chinese(
    browser, live_server, ops, screenshot
):
    draft = _population("whatif-phone")
    SchemeGrade.objects.filter(scheme=draft, grade__code="key").update(min_score=70)
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", ops.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_load_state()

    for step, path in (
        ("01-draft", f"/admin/grading/gradingscheme/{draft.pk}/change/"),
        ("02-what-if", f"/reports/what-if/{draft.pk}/"),
        ("03-activate-confirm", f"/reports/what-if/{draft.pk}/activate/"),
    ):
        page.goto(f"{live_server.url}{path}")
        _fits(page)
        screenshot(page, f"scheme-whatif-phone-zh-{step}")
    expect(page.locator("[data-testid=activate-confirmation]")).to_contain_text("whatif-phone")
    context.close()
