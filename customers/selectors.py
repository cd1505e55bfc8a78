"""Read access to customers, scoped to who is asking (docs/architecture.md, invariant 5).

Every interface (admin, pages, API, exports) narrows querysets through `scope_for_user`, so
an account manager never reaches another manager's customers and out-of-scope rows look
exactly like missing ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, PermissionsMixin, User
from django.db.models import (
    Case,
    Exists,
    F,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Concat, Lower

from common.roles import ACCOUNT_MANAGERS
from customers.models import Customer, CustomerAccount, ManagerAssignment, Order, PointsEntry

VIEW_ALL_PERMISSION = "customers.view_all_customers"


def user_sees_all_customers(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Return True for superusers and roles granted `view_all_customers` (Operations)."""
    return bool(
        user.is_active
        and isinstance(user, PermissionsMixin)
        and (user.is_superuser or user.has_perm(VIEW_ALL_PERMISSION))
    )


def scope_for_user[M: Model](
    queryset: QuerySet[M], *, user: AbstractBaseUser | AnonymousUser, customer_path: str = ""
) -> QuerySet[M]:
    """Narrow `queryset` to rows of customers `user` may see.

    `customer_path` is the lookup from the queryset's model to Customer ("" for Customer
    itself, "customer" for orders and events). Anonymous and inactive users see nothing.
    """
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user_sees_all_customers(user):
        return queryset
    prefix = f"{customer_path}__" if customer_path else ""
    return queryset.filter(**{f"{prefix}account_manager": user})


def customer_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Customer]:
    """Return the customers `user` may see, with their manager and grade joined in."""
    queryset = Customer.objects.select_related("account_manager", "grade_state__grade")
    return scope_for_user(queryset, user=user)


def account_manager_candidates(*, term: str = "", active_only: bool = True) -> QuerySet[User]:
    """Return the users a customer may be assigned to: staff, account managers first.

    Portal logins are users too, but never staff, so they are never offered. Each user is
    annotated `is_manager` (in the account-manager role); the order is managers first, then
    by name. `term` narrows by username, first or last name or e-mail (contains, any case):
    staff are a few hundred rows, not the customers' million.
    """
    users = get_user_model().objects.filter(is_staff=True)
    if active_only:
        users = users.filter(is_active=True)
    in_role = get_user_model().groups.through.objects.filter(
        user_id=OuterRef("pk"), group__name=ACCOUNT_MANAGERS
    )
    # Sorted by the name the picker shows: the full name, else the username.
    shown_name = Case(
        When(first_name="", last_name="", then=F("username")),
        default=Concat("first_name", Value(" "), "last_name"),
    )
    users = users.annotate(is_manager=Exists(in_role), shown_name=Lower(shown_name))
    for word in term.split():
        users = users.filter(
            Q(username__icontains=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
        )
    return users.order_by("-is_manager", "shown_name", "username")


def account_manager_label(user: AbstractBaseUser) -> str:
    """Return how a staff user is named in pickers and pages: full name and username."""
    full_name = user.get_full_name() if isinstance(user, User) else ""
    username = user.get_username()
    return f"{full_name} ({username})" if full_name else username


def manager_assignment_latest(*, customer: Customer) -> ManagerAssignment | None:
    """Return the customer's latest account-manager assignment (who, when), if any."""
    return (
        ManagerAssignment.objects.filter(customer=customer)
        .select_related("previous", "manager", "assigned_by")
        .order_by("-assigned_at", "-id")
        .first()
    )


def customer_recent_orders(*, customer: Customer, limit: int = 20) -> list[Order]:
    """Return the customer's latest orders, newest first."""
    return list(customer.orders.select_related("category").order_by("-placed_at")[:limit])


def customer_recent_events(
    *, customer: Customer, limit: int = 20
) -> list[tuple[dt.datetime, str, str]]:
    """Return the customer's latest engagement events as (when, kind, summary), newest first.

    One query per event kind (five), each limited, then merged in Python.
    """
    from django.utils.translation import gettext as _

    events: list[tuple[dt.datetime, str, str]] = []
    for inv in customer.campaign_invitations.select_related("campaign")[:limit]:
        state = _("joined") if inv.joined_at else _("invited")
        events.append((inv.joined_at or inv.invited_at, _("Campaign"), f"{inv.campaign} ({state})"))
    events.extend(
        (ref.created_at, _("Referral"), str(ref.referred or ref.referred_name))
        for ref in customer.referrals.select_related("referred")[:limit]
    )
    events.extend(
        (c.created_at, _("Complaint"), f"{c.get_severity_display()}: {c.description[:80]}")
        for c in customer.complaints.all()[:limit]
    )
    events.extend(
        (r.created_at, _("Review"), f"{r.rating}★ {r.text[:80]}")
        for r in customer.reviews.all()[:limit]
    )
    for t in customer.tickets.all()[:limit]:
        state = _("answered") if t.first_response_at else _("waiting for first response")
        events.append((t.opened_at, _("Ticket"), f"{t.subject} ({state})"))
    events.sort(key=lambda e: e[0], reverse=True)
    return events[:limit]


def customer_for_portal_user(user: AbstractBaseUser) -> Customer | None:
    """Return the customer whose portal login `user` is (None if none), in one query.

    Every portal page asks; the account and its customer come joined (bench/README.md,
    "Capacity, issue #19").
    """
    # With the customer's grade row and grade (a LEFT JOIN each on their keys): the portal's
    # home explains the grade without reading it again.
    account = (
        CustomerAccount.objects.select_related("customer__grade_state__grade")
        .filter(user_id=user.pk)
        .first()
    )
    return account.customer if account else None


def portal_logins(customer_ids: Iterable[int]) -> list[tuple[int, int]]:
    """Return (user id, customer id) of every portal login of `customer_ids`, in one query.

    Ordered by user, then customer: the messages services tell each login in a stable order.
    """
    return list(
        CustomerAccount.objects.filter(customer_id__in=list(customer_ids))
        .order_by("user_id", "customer_id")
        .values_list("user_id", "customer_id")
    )


def points_balance(customer: Customer | int) -> int:
    """Return the customer's growth-points balance: the sum of their ledger entries (0 if none).

    Derived on every call (one aggregate query over the customer's index), never stored.
    """
    customer_id = customer if isinstance(customer, int) else customer.pk
    total = PointsEntry.objects.filter(customer_id=customer_id).aggregate(total=Sum("points"))
    return int(total["total"] or 0)


def points_entries_for_customer(*, customer: Customer, limit: int = 50) -> list[PointsEntry]:
    """Return the customer's latest points entries, newest first."""
    return list(
        PointsEntry.objects.filter(customer=customer).order_by("-created_at", "-id")[:limit]
    )
