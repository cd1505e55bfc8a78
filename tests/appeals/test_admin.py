"""The appeal review queue in the admin: bounded queries, age and SLA, evidence links, the
snapshots before/after, and decisions through the intermediate page with a note."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from appeals.models import Appeal
from grading.models import CustomerGrade
from tests.appeals.factories import file_appeal, pdf, portal_customer

CHANGELIST = "admin:appeals_appeal_changelist"


def _appeals(n, manager, prefix):
    appeals = []
    for i in range(n):
        account, change = portal_customer(code=f"{prefix}{i:03d}", manager=manager)
        appeals.append(file_appeal(account, change, files=[pdf()]))
    return appeals


@pytest.mark.django_db
def test_changelist_query_count_does_not_grow_with_rows(
    client, ops, alice, django_assert_max_num_queries
):
    client.force_login(ops)
    _appeals(3, alice, "A")
    with django_assert_max_num_queries(20) as small:
        assert client.get(reverse(CHANGELIST)).status_code == 200
    _appeals(25, alice, "B")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(reverse(CHANGELIST)).status_code == 200


@pytest.mark.django_db
def test_changelist_shows_age_and_overdue_open_appeals_first(client, ops, alice, settings):
    settings.APPEAL_REVIEW_SLA_DAYS = 5
    old, _new = _appeals(2, alice, "AGE")
    Appeal.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=9))
    client.force_login(ops)

    page = client.get(reverse(CHANGELIST)).content.decode()
    overdue = client.get(reverse(CHANGELIST), {"sla": "overdue"}).context["cl"].result_list

    assert "Overdue" in page
    assert page.index("AGE000") < page.index("AGE001")  # oldest open first
    assert [a.pk for a in overdue] == [old.pk]


@pytest.mark.django_db
def test_change_page_shows_evidence_links_snapshots_and_buttons(client, ops, alice):
    (appeal,) = _appeals(1, alice, "VIEW")
    client.force_login(ops)

    page = client.get(reverse("admin:appeals_appeal_change", args=[appeal.pk])).content.decode()

    evidence = appeal.evidence.get()
    assert reverse("admin:appeals_evidence_download", args=[evidence.pk]) in page
    assert "before (2026-10-01)" in page
    assert "after (2026-11-01)" in page
    assert 'value="accept_appeals"' in page


@pytest.mark.django_db
def test_accept_goes_through_the_intermediate_page_with_a_required_note(client, ops, alice):
    (appeal,) = _appeals(1, alice, "ACC")
    client.force_login(ops)
    start = {"action": "accept_appeals", "_selected_action": [appeal.pk], "index": 0}

    intermediate = client.post(reverse(CHANGELIST), start)
    confirm = {"action": "accept_appeals", "_selected_action": [appeal.pk], "confirm": "yes"}
    without_note = client.post(reverse(CHANGELIST), {**confirm, "note": ""})
    with_note = client.post(reverse(CHANGELIST), {**confirm, "note": "Delay confirmed."})

    assert intermediate.status_code == 200
    assert "Note to the customer" in intermediate.content.decode()
    assert without_note.status_code == 200
    assert "it is required" in without_note.content.decode()
    assert with_note.status_code == 302
    appeal.refresh_from_db()
    assert (appeal.status, appeal.ops_note) == ("accepted", "Delay confirmed.")
    assert CustomerGrade.objects.get(customer=appeal.customer).grade.code == "key"


@pytest.mark.django_db
def test_deciding_twice_reports_the_error(client, ops, alice):
    (appeal,) = _appeals(1, alice, "TWICE")
    client.force_login(ops)
    confirm = {"_selected_action": [appeal.pk], "confirm": "yes", "note": "n"}

    client.post(reverse(CHANGELIST), {**confirm, "action": "reject_appeals"})
    response = client.post(
        reverse(CHANGELIST), {**confirm, "action": "accept_appeals"}, follow=True
    )

    assert "already decided" in response.content.decode()
    appeal.refresh_from_db()
    assert appeal.status == "rejected"


@pytest.mark.django_db
def test_start_review_needs_no_note(client, ops, alice):
    (appeal,) = _appeals(1, alice, "REV")
    client.force_login(ops)

    client.post(
        reverse(CHANGELIST),
        {"action": "start_review_appeals", "_selected_action": [appeal.pk], "confirm": "yes"},
    )

    appeal.refresh_from_db()
    assert appeal.status == "under_review"


@pytest.mark.django_db
def test_account_managers_cannot_decide(client, alice):
    (appeal,) = _appeals(1, alice, "AM")
    client.force_login(alice)

    page = client.get(reverse("admin:appeals_appeal_change", args=[appeal.pk])).content.decode()
    client.post(
        reverse(CHANGELIST),
        {
            "action": "accept_appeals",
            "_selected_action": [appeal.pk],
            "confirm": "yes",
            "note": "n",
        },
    )

    assert 'value="accept_appeals"' not in page
    assert "evidence" in page.lower()
    assert "/evidence/" not in page
    appeal.refresh_from_db()
    assert appeal.status == "submitted"


@pytest.mark.django_db
def test_search_by_customer_or_appeal_number(client, ops, alice):
    first, second = _appeals(2, alice, "FIND")
    client.force_login(ops)

    by_code = client.get(reverse(CHANGELIST), {"q": "FIND001"}).context["cl"].result_list
    by_id = client.get(reverse(CHANGELIST), {"q": str(first.pk)}).context["cl"].result_list

    assert [a.pk for a in by_code] == [second.pk]
    assert first.pk in [a.pk for a in by_id]
