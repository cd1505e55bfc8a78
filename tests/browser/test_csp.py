"""The Content-Security-Policy in a real browser: every page keeps working with no violation.

Walks the admin (login, index, changelists, change forms, the customer import and its preview,
an appeal, a history page, a periodic task), Swagger UI, DRF's browsable API, the customer
portal, the manager pages and the reports under the production policy, and fails on any
console message about the Content Security Policy, any `securitypolicyviolation` event and
any page error. The admin and the reports (django-unfold's layout) get the staff policy, every
other page the strict one (common/csp.py). Every page visited is saved under
test-artifacts/screenshots/csp-*.png.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule
from playwright.sync_api import expect

from appeals.models import Appeal
from grading.models import Grade, GradingScheme
from grading.services.runs import grading_run_execute
from tests.appeals.factories import PASSWORD, portal_customer
from tests.customers.factories import UserFactory
from tests.grading.factories import buyer, threshold_scheme
from tierhub.settings.base import CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_STAFF

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
REPORTS_AS_OF = dt.date(2026, 4, 1)

# Reported by the page itself too: Chrome logs most violations to the console, but the DOM
# event also names the directive and is not subject to console wording.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  console.error(`Content Security Policy violation: ${event.violatedDirective} ` +
                `blocked ${event.blockedURI || "inline"} at ${where}`);
});
"""


