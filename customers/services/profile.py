"""A customer's contact details as the customer edits them in the portal.

docs/architecture.md ("Portal self-service"). Only the four contact fields are the
customer's to change; code, name, kind and account manager stay with Operations.
"""

from __future__ import annotations

import json

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import translation

from customers.models import Customer

#: The fields a customer may edit, in form order.
CONTACT_FIELDS = ("contact_name", "email", "phone", "address")


def customer_profile_is_complete(customer: Customer) -> bool:
    """Return whether every contact field is filled in (the growth task's definition)."""
    return all(str(getattr(customer, name)).strip() for name in CONTACT_FIELDS)


def customer_contact_update(
    *, customer_id: int, values: dict[str, str], by: AbstractBaseUser | None
) -> tuple[Customer, list[str]]:
    """Write the customer's contact fields; return the customer and the fields changed.

    `values` holds validated text for some of CONTACT_FIELDS (other keys are refused with
    ValueError: a programming error). The row is locked, only changed columns are written,
    and the change is recorded in the customer's admin history ("Changed phone.") in the
    same transaction, naming the person who made it.
    """
    unknown = set(values) - set(CONTACT_FIELDS)
    if unknown:
        raise ValueError(f"Not contact fields: {sorted(unknown)}")
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        changed = [
            name
            for name in CONTACT_FIELDS
            if name in values and values[name].strip() != getattr(customer, name)
        ]
        for name in changed:
            setattr(customer, name, values[name].strip())
        if changed:
            customer.save(update_fields=[*changed, "updated_at"])
            if by is not None and by.pk is not None:
                with translation.override("en"):  # stored as Django stores them
                    names = {f.name: f.verbose_name for f in Customer._meta.concrete_fields}
                    labels = [str(names[n]) for n in changed]
                LogEntry.objects.create(
                    user_id=by.pk,
                    content_type=ContentType.objects.get_for_model(Customer),
                    object_id=str(customer.pk),
                    object_repr=str(customer)[:200],
                    action_flag=CHANGE,
                    change_message=json.dumps([{"changed": {"fields": labels}}]),
                )
    return customer, changed
