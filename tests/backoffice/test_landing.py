"""Everyone lands at home (issue 14): the staff login and the site root route by role."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.appeals.factories import PASSWORD, portal_customer


def _log_in(client, username: str):
    """Log in as a browser does: open the login page, submit its form (hidden `next` too)."""
    page = client.get(reverse("admin:login")).content.decode()
    assert re.search(r'name="next"\s+value="/"', page), "the form's next is the root"
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": PASSWORD, "next": "/"},
        follow=True,
    )


@pytest.mark.django_db
def test_an_account_manager_logging_in_lands_on_the_queue(client, alice):
    response = _log_in(client, alice.username)

    assert response.redirect_chain[-1][0] == reverse("manager:queue")
    assert response.status_code == 200


@pytest.mark.django_db
def test_operations_logging_in_land_on_the_dashboard(client, ops):
    response = _log_in(client, ops.username)

    assert response.redirect_chain[-1][0] == reverse("admin:index")


@pytest.mark.django_db
def test_a_login_without_any_next_lands_by_role_too(client, alice):
    response = client.post(
        reverse("admin:login"), {"username": alice.username, "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("manager:queue")


@pytest.mark.django_db
def test_an_explicit_next_page_still_wins(client, alice):
    response = client.post(
        f"{reverse('admin:login')}?next=/admin/",
        {"username": alice.username, "password": PASSWORD},
    )

    assert response["Location"] == "/admin/"


@pytest.mark.django_db
def test_the_root_sends_each_person_home(client, alice):
    assert client.get("/")["Location"] == reverse("admin:login")
    account, _change = portal_customer(code="CAROL", manager=alice)
    client.force_login(account.user)
    assert client.get("/")["Location"] == reverse("portal:home")
    client.force_login(alice)
    assert client.get("/")["Location"] == reverse("manager:queue")
