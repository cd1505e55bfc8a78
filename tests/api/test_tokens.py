"""API tokens: staff exchange a username and password for a token; the token authenticates."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.appeals.factories import PASSWORD, CustomerAccountFactory
from tests.customers.factories import UserFactory


@pytest.fixture
def staff_user(ops):
    ops.set_password(PASSWORD)
    ops.save()
    return ops


@pytest.mark.django_db
def test_staff_get_a_token_that_authenticates_their_requests(staff_user):
    first = APIClient().post(
        "/api/auth/token/", {"username": staff_user.username, "password": PASSWORD}, format="json"
    )
    again = APIClient().post(
        "/api/auth/token/", {"username": staff_user.username, "password": PASSWORD}, format="json"
    )
    token = first.json()["token"]

    listing = APIClient().get("/api/customers/", headers={"Authorization": f"Token {token}"})

    assert first.status_code == 200
    assert again.json() == {"token": token}
    assert listing.status_code == 200


@pytest.mark.django_db
def test_wrong_credentials_are_400_with_the_error_body(staff_user):
    response = APIClient().post(
        "/api/auth/token/", {"username": staff_user.username, "password": "nope"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "token" not in response.json()


@pytest.mark.django_db
def test_a_customer_portal_login_gets_no_token(db):
    user = UserFactory(username="buyer@example.com")
    user.set_password(PASSWORD)
    user.save()
    CustomerAccountFactory(user=user)

    response = APIClient().post(
        "/api/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 403
    assert "token" not in response.json()


@pytest.mark.django_db
def test_a_bad_token_is_401():
    response = APIClient().get("/api/customers/", headers={"Authorization": "Token not-a-token"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.django_db
def test_the_schema_documents_token_and_session_auth():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()

    assert set(schema["components"]["securitySchemes"]) >= {"tokenAuth", "cookieAuth"}
    assert "/api/auth/token/" in schema["paths"]
    assert "POST /api/auth/token/" in schema["info"]["description"]


@pytest.mark.django_db
def test_repeated_wrong_passwords_lock_the_token_endpoint_with_429(staff_user, settings):
    """docs/architecture.md, invariant 10 on the API too: after AXES_FAILURE_LIMIT failures
    even the right password is refused, and the answer says it is a lock-out (429), not bad
    credentials."""
    client = APIClient()
    wrong = {"username": staff_user.username, "password": "nope"}
    codes = [
        client.post("/api/auth/token/", wrong, format="json").status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    locked = client.post(
        "/api/auth/token/", {"username": staff_user.username, "password": PASSWORD}, format="json"
    )

    assert codes == [400] * settings.AXES_FAILURE_LIMIT
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "throttled"
    assert "locked" in locked.json()["error"]["message"]
    assert "token" not in locked.json()
