"""The account-manager picker on the customer forms, and the assignment it saves (issue #13)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from appeals.models import QueueNeeds
from customers.models import Customer, ManagerAssignment
from manager.needs import queue_needs_refresh
from tests.appeals.factories import portal_customer
from tests.customers.factories import CustomerFactory, UserFactory

PICKER = "admin:customers_customer_account_managers"


def _names(answer: dict) -> list[tuple[str, list[str]]]:
    return [(group["text"], [u["text"] for u in group["children"]]) for group in answer["results"]]


def _form(customer: Customer, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "code": customer.code,
        "name": customer.name,
        "kind": customer.kind,
        "industry": customer.industry,
        "is_active": "on",
        "contact_name": "",
        "email": customer.email,
        "phone": "",
        "address": "",
        "account_manager": customer.account_manager_id or "",
        "registered_at_0": customer.registered_at.date().isoformat(),
        "registered_at_1": "09:00:00",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_picker_offers_staff_only_managers_first(client, ops, alice, bob):
    alice.first_name, alice.last_name = "Alice", "Wang"
    alice.save()
    UserFactory(username="zed-ops", is_staff=True)
    UserFactory(username="gone-am", is_staff=True, is_active=False)
    portal_customer(code="CAROL", manager=alice)  # a portal login: a user, not staff
    client.force_login(ops)

    answer = client.get(reverse(PICKER)).json()

    assert _names(answer) == [
        ("Account managers", ["Alice Wang (alice-am)", "bob-am"]),
        ("Other staff", ["olivia-ops", "zed-ops"]),
    ]
    assert answer["pagination"] == {"more": False}


@pytest.mark.django_db
def test_picker_searches_by_name(client, ops, alice, bob):
    client.force_login(ops)

    answer = client.get(reverse(PICKER), {"term": "BOB"}).json()

    assert _names(answer) == [("Account managers", ["bob-am"])]


@pytest.mark.django_db
def test_picker_pages_long_lists(client, ops):
    UserFactory.create_batch(25, is_staff=True)
    client.force_login(ops)

    first = client.get(reverse(PICKER)).json()
    second = client.get(reverse(PICKER), {"page": 2}).json()

    assert first["pagination"] == {"more": True}
    assert second["pagination"] == {"more": False}
    assert sum(len(g["children"]) for g in first["results"] + second["results"]) == 26


@pytest.mark.django_db
def test_picker_is_refused_to_account_managers_and_portal_logins(client, alice):
    account, _change = portal_customer(code="CAROL", manager=alice)

    client.force_login(alice)  # may view customers, not change them
    assert client.get(reverse(PICKER)).status_code == 403
    client.force_login(account.user)  # not staff: the admin's login page
    answer = client.get(reverse(PICKER))
    assert answer.status_code == 302
    assert "/admin/login/" in answer["Location"]


@pytest.mark.django_db
def test_the_forms_use_the_picker_not_the_user_admin(client, ops, alices_customer):
    client.force_login(ops)
    url = reverse(PICKER)

    for page in (
        client.get(reverse("admin:customers_customer_change", args=[alices_customer.pk])),
        client.get(reverse("admin:customers_customer_add")),
    ):
        assert page.status_code == 200
        assert f'data-ajax--url="{url}"' in page.content.decode()
    assert client.get(url).status_code == 200  # the 403 of issue #13 is gone


@pytest.mark.django_db
def test_reassigning_writes_the_audit_row_and_moves_the_queue(client, ops, alice, bob):
    customer = CustomerFactory(account_manager=alice)
    queue_needs_refresh(customer_ids=[customer.pk])
    client.force_login(ops)

    answer = client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        _form(customer, account_manager=bob.pk, phone="+86 10 1234"),
    )

    assert answer.status_code == 302, answer.content.decode()[:2000]
    customer.refresh_from_db()
    assert (customer.account_manager, customer.phone) == (bob, "+86 10 1234")
    assignment = ManagerAssignment.objects.get()
    assert (assignment.previous, assignment.manager, assignment.assigned_by) == (alice, bob, ops)
    assert QueueNeeds.objects.get(customer=customer).account_manager_id == bob.pk
    assert LogEntry.objects.filter(object_id=str(customer.pk)).exists()


@pytest.mark.django_db
def test_saving_without_a_new_manager_writes_no_assignment(client, ops, alice):
    customer = CustomerFactory(account_manager=alice)
    client.force_login(ops)

    client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        _form(customer, phone="123"),
    )

    customer.refresh_from_db()
    assert customer.phone == "123"
    assert not ManagerAssignment.objects.exists()


@pytest.mark.django_db
def test_adding_a_customer_with_a_manager_records_the_assignment(client, ops, alice):
    client.force_login(ops)
    template = Customer(code="NEW-1", name="New Co", kind="end_customer", industry="retail")
    template.registered_at = CustomerFactory.build().registered_at

    answer = client.post(
        reverse("admin:customers_customer_add"), _form(template, account_manager=alice.pk)
    )

    assert answer.status_code == 302, answer.content.decode()[:2000]
    customer = Customer.objects.get(code="NEW-1")
    assert customer.account_manager == alice
    assignment = ManagerAssignment.objects.get(customer=customer)
    assert (assignment.previous, assignment.manager) == (None, alice)


@pytest.mark.django_db
def test_a_portal_login_cannot_be_made_a_manager(client, ops, alice):
    account, _change = portal_customer(code="CAROL", manager=alice)
    customer = CustomerFactory(account_manager=alice)
    client.force_login(ops)

    answer = client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        _form(customer, account_manager=account.user.pk),
    )

    assert answer.status_code == 200  # the form again, with the error
    assert "Select a valid choice" in answer.content.decode()
    customer.refresh_from_db()
    assert customer.account_manager == alice


@pytest.mark.django_db
def test_a_manager_who_left_does_not_block_editing_the_customer(client, ops, alice):
    customer = CustomerFactory(account_manager=alice)
    alice.is_active = False
    alice.save()
    client.force_login(ops)

    answer = client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        _form(customer, phone="456"),
    )

    assert answer.status_code == 302
    customer.refresh_from_db()
    assert (customer.phone, customer.account_manager) == ("456", alice)


@pytest.mark.django_db
def test_the_manager_filter_lists_staff_managers_by_name(client, ops, alice):
    portal_customer(code="CAROL", manager=alice)
    alice.first_name, alice.last_name = "Alice", "Wang"
    alice.save()
    client.force_login(ops)

    page = client.get(reverse("admin:customers_customer_changelist")).content.decode()

    assert "Alice Wang (alice-am)" in page
    assert "carol@" not in page.lower()
