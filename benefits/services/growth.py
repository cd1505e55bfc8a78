"""Growth tasks: find what customers completed and credit the points ledger, idempotently.

Each task code has one detector: a set-based query that yields (customer, dedupe key) for
completions not credited yet (NOT EXISTS against the ledger's unique index), so a daily
run reads only what is new. Dedupe keys are f"{task}:{object id}" for a repeatable task
(one credit per review, referral or campaign) and f"{task}" otherwise (once per customer);
the ledger's unique constraint makes a re-run, or two overlapping runs, credit nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from benefits.models import GrowthTask
from common.dates import local_midnight
from customers.models import (
    CampaignInvitation,
    Customer,
    Order,
    PointsEntry,
    ProductReview,
    Referral,
)
from customers.services.points import PointsCredit, points_credit_many
from customers.services.profile import customer_contact_update, customer_profile_is_complete

logger = logging.getLogger(__name__)

#: Rows fetched per round trip while streaming completions.
CHUNK_SIZE = 2000


@dataclass(frozen=True)
class ProfileSaved:
    """What saving a profile did: the fields changed and the points it earned (0 or more)."""

    customer: Customer
    changed: list[str]
    points: int


def _completions(
    task: GrowthTask,
    facts: QuerySet,
    *,
    customer_field: str,
    object_field: str,
    repeatable: bool | None = None,
) -> Iterator[PointsCredit]:
    """Yield a credit for every completion in `facts` the ledger does not hold yet.

    `repeatable` (default: the task's setting) credits each object; otherwise each customer
    with at least one completion is credited once.
    """
    if task.repeatable if repeatable is None else repeatable:
        rows = (
            facts.annotate(
                dedupe=Concat(
                    Value(f"{task.code}:"),
                    Cast(object_field, CharField()),
                    output_field=CharField(),
                )
            )
            .filter(
                ~Exists(
                    PointsEntry.objects.filter(
                        customer_id=OuterRef(customer_field), dedupe_key=OuterRef("dedupe")
                    )
                )
            )
            .values_list(customer_field, "dedupe")
            .order_by()
            .distinct()
        )
    else:
        rows = (
            Customer.objects.filter(is_active=True)
            .filter(Exists(facts.filter(**{customer_field: OuterRef("pk")})))
            .filter(
                ~Exists(PointsEntry.objects.filter(customer=OuterRef("pk"), dedupe_key=task.code))
            )
            .annotate(dedupe=Value(task.code, output_field=CharField()))
            .values_list("pk", "dedupe")
            .order_by()
        )
    reason = str(task.name)
    for customer_id, dedupe in rows.iterator(chunk_size=CHUNK_SIZE):
        yield PointsCredit(customer_id, task.code, task.points, dedupe, reason)


def _complete_profiles() -> QuerySet[Customer]:
    # A profile is complete with e-mail, phone, contact name and address all filled in (as
    # it is now: profiles keep no history); customers.services.profile says the same.
    return (
        Customer.objects.filter(is_active=True)
        .exclude(email="")
        .exclude(phone="")
        .exclude(contact_name="")
        .exclude(address="")
    )


def _complete_profile(task: GrowthTask, end: dt.datetime) -> Iterator[PointsCredit]:
    # It earns points once, whatever `repeatable` says.
    return _completions(
        task, _complete_profiles(), customer_field="pk", object_field="pk", repeatable=False
    )


def _review_product(task: GrowthTask, end: dt.datetime) -> Iterator[PointsCredit]:
    reviews = ProductReview.objects.filter(created_at__lt=end, customer__is_active=True)
    return _completions(task, reviews, customer_field="customer_id", object_field="pk")


def _refer_customer_who_orders(task: GrowthTask, end: dt.datetime) -> Iterator[PointsCredit]:
    # The referred customer must have placed a counted order after being referred.
    ordered = Order.objects.filter(
        customer=OuterRef("referred_id"),
        status__in=Order.COUNTED_STATUSES,
        placed_at__gte=OuterRef("created_at"),
        placed_at__lt=end,
    )
    referrals = Referral.objects.filter(
        referred__isnull=False, created_at__lt=end, referrer__is_active=True
    ).filter(Exists(ordered))
    return _completions(task, referrals, customer_field="referrer_id", object_field="pk")


def _join_campaign(task: GrowthTask, end: dt.datetime) -> Iterator[PointsCredit]:
    joins = CampaignInvitation.objects.filter(
        joined_at__isnull=False, joined_at__lt=end, customer__is_active=True
    )
    return _completions(task, joins, customer_field="customer_id", object_field="campaign_id")


DETECTORS: dict[str, Callable[[GrowthTask, dt.datetime], Iterator[PointsCredit]]] = {
    GrowthTask.Code.COMPLETE_PROFILE: _complete_profile,
    GrowthTask.Code.REVIEW_PRODUCT: _review_product,
    GrowthTask.Code.REFER_CUSTOMER: _refer_customer_who_orders,
    GrowthTask.Code.JOIN_CAMPAIGN: _join_campaign,
}


def growth_task_list_active() -> list[GrowthTask]:
    """Return the growth tasks switched on, by code."""
    return list(GrowthTask.objects.filter(is_active=True).order_by("code"))


def growth_task_award(*, task: GrowthTask, today: dt.date) -> int:
    """Credit `task`'s points for completions up to the end of `today`; return rows credited.

    Idempotent: completions credited before are skipped, so re-running credits nothing.
    One transaction, so an interrupted run leaves nothing half-credited.
    """
    # Completions before the start of the day after `today` (project time zone) count.
    end = local_midnight(today + dt.timedelta(days=1))
    with transaction.atomic():
        credited = points_credit_many(DETECTORS[task.code](task, end))
    logger.info("Growth task %s: %s credit(s) for %s.", task.code, credited, today)
    return credited


def customer_profile_save(
    *, customer_id: int, values: dict[str, str], by: User | None
) -> ProfileSaved:
    """Save the contact details a customer typed; credit "Complete the profile" when due.

    One transaction: the contact fields (customers.services.profile, audited) and, if the
    profile is now complete and the task is active, its points, once per customer (the
    ledger's unique dedupe key makes a second save, or the daily job, credit nothing more).
    """
    with transaction.atomic():
        customer, changed = customer_contact_update(customer_id=customer_id, values=values, by=by)
        task = GrowthTask.objects.filter(
            code=GrowthTask.Code.COMPLETE_PROFILE, is_active=True
        ).first()
        points = 0
        if task is not None and customer_profile_is_complete(customer):
            credits = _completions(
                task,
                _complete_profiles().filter(pk=customer_id),
                customer_field="pk",
                object_field="pk",
                repeatable=False,
            )
            if points_credit_many(credits):
                points = task.points
    return ProfileSaved(customer=customer, changed=changed, points=points)


def growth_tasks_award(*, today: dt.date | None = None) -> int:
    """Credit the points of every active growth task up to `today`; return rows credited.

    The daily job (`benefits.award_growth_tasks`, command `award_growth_points`).
    """
    today = today or timezone.localdate()
    return sum(growth_task_award(task=task, today=today) for task in growth_task_list_active())
