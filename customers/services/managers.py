"""Who looks after a customer: assigning and reassigning their account manager.

The assignment is a state change that matters (the manager's queue, what the manager may
see, who is notified of grade changes all follow it), so it goes through one service that
writes the audit row in the same transaction (docs/operations.md, "The customer page").
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _

from common.exceptions import DomainError
from customers.models import Customer, ManagerAssignment


def customer_manager_assign(*, customer_id: int, manager: User | None, by: User | None) -> Customer:
    """Make `manager` the customer's account manager (None: nobody) and record who did it.

    `manager` must be an active staff user: a portal login is a user too, but never manages
    customers (DomainError on field "account_manager"). The customer row is locked first,
    so two people reassigning at once record two assignments in order, each naming the
    manager it replaced. Assigning the current manager again changes nothing and writes
    nothing. The customer is saved with `update_fields`, so its `post_save` listeners (the
    manager queue's needs table, `manager.needs`) see the new manager in this transaction.
    """
    if manager is not None and not (manager.is_staff and manager.is_active):
        raise DomainError(
            _("%(user)s is not an active staff user and cannot manage customers.")
            % {"user": manager.get_username()},
            field="account_manager",
        )
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        previous_id = customer.account_manager_id
        if previous_id == (manager.pk if manager else None):
            return customer
        customer.account_manager = manager
        customer.save(update_fields=["account_manager", "updated_at"])
        ManagerAssignment.objects.create(
            customer=customer, previous_id=previous_id, manager=manager, assigned_by=by
        )
    return customer
