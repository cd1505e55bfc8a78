"""A grade change's own page: its title, Approve / Reject in place (the review services, their
permission, audit and single-decision rule), and the sections other apps register."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from grading.models import CustomerGrade, GradeAuditEntry, GradeChange
from grading.review_sections import (
    ChangeSection,
    change_section_register,
    registered_change_sections,
)
from tests.customers.factories import CustomerFactory, UserFactory
from tests.grading.factories import grade, proposal_for

PROPOSED_AT = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai


def _proposal(name="Liu Jing", manager=None):
    with time_machine.travel(PROPOSED_AT, tick=False):
        return proposal_for(
            CustomerFactory(name=name, account_manager=manager),
            from_code="growth",
            to_code="standard",
        )


def _page(change):
    return reverse("admin:grading_gradechange_change", args=[change.pk])


def _decide(change):
    return reverse("admin:grading_gradechange_decide", args=[change.pk])


@pytest.mark.django_db
def test_a_change_reads_as_customer_grades_and_date_in_the_readers_language():
    change = _proposal()

    assert str(change) == "Liu Jing: Growth → Standard, proposed Dec. 1, 2026"
    with translation.override("zh-hans"):
        # The grades' Chinese names (modeltranslation), full-width punctuation.
        assert str(change) == "Liu Jing：成长客户 → 标准客户，2026年12月1日提议"  # noqa: RUF001


@pytest.mark.django_db
def test_a_decided_change_is_titled_by_its_decision_and_its_date(ops):
    change = _proposal()
    change.status = GradeChange.Status.REJECTED
    change.decided_at = dt.datetime(2026, 12, 3, 4, 0, tzinfo=dt.UTC)

    assert str(change) == "Liu Jing: Growth → Standard, rejected Dec. 3, 2026"


@pytest.mark.django_db
def test_the_page_of_a_proposal_offers_approve_and_reject_to_operations(client, ops):
    change = _proposal()
    client.force_login(ops)

    body = client.get(_page(change)).content.decode()

    assert "Liu Jing: Growth → Standard, proposed Dec. 1, 2026" in body  # the title
    assert f'action="{_decide(change)}"' in body
    assert 'value="approve"' in body
    assert 'value="reject"' in body


@pytest.mark.django_db
def test_approve_from_the_page_applies_the_grade_with_one_audit_row(client, ops):
    change = _proposal()
    client.force_login(ops)

    response = client.post(
        _decide(change), {"decision": "approve", "note": "Called them"}, follow=True
    )

    change.refresh_from_db()
    assert response.redirect_chain[-1][0] == _page(change)
    assert change.status == GradeChange.Status.APPLIED
    assert (change.decided_by, change.decision_note) == (ops, "Called them")
    assert CustomerGrade.objects.get(customer=change.customer).grade == grade("standard")
    audit = GradeAuditEntry.objects.get(change=change)
    assert (audit.actor, audit.source, audit.reason) == (ops, "review", "Called them")
    body = response.content.decode()
    assert "Approved: Liu Jing: Growth → Standard, applied" in body
    assert 'value="approve"' not in body  # decided: no buttons any more


@pytest.mark.django_db
def test_reject_from_the_page_needs_a_reason_next_to_the_field(client, ops):
    change = _proposal()
    client.force_login(ops)

    response = client.post(_decide(change), {"decision": "reject", "note": "   "})

    assert response.status_code == 400
    body = response.content.decode()
    assert "Give a reason for rejecting the change." in body
    assert 'value="reject"' in body  # the form is shown again
    change.refresh_from_db()
    assert change.status == GradeChange.Status.PROPOSED


@pytest.mark.django_db
def test_reject_from_the_page_keeps_the_grade_and_records_the_reason(client, ops):
    change = _proposal()
    client.force_login(ops)

    response = client.post(
        _decide(change), {"decision": "reject", "note": "Seasonal dip"}, follow=True
    )

    change.refresh_from_db()
    assert change.status == GradeChange.Status.REJECTED
    assert (change.decided_by, change.decision_note) == (ops, "Seasonal dip")
    assert CustomerGrade.objects.get(customer=change.customer).grade == grade("growth")
    assert not GradeAuditEntry.objects.filter(change=change).exists()
    assert "Rejected: Liu Jing: Growth → Standard, rejected" in response.content.decode()


@pytest.mark.django_db
def test_a_second_decision_is_refused_with_a_message(client, ops):
    change = _proposal()
    client.force_login(ops)
    client.post(_decide(change), {"decision": "approve", "note": ""})

    again = client.post(_decide(change), {"decision": "reject", "note": "Too late"}, follow=True)

    change.refresh_from_db()
    assert change.status == GradeChange.Status.APPLIED
    assert "This grade change was already decided (Applied)." in again.content.decode()
    assert GradeAuditEntry.objects.filter(change=change).count() == 1


@pytest.mark.django_db
def test_an_account_manager_sees_the_page_without_buttons_and_cannot_decide(client, alice):
    change = _proposal(manager=alice)
    client.force_login(alice)

    page = client.get(_page(change))
    attempt = client.post(_decide(change), {"decision": "approve", "note": ""})

    assert page.status_code == 200
    assert 'value="approve"' not in page.content.decode()
    assert attempt.status_code == 403
    change.refresh_from_db()
    assert change.status == GradeChange.Status.PROPOSED


@pytest.mark.django_db
def test_a_portal_customer_never_reaches_the_decision(client):
    change = _proposal()
    client.force_login(UserFactory(username="portal-login", is_staff=False))

    response = client.post(_decide(change), {"decision": "approve", "note": ""})

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    change.refresh_from_db()
    assert change.status == GradeChange.Status.PROPOSED


@pytest.mark.django_db
def test_a_change_of_another_managers_customer_is_not_found(client, alice, bob):
    change = _proposal(manager=bob)
    client.force_login(alice)

    assert client.get(_page(change)).status_code == 302  # the admin's "not found" redirect


@pytest.mark.django_db
def test_registered_sections_are_shown_and_a_section_may_show_nothing(client, ops):
    change = _proposal()
    client.force_login(ops)
    before = registered_change_sections()
    change_section_register(
        ChangeSection(
            key="test_hidden", template="does/not/exist.html", context=lambda request, c: None
        )
    )
    try:
        response = client.get(_page(change))
    finally:
        from grading import review_sections

        review_sections._SECTIONS.pop("test_hidden")
    assert registered_change_sections() == before
    keys = [section["key"] for section in response.context["change_sections"]]
    assert "test_hidden" not in keys
    assert {"follow_ups", "appeals"} <= set(keys)  # backoffice's, from its ready()
