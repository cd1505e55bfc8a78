"""Assigning a customer's account manager (customers.services.managers, issue #13)."""

from __future__ import annotations

import pytest

from common.exceptions import DomainError
from customers.models import ManagerAssignment
from customers.services.managers import customer_manager_assign
from tests.customers.factories import CustomerFactory, UserFactory


@pytest.mark.django_db
def test_reassigning_records_who_moved_the_customer_from_whom_to_whom(ops, alice, bob):
    customer = CustomerFactory.create(account_manager=alice)

    result = customer_manager_assign(customer_id=customer.pk, manager=bob, by=ops)

    assert result.account_manager == bob
    customer.refresh_from_db()
    assert customer.account_manager == bob
    row = ManagerAssignment.objects.get()
    assert (row.customer, row.previous, row.manager, row.assigned_by) == (customer, alice, bob, ops)


@pytest.mark.django_db
def test_assigning_the_current_manager_again_writes_nothing(ops, alice):
    customer = CustomerFactory.create(account_manager=alice)

    customer_manager_assign(customer_id=customer.pk, manager=alice, by=ops)

    assert not ManagerAssignment.objects.exists()


@pytest.mark.django_db
def test_unassigning_is_recorded_too(ops, alice):
    customer = CustomerFactory.create(account_manager=alice)

    customer_manager_assign(customer_id=customer.pk, manager=None, by=ops)
    customer_manager_assign(customer_id=customer.pk, manager=None, by=ops)

    customer.refresh_from_db()
    assert customer.account_manager is None
    row = ManagerAssignment.objects.get()
    assert (row.previous, row.manager) == (alice, None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "user_kwargs",
    [{"is_staff": False}, {"is_staff": True, "is_active": False}],
    ids=["portal-login", "inactive-staff"],
)
def test_only_active_staff_can_manage_customers(ops, alice, user_kwargs):
    customer = CustomerFactory.create(account_manager=alice)
    user = UserFactory.create(username="not-a-manager", **user_kwargs)

    with pytest.raises(DomainError) as refused:
        customer_manager_assign(customer_id=customer.pk, manager=user, by=ops)

    assert refused.value.field == "account_manager"
    assert "not-a-manager is not an active staff user" in refused.value.message
    customer.refresh_from_db()
    assert customer.account_manager == alice
    assert not ManagerAssignment.objects.exists()
