"""Login lock-out after repeated failures, and the language following the browser."""

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_admin_login_locks_out_after_repeated_failures(client, ops, settings):
    url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": ops.username, "password": "wrong"})

    response = client.post(url, {"username": ops.username, "password": "pass-Word-123"})

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_correct_password_logs_in_before_the_limit(client, ops):
    url = reverse("admin:login")
    client.post(url, {"username": ops.username, "password": "wrong"})

    response = client.post(url, {"username": ops.username, "password": "pass-Word-123"})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ops.pk)


@pytest.mark.django_db
def test_admin_speaks_the_browsers_language(client):
    response = client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="zh-Hans,zh;q=0.9")

    assert response.headers["Content-Language"] == "zh-hans"
    assert "用户名" in response.content.decode()  # "Username"
