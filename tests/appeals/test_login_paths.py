"""Lock-out on every login path (docs/architecture.md, invariant 10): the admin and the
portal share one failure count, a password reset neither logs in nor lifts a lock-out, and the
API has no password login at all (tokens and sessions only)."""

from __future__ import annotations

import base64

import pytest
from django.urls import NoReverseMatch, reverse

from tests.appeals.factories import PASSWORD

LOGIN_PATHS = ["portal:login", "admin:login"]


def _fail(client, url_name, username, times):
    for _ in range(times):
        response = client.post(reverse(url_name), {"username": username, "password": "wrong"})
        assert "_auth_user_id" not in client.session
    return response


@pytest.mark.django_db
@pytest.mark.parametrize(("failed_on", "then_on"), [LOGIN_PATHS, LOGIN_PATHS[::-1]])
def test_failures_on_one_login_path_lock_the_other(client, carol, settings, failed_on, then_on):
    _fail(client, failed_on, carol.user.username, settings.AXES_FAILURE_LIMIT)

    response = client.post(
        reverse(then_on), {"username": carol.user.username, "password": PASSWORD}
    )

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_password_reset_does_not_log_in_or_lift_a_lock_out(client, carol, settings, mailoutbox):
    _fail(client, "portal:login", carol.user.username, settings.AXES_FAILURE_LIMIT)

    client.post(reverse("portal:password_reset"), {"email": carol.user.email})
    link = next(line for line in mailoutbox[0].body.splitlines() if "/portal/reset/" in line)
    form = client.get(link.split("testserver", 1)[1], follow=True)
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "A-new-pass-4321", "new_password2": "A-new-pass-4321"},
    )

    assert done["Location"] == reverse("portal:password_reset_complete")
    assert "_auth_user_id" not in client.session  # the reset itself never logs in
    carol.user.refresh_from_db()
    assert carol.user.check_password("A-new-pass-4321")
    for url_name in LOGIN_PATHS:
        response = client.post(
            reverse(url_name), {"username": carol.user.username, "password": "A-new-pass-4321"}
        )
        assert response.status_code == 429
        assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_password_reset_form_does_not_reveal_who_has_an_account(client, carol, mailoutbox):
    known = client.post(reverse("portal:password_reset"), {"email": carol.user.email})
    unknown = client.post(reverse("portal:password_reset"), {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_the_api_takes_no_password_in_requests(client, ops):
    credentials = base64.b64encode(f"{ops.username}:{PASSWORD}".encode()).decode()

    response = client.get(
        reverse("benefits-api:benefit-list"), HTTP_AUTHORIZATION=f"Basic {credentials}"
    )

    assert response.status_code in (401, 403)  # Basic auth is not an authentication class


def _token_url() -> str:
    # A missing URL fails the test: skipping would let the lock-out tests silently not run.
    try:
        return reverse("api-token")
    except NoReverseMatch:
        pytest.fail("the API token endpoint (URL name 'api-token') is missing")


@pytest.mark.django_db
def test_login_page_failures_lock_the_api_token_endpoint_too(client, ops, settings):
    url = _token_url()
    _fail(client, "admin:login", ops.username, settings.AXES_FAILURE_LIMIT)

    response = client.post(url, {"username": ops.username, "password": PASSWORD})

    assert response.status_code != 200
    assert b'"token"' not in response.content


@pytest.mark.django_db
def test_api_token_failures_lock_the_login_pages(client, ops, settings):
    url = _token_url()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert client.post(url, {"username": ops.username, "password": "wrong"}).status_code != 200

    for url_name in LOGIN_PATHS:
        response = client.post(reverse(url_name), {"username": ops.username, "password": PASSWORD})
        assert response.status_code == 429
        assert "_auth_user_id" not in client.session
