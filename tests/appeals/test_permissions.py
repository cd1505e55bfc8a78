"""Invariant 5 on the portal, the evidence and the manager pages: another customer's or
another manager's rows are a 404, exactly like missing ones, and absent from search/export."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.appeals.factories import file_appeal, pdf


@pytest.fixture
def daves_appeal(dave):
    return file_appeal(dave, dave.customer.grade_changes.get(), files=[pdf("daves.pdf")])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("portal:appeal_detail", "get"),
        ("portal:appeal_withdraw", "post"),
        ("portal:evidence", "get"),
        ("portal:appeal_new", "get"),
    ],
)
def test_a_customer_cannot_reach_another_customers_appeal_or_evidence(
    client, carol, daves_appeal, name, method
):
    target = {
        "portal:appeal_detail": daves_appeal.pk,
        "portal:appeal_withdraw": daves_appeal.pk,
        "portal:evidence": daves_appeal.evidence.get().pk,
        "portal:appeal_new": daves_appeal.change_id,
    }[name]
    client.force_login(carol.user)

    other = getattr(client, method)(reverse(name, args=[target]))
    missing = getattr(client, method)(reverse(name, args=[999_999]))

    assert other.status_code == missing.status_code == 404
    daves_appeal.refresh_from_db()
    assert daves_appeal.status == "submitted"


@pytest.mark.django_db
def test_the_portal_shows_only_the_logged_in_customer(client, carol, dave, daves_appeal):
    client.force_login(carol.user)

    for name in ("portal:home", "portal:appeals", "portal:history", "portal:grades"):
        page = client.get(reverse(name)).content.decode()
        assert "DAVE" not in page
        assert "daves.pdf" not in page
        assert dave.customer.name not in page


@pytest.mark.django_db
def test_the_owner_downloads_evidence_as_an_attachment(client, dave, daves_appeal):
    client.force_login(dave.user)

    response = client.get(reverse("portal:evidence", args=[daves_appeal.evidence.get().pk]))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="daves.pdf"')
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


@pytest.mark.django_db
def test_portal_pages_need_a_customer_login(client, ops):
    anonymous = client.get(reverse("portal:home"))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("portal:login"))

    client.force_login(ops)  # staff, no customer account
    assert client.get(reverse("portal:home")).status_code == 403


@pytest.mark.django_db
def test_staff_evidence_download_is_for_operations_only(client, ops, bob, daves_appeal):
    url = reverse("admin:appeals_evidence_download", args=[daves_appeal.evidence.get().pk])

    client.force_login(bob)  # Dave's own account manager: can read the appeal, not the file
    assert client.get(url).status_code == 404
    client.force_login(ops)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")


@pytest.mark.django_db
def test_a_manager_cannot_reach_another_managers_customer(client, alice, carol, dave):
    client.force_login(alice)

    other = client.get(reverse("manager:customer", args=[dave.customer.pk]))
    missing = client.get(reverse("manager:customer", args=[999_999]))
    posted = client.post(
        reverse("manager:customer", args=[dave.customer.pk]), {"kind": "call", "outcome": "x"}
    )

    assert other.status_code == missing.status_code == posted.status_code == 404
    assert client.get(reverse("manager:customer", args=[carol.customer.pk])).status_code == 200
    assert not dave.customer.follow_ups.exists()


@pytest.mark.django_db
def test_search_and_export_never_show_another_managers_customers(client, alice, carol, dave):
    client.force_login(alice)

    search = client.get(reverse("manager:queue"), {"q": "DAVE"}).content.decode()
    everything = client.get(reverse("manager:queue")).content.decode()
    export = b"".join(client.get(reverse("manager:export")).streaming_content).decode()
    searched_export = b"".join(
        client.get(reverse("manager:export"), {"q": "DAVE"}).streaming_content
    ).decode()

    assert 'data-code="DAVE"' not in search
    assert 'data-code="DAVE"' not in everything
    assert 'data-code="CAROL"' in everything
    assert "CAROL" in export
    assert "DAVE" not in export
    assert searched_export.splitlines()[1:] == []


@pytest.mark.django_db
def test_operations_see_every_customer_in_the_queue(client, ops, carol, dave):
    client.force_login(ops)

    page = client.get(reverse("manager:queue")).content.decode()

    assert 'data-code="CAROL"' in page
    assert 'data-code="DAVE"' in page


@pytest.mark.django_db
def test_the_manager_pages_are_for_staff_roles(client, carol):
    assert client.get(reverse("manager:queue")).status_code == 302  # to the login

    client.force_login(carol.user)  # a customer
    assert client.get(reverse("manager:queue")).status_code == 403
    assert client.get(reverse("manager:export")).status_code == 403


@pytest.mark.django_db
def test_a_manager_sees_only_their_customers_appeals_in_the_admin(
    client, alice, carol, daves_appeal
):
    mine = file_appeal(carol, carol.customer.grade_changes.get())
    client.force_login(alice)

    page = client.get(reverse("admin:appeals_appeal_changelist")).content.decode()
    other = client.get(reverse("admin:appeals_appeal_change", args=[daves_appeal.pk]))

    assert "CAROL" in page
    assert "DAVE" not in page
    assert other.status_code == 302  # the admin's "does not exist" redirect
    assert client.get(reverse("admin:appeals_appeal_change", args=[mine.pk])).status_code == 200
