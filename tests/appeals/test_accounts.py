"""Portal accounts: ops invite from the customer admin; the e-mail's set-password link works
once; the new login reaches the portal."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from common.exceptions import DomainError
from customers.models import CustomerAccount
from customers.services.accounts import customer_account_invite
from tests.customers.factories import CustomerFactory, UserFactory


def _link(message) -> str:
    found = re.search(r"https?://\S+/portal/reset/\S+/", message.body)
    assert found is not None, message.body
    return found.group(0)


@pytest.mark.django_db
def test_invite_action_mails_a_working_set_password_link(
    client, ops, mailoutbox, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(code="INV", email="Buyer@Example.com")
    CustomerFactory(code="NOMAIL", email="")
    client.force_login(ops)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:customers_customer_changelist"),
            {
                "action": "invite_to_portal",
                "_selected_action": [customer.pk, customer.pk + 1],
                "index": 0,
            },
            follow=True,
        )

    assert "Invitations sent: 1" in response.content.decode()
    assert "has no e-mail address" in response.content.decode()
    account = CustomerAccount.objects.get(customer=customer)
    assert account.user.username == "buyer@example.com"
    assert not account.user.has_usable_password()
    assert not account.user.is_staff
    assert account.invited_by == ops
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["buyer@example.com"]

    client.logout()
    link = _link(mailoutbox[0]).split("testserver", 1)[1]
    form = client.get(link, follow=True)
    assert "Choose your password" in form.content.decode()
    set_url = form.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "Portal-pass-987", "new_password2": "Portal-pass-987"}
    )
    assert done.status_code == 302
    login = client.post(
        reverse("portal:login"), {"username": "buyer@example.com", "password": "Portal-pass-987"}
    )
    assert login["Location"] == reverse("portal:home")
    assert client.get(reverse("portal:home")).status_code == 200
    # The link works once.
    client.logout()
    assert "invalid" in client.get(link, follow=True).content.decode()


@pytest.mark.django_db
def test_invite_refuses_an_address_of_another_login(ops):
    UserFactory(username="taken@example.com")
    with pytest.raises(DomainError):
        customer_account_invite(customer=CustomerFactory(), email="taken@example.com", by=ops)
    with pytest.raises(DomainError):
        customer_account_invite(customer=CustomerFactory(), email="not an address", by=ops)


@pytest.mark.django_db
def test_inviting_again_resends_without_a_second_account(
    ops, mailoutbox, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(email="again@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        customer_account_invite(customer=customer, email=customer.email, by=ops)
        customer_account_invite(customer=customer, email=customer.email, by=ops)

    assert CustomerAccount.objects.filter(customer=customer).count() == 1
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_account_managers_cannot_invite(client, alice, alices_customer):
    client.force_login(alice)

    page = client.get(reverse("admin:customers_customer_changelist")).content.decode()

    assert "invite_to_portal" not in page