class Violations:
    """Collects CSP console messages and page errors of every page of a browser context."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def watch(self, context):
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("page", self._attach)
        return context

    def _attach(self, page) -> None:
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.found.append(f"{page.url}: page error {error}"))

    def _console(self, page, message) -> None:
        if "Content Security Policy" in message.text:
            self.found.append(f"{page.url}: {message.text}")


STAFF_PREFIXES = ("/admin/", "/reports/")


def _visit(page, url: str):
    """Open `url` and check that the response carries the enforced policy: the staff one on
    the admin and the reports, the strict one everywhere else."""
    response = page.goto(url)
    assert response is not None
    assert response.ok, f"{url}: {response.status}"
    header = response.headers.get("content-security-policy", "")
    policy = dict(directive.strip().partition(" ")[::2] for directive in header.split(";"))
    if urlsplit(response.url).path.startswith(STAFF_PREFIXES):
        assert policy.get("script-src") == "'self' 'unsafe-eval'", f"{url}: {header!r}"
        assert policy.get("style-src") == "'self' 'unsafe-inline'", f"{url}: {header!r}"
    else:
        assert policy.get("script-src") == "'self'", f"{url}: {header!r}"
        assert policy.get("style-src") == "'self'", f"{url}: {header!r}"
        assert "unsafe-inline" not in header
        assert "unsafe-eval" not in header
    assert "'unsafe-inline'" not in policy.get("script-src", "")
    assert "content-security-policy-report-only" not in response.headers
    return response


def _admin_login(page, live_server, username: str, next_path: str) -> None:
    _visit(page, f"{live_server.url}/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]")


def _background(locator) -> str:
    return locator.evaluate("element => getComputedStyle(element).backgroundColor")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_page_works_under_the_production_policy(
    browser, live_server, alice, screenshot, settings, tmp_path
):
    # Given the production policy (base.py's, which production.py enforces unchanged:
    # tests/test_settings.py) and a little of everything to show.
    settings.CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY_STAFF = CONTENT_SECURITY_POLICY_STAFF
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    admin_user = UserFactory(username="root-admin", is_staff=True, is_superuser=True)
    account, change = portal_customer(code="CAROL", manager=alice)
    key = Grade.objects.get(code="key")
    key.color = "#7c3aed"
    key.save(update_fields=["color"])
    crontab = CrontabSchedule.objects.create(minute="30", hour="2")
    violations = Violations()

    # The customer, on a phone: login, home, history, all grades, the appeal form, messages.
    context = violations.watch(browser.new_context(viewport=PHONE, locale="en-GB"))
    page = context.new_page()
    _visit(page, f"{live_server.url}/portal/")
    screenshot(page, "csp-portal-01-login")
    page.fill("#id_username", account.user.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("appealable")).to_contain_text("Key → Growth")
    _visit(page, f"{live_server.url}/portal/")
    screenshot(page, "csp-portal-02-home")
    _visit(page, f"{live_server.url}/portal/history/")
    expect(page.locator("h1")).to_have_text("Your grade history")
    screenshot(page, "csp-portal-03-history")
    _visit(page, f"{live_server.url}/portal/grades/")
    # The pill takes its grade's colour from data-color (js/grade-pills.js), not style="".
    assert _background(page.locator("[data-testid=rung-key] .grade-pill")) == "rgb(124, 58, 237)"
    screenshot(page, "csp-portal-04-grades")
    _visit(page, f"{live_server.url}/portal/appeals/new/{change.pk}/")
    expect(page.locator("h1")).to_have_text("Appeal a downgrade")
    page.fill("#id_reason", "Our orders were delayed by your warehouse move in October.")
    screenshot(page, "csp-portal-05-appeal-form")
    page.get_by_role("button", name="File the appeal").click()
    expect(page.get_by_test_id("appeal-status")).to_have_text("Submitted")
    screenshot(page, "csp-portal-06-appeal-filed")
    _visit(page, f"{live_server.url}/portal/notifications/")
    screenshot(page, "csp-portal-07-messages")
    context.close()
    appeal = Appeal.objects.get()
    # Old enough to be overdue: the changelist shows the red "Overdue" (a class, not a style).
    Appeal.objects.filter(pk=appeal.pk).update(created_at=timezone.now() - dt.timedelta(days=30))

    # The account manager: queue, a customer, messages.
    context = violations.watch(browser.new_context(viewport=DESKTOP, locale="en-GB"))
    page = context.new_page()
    _admin_login(page, live_server, alice.username, "/manager/")
    expect(page.locator("tr[data-code=CAROL]")).to_contain_text("Growth")
    screenshot(page, "csp-manager-01-queue")
    page.locator("tr[data-code=CAROL]").get_by_role("link", name="CAROL").click()
    expect(page.get_by_test_id("grade")).to_have_text("Growth")
    growth = Grade.objects.get(code="growth")
    assert _background(page.get_by_test_id("grade")) == _rgb(growth.color)
    screenshot(page, "csp-manager-02-customer")
    _visit(page, f"{live_server.url}/manager/notifications/")
    screenshot(page, "csp-manager-03-messages")
    context.close()

    # Operations in the admin.
    context = violations.watch(browser.new_context(viewport=DESKTOP, locale="en-GB"))
    page = context.new_page()
    _admin_login(page, live_server, admin_user.username, "/admin/")
    # At 1280 px unfold starts with its sidebar folded; opening it runs Alpine.js (unsafe-eval).
    expect(page.locator("#nav-sidebar")).to_be_hidden()
    page.get_by_text("dock_to_right").first.click()
    expect(page.locator("#nav-sidebar")).to_be_visible()
    screenshot(page, "csp-admin-01-index")
    _visit(page, f"{live_server.url}/admin/customers/customer/")
    expect(page.locator("#result_list")).to_contain_text("CAROL")
    screenshot(page, "csp-admin-02-customer-changelist")
    page.locator("#result_list").get_by_role("link", name="CAROL").click()
    expect(page.locator("#customer_form")).to_be_visible()
    screenshot(page, "csp-admin-03-customer-change-form")
    _visit(page, f"{live_server.url}/admin/customers/customer/import/")
    screenshot(page, "csp-admin-04-customer-import")
    page.set_input_files(
        "input[type=file]",
        files=[
            {
                "name": "customers.csv",
                "mimeType": "text/csv",
                "buffer": b"code,name\nNEW-1,New customer\n,Missing code\n",
            }
        ],
    )
    page.get_by_role("button", name="Check the file (dry run)").click()
    expect(page.locator("#import-errors")).to_be_visible()
    screenshot(page, "csp-admin-05-customer-import-preview")
    _visit(page, f"{live_server.url}/admin/appeals/appeal/")
    overdue = page.locator("#result_list .overdue")
    expect(overdue).to_have_text("Overdue")
    assert overdue.evaluate("e => getComputedStyle(e).color") == "rgb(185, 28, 28)"
    screenshot(page, "csp-admin-06-appeal-changelist")
    _visit(page, f"{live_server.url}/admin/appeals/appeal/{appeal.pk}/change/")
    expect(page.get_by_role("button", name="Accept")).to_be_visible()
    screenshot(page, "csp-admin-07-appeal-change-form")
    _visit(page, f"{live_server.url}/admin/grading/grade/{key.pk}/history/")
    expect(page.locator("#change-history")).to_be_visible()
    screenshot(page, "csp-admin-08-grade-history")
    scheme = GradingScheme.objects.get(name="default", version=1)
    _visit(page, f"{live_server.url}/admin/grading/gradingscheme/{scheme.pk}/change/")
    screenshot(page, "csp-admin-09-scheme-change-form")
    _visit(page, f"{live_server.url}/admin/django_celery_beat/periodictask/add/")
    page.select_option("#id_crontab", value=str(crontab.pk))
    # The crontab in words, from js/periodic-task-form.js (the package's inline script).
    expect(page.locator(".field-crontab .help")).to_contain_text("Translation: At 02:30")
    screenshot(page, "csp-admin-10-periodic-task-form")
    _visit(page, f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
    screenshot(page, "csp-admin-11-swagger-ui")
    # DRF's browsable API: its button floats are the one attribute common/csp.py allows.
    _visit(page, f"{live_server.url}/api/customers/")
    page.get_by_role("button", name="Filters").click()
    expect(page.locator("#filtersModal")).to_have_css("opacity", "1")  # faded in
    screenshot(page, "csp-admin-12-browsable-api")

    # The reports, on a run with a few buyers.
    for code, amounts in {"BIG": ("150000",), "MID": ("3000", "2000"), "SMALL": ("100",)}.items():
        buyer(code, *amounts, as_of=REPORTS_AS_OF, profit="10")
    run = grading_run_execute(as_of=REPORTS_AS_OF, scheme=threshold_scheme("csp"))
    _visit(page, f"{live_server.url}/reports/?run={run.pk}")
    expect(page.locator("svg.report-chart").first).to_be_visible()
    # The chart width comes from reports.css (it was an inline <style>).
    assert (
        page.locator("svg.report-chart").first.evaluate("e => getComputedStyle(e).display")
        == "block"
    )
    screenshot(page, "csp-reports-01-index")
    _visit(page, f"{live_server.url}/reports/what-if/{run.scheme_id}/?as_of=2026-04-01")
    screenshot(page, "csp-reports-02-what-if")
    context.close()

    assert not violations.found, "\n".join(violations.found)


def _rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"
