"""The customer page of the admin: the customer 360 (issue #13, backoffice.admin)."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import translation

from customers.models import CustomerAccount
from grading.admin.explanations import RULE_LABELS
from grading.labels import action_label
from grading.models import ChangeSource, CustomerGrade, GradeAuditEntry, GradeChange
from tests.backoffice.factories import customer_with_history, pin
from tests.customers.factories import CustomerFactory


def _page(client, customer) -> str:
    answer = client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert answer.status_code == 200
    return answer.content.decode()


def _section(html: str, testid: str) -> str:
    """The text of one section of the page (tags dropped, spaces squeezed)."""
    match = re.search(rf'data-testid="{testid}".*?</section>', html, re.S)
    assert match, f"no section {testid}"
    text = re.sub(r"<[^>]+>", " ", match.group(0))
    return re.sub(r"\s+", " ", text)


@pytest.mark.django_db
def test_every_section_shows_the_customers_history(client, ops, alice):
    history = customer_with_history(manager=alice)
    customer = history.customer
    pin(customer, expires_on=dt.date(2027, 3, 31))
    client.force_login(ops)

    html = _page(client, customer)

    summary = _section(html, "c360-summary")
    assert "Key" in summary
    assert "Manual override: Key, until March 31, 2027" in summary
    assert "alice-am" in summary
    assert "1,200" in summary  # points balance, formatted
    assert "Override grade" in summary
    assert "Invite to the portal" in summary
    scores = _section(html, "c360-scores")
    assert "48.25" in scores
    assert "Downgrade proposed for review" in scores
    assert "1,234,567.80" in scores  # the window's net purchases, in the details
    assert "Needs attention" in scores  # the RFM label in words, not its code
    assert "needs_attention" not in scores
    assert "Important value" in scores  # the RFM segment too
    proposal = _section(html, "c360-proposal")
    assert "Downgrade: Key → Growth" in proposal
    assert "by the grading run of" in proposal
    # A run's proposal is named by its run, never by the prose a run once stored.
    assert "Two quarterly reviews under target" not in proposal
    assert "Approve the downgrade" in proposal
    assert "Reject: keep the grade" in proposal
    history_section = _section(html, "c360-history")
    assert "Run of October 2026" in history_section  # a run's entry is named by its run
    assert "Composite 72.5 earns Key" not in history_section  # not by prose it stored
    assert "Standard → Key" in _section(html, "c360-history")
    appeals = _section(html, "c360-appeals")
    assert "Growth → Standard" in appeals
    assert "Rejected" in appeals
    follow_ups = _section(html, "c360-follow-ups")
    assert "Called the buyer: order coming" in follow_ups
    assert "Meeting" in follow_ups
    benefits = _section(html, "c360-benefits")
    assert "Free shipping" in benefits
    assert "1,250.50" in benefits
    assert "Product review" in benefits
    orders = _section(html, "c360-orders")
    assert "LIU-1-O000" in orders
    assert "12,345.60" in orders
    assert "Tea" in orders
    # The edit form is still there, under the sections.
    assert 'id="customer_form"' in html
    assert html.index('data-testid="customer-360"') < html.index('id="customer_form"')


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_scores_read_as_words_and_formatted_numbers(client, ops, alice, language):
    customer = customer_with_history(manager=alice).customer
    client.force_login(ops)

    answer = client.get(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        HTTP_ACCEPT_LANGUAGE=language,
    )

    scores = unescape(_section(answer.content.decode(), "c360-scores"))
    with translation.override(language):
        assert action_label("propose_downgrade") in scores
        assert str(RULE_LABELS["downgrade_after"]) in scores
    assert "¥1,234,567.80" in scores  # the window's net purchases, with the currency
    for raw in ("propose_downgrade", "downgrade_after", "1234567.80"):
        assert raw not in scores, raw


@pytest.mark.django_db
def test_a_customer_without_history_reads_plainly(client, ops):
    customer = CustomerFactory(code="NEW-1")
    client.force_login(ops)

    html = _page(client, customer)

    assert "Not graded yet" in _section(html, "c360-summary")
    assert "No grading run has scored this customer yet." in _section(html, "c360-scores")
    assert "No grade change waits for review." in _section(html, "c360-proposal")
    assert "No orders." in _section(html, "c360-orders")


@pytest.mark.django_db
def test_lists_are_bounded_with_a_link_to_the_full_list(client, ops):
    history = customer_with_history(orders=14)
    client.force_login(ops)

    orders = _section(_page(client, history.customer), "c360-orders")

    assert orders.count("LIU-1-O0") == 10  # the latest ten
    assert "LIU-1-O000" in orders
    assert "LIU-1-O010" not in orders
    assert "See all orders" in orders


@pytest.mark.django_db
def test_the_page_costs_the_same_whatever_the_history(client, ops, django_assert_max_num_queries):
    small = customer_with_history(code="SMALL", orders=1).customer
    big = customer_with_history(code="BIG", orders=40).customer
    client.force_login(ops)
    _page(client, small)  # warm the caches a first page fills (content types, sessions)

    with django_assert_max_num_queries(32) as first:
        _page(client, small)
    with django_assert_max_num_queries(len(first.captured_queries)):
        _page(client, big)


@pytest.mark.django_db
def test_approve_from_the_page_applies_the_downgrade(client, ops):
    history = customer_with_history()
    client.force_login(ops)

    answer = client.post(
        reverse("admin:customers_customer_decide", args=[history.customer.pk]),
        {"change": history.proposal.pk, "decision": "approve", "approve-note": "Agreed"},
    )

    assert answer.status_code == 302
    assert answer["Location"].endswith("#history")
    history.proposal.refresh_from_db()
    assert history.proposal.status == GradeChange.Status.APPLIED
    assert history.proposal.decided_by == ops
    assert CustomerGrade.objects.get(customer=history.customer).grade.code == "growth"
    audit = GradeAuditEntry.objects.filter(customer=history.customer).latest("id")
    assert (audit.source, audit.reason, audit.actor) == (ChangeSource.REVIEW, "Agreed", ops)
    page = client.get(answer["Location"]).content.decode()
    assert "Approved: the customer&#x27;s grade changed." in page


@pytest.mark.django_db
def test_reject_from_the_page_needs_a_reason(client, ops):
    history = customer_with_history()
    client.force_login(ops)
    url = reverse("admin:customers_customer_decide", args=[history.customer.pk])

    refused = client.post(url, {"change": history.proposal.pk, "decision": "reject"}, follow=True)
    history.proposal.refresh_from_db()
    assert history.proposal.status == GradeChange.Status.PROPOSED
    assert "Give a reason for rejecting the change." in refused.content.decode()

    client.post(
        url,
        {"change": history.proposal.pk, "decision": "reject", "reject-reason": "Seasonal dip"},
    )
    history.proposal.refresh_from_db()
    assert history.proposal.status == GradeChange.Status.REJECTED
    assert history.proposal.decision_note == "Seasonal dip"
    assert CustomerGrade.objects.get(customer=history.customer).grade.code == "key"


@pytest.mark.django_db
def test_an_account_manager_reads_the_page_but_cannot_decide(client, alice):
    history = customer_with_history(manager=alice)
    client.force_login(alice)

    html = _page(client, history.customer)
    answer = client.post(
        reverse("admin:customers_customer_decide", args=[history.customer.pk]),
        {"change": history.proposal.pk, "decision": "approve"},
    )

    assert "Operations decide proposals" in _section(html, "c360-proposal")
    assert "Approve the downgrade" not in html
    assert "Override grade" not in html
    assert "Open the run" not in html  # no access to runs: no link to a 403
    assert answer.status_code == 403
    history.proposal.refresh_from_db()
    assert history.proposal.status == GradeChange.Status.PROPOSED


@pytest.mark.django_db
def test_an_account_manager_cannot_open_another_managers_customer(client, alice, bob):
    history = customer_with_history(manager=bob)
    client.force_login(alice)

    page = client.get(reverse("admin:customers_customer_change", args=[history.customer.pk]))
    decide = client.post(
        reverse("admin:customers_customer_decide", args=[history.customer.pk]),
        {"change": history.proposal.pk, "decision": "approve"},
    )

    assert page.status_code == 302  # the admin's answer for a missing customer
    assert decide.status_code == 404
    assert "Liu Jing" not in client.get(page["Location"]).content.decode()


@pytest.mark.django_db
def test_a_proposal_of_another_customer_cannot_be_decided_here(client, ops):
    one = customer_with_history(code="ONE")
    other = customer_with_history(code="TWO")
    client.force_login(ops)

    answer = client.post(
        reverse("admin:customers_customer_decide", args=[one.customer.pk]),
        {"change": other.proposal.pk, "decision": "approve"},
    )

    assert answer.status_code == 404
    other.proposal.refresh_from_db()
    assert other.proposal.status == GradeChange.Status.PROPOSED


@pytest.mark.django_db
def test_invite_from_the_page_creates_the_portal_login(
    client, ops, django_capture_on_commit_callbacks, mailoutbox
):
    customer = CustomerFactory(code="INV-1", email="buyer@example.com")
    client.force_login(ops)

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("admin:customers_customer_invite", args=[customer.pk]))

    assert answer.status_code == 302
    assert CustomerAccount.objects.get(customer=customer).user.email == "buyer@example.com"
    assert len(mailoutbox) == 1
    assert "Invitations sent: 1." in client.get(answer["Location"]).content.decode()


@pytest.mark.django_db
def test_override_links_to_the_add_form_prefilled(client, ops):
    customer = CustomerFactory(code="OVR-1")
    client.force_login(ops)

    html = _page(client, customer)
    url = f"{reverse('admin:grading_gradeoverride_add')}?customer={customer.pk}"

    assert f'href="{url}"' in html
    form = client.get(url).content.decode()
    assert f'value="{customer.pk}" selected' in form


@pytest.mark.django_db
def test_view_on_site_opens_the_managers_page(client, ops):
    customer = CustomerFactory(code="VOS-1")
    client.force_login(ops)

    html = _page(client, customer)
    manager_page = reverse("manager:customer", args=[customer.pk])

    assert manager_page in html
    assert client.get(manager_page).status_code == 200


@pytest.mark.django_db
def test_the_add_form_has_no_360(client, ops):
    client.force_login(ops)

    html = client.get(reverse("admin:customers_customer_add")).content.decode()

    assert 'data-testid="customer-360"' not in html
    assert 'id="customer_form"' in html


@pytest.mark.django_db
def test_deciding_from_the_page_updates_the_managers_queue(client, ops, alice):
    from appeals.models import QueueNeeds
    from manager.needs import queue_needs_refresh

    history = customer_with_history(manager=alice)
    queue_needs_refresh(customer_ids=[history.customer.pk])
    assert QueueNeeds.objects.get(customer=history.customer).flag_proposed
    client.force_login(ops)

    client.post(
        reverse("admin:customers_customer_decide", args=[history.customer.pk]),
        {"change": history.proposal.pk, "decision": "reject", "reject-reason": "Seasonal dip"},
    )

    assert not QueueNeeds.objects.get(customer=history.customer).flag_proposed


@pytest.mark.django_db
def test_the_export_grading_adds_to_the_customer_admin_stays(client, ops):
    customer = CustomerFactory(code="EXP-1")
    client.force_login(ops)

    listing = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    export = client.get(reverse("admin:customers_customer_export"), {"format": "csv"})

    assert "Export customers (CSV)" in listing
    assert export.status_code == 200
    assert customer.code in b"".join(export.streaming_content).decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "grading_gradeauditentry",
        "grading_gradechange",
        "appeals_appeal",
        "appeals_followup",
        "benefits_redemption",
        "customers_pointsentry",
        "customers_order",
    ],
)
def test_each_full_list_opens_filtered_on_the_customer(client, rf, ops, name):
    from backoffice.admin import _filtered

    one = customer_with_history(code="ONE").customer
    customer_with_history(code="TWO")
    request = rf.get("/")
    request.user = ops
    client.force_login(ops)

    answer = client.get(
        _filtered(request, name, one, **({"status": "all"} if "change" in name else {}))
    )

    assert answer.status_code == 200  # not the admin's "?e=1" redirect of a bad filter
    assert answer.context["cl"].result_count >= 1
    assert {getattr(row, "customer_id", None) for row in answer.context["cl"].result_list} == {
        one.pk
    }
