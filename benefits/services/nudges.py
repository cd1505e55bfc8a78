"""Automatic nudges: the daily job that welcomes new customers, reminds quiet growth-grade
customers and suggests a related category to customers who buy in one category only.

Each rule runs in its own transaction holding its `NudgeRule` row lock, so two overlapping
runs take turns and the second sees the first's events. A nudge fires only for a trigger
that has no `NudgeEvent` yet (unique per rule, customer and trigger key) and acts only for
the events it just created: a rule never fires twice for the same trigger.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from benefits.messages import CUSTOMER, STAFF
from benefits.models import Benefit, NudgeEvent, NudgeRule, Recommendation
from benefits.nudge_parameters import nudge_parameters_clean
from benefits.periods import months_before
from common.dates import local_midnight
from common.messages import names_in_languages
from common.services import NotificationDraft, notification_send_many
from customers.models import Category, Customer, Order
from customers.signals import customers_written_in_bulk_send

logger = logging.getLogger(__name__)

WELCOME = "welcome"
#: Customers per existence check of earlier events (keeps IN lists small).
CHUNK_SIZE = 1000


@dataclass
class Trigger:
    """A customer a rule wants to nudge, and why."""

    customer_id: int
    key: str
    label: str
    manager_id: int | None
    payload: dict[str, Any] = field(default_factory=dict)


def _customer_link(customer_id: int) -> str:
    """The account manager's page of the customer (their queue's customer page)."""
    return reverse("manager:customer", args=[customer_id])


def _only_new(rule: NudgeRule, triggers: list[Trigger]) -> list[Trigger]:
    """Drop triggers that already have an event (checked in chunks of customers)."""
    fresh: list[Trigger] = []
    for start in range(0, len(triggers), CHUNK_SIZE):
        chunk = triggers[start : start + CHUNK_SIZE]
        seen = set(
            NudgeEvent.objects.filter(
                rule=rule,
                customer_id__in=[t.customer_id for t in chunk],
                trigger_key__in={t.key for t in chunk},
            ).values_list("customer_id", "trigger_key")
        )
        fresh.extend(t for t in chunk if (t.customer_id, t.key) not in seen)
    return fresh


def _record(rule: NudgeRule, triggers: list[Trigger], *, now: dt.datetime) -> list[Trigger]:
    """Insert one event per new trigger and return the triggers that were new."""
    fresh = _only_new(rule, triggers)
    NudgeEvent.objects.bulk_create(
        [
            NudgeEvent(
                rule=rule,
                customer_id=t.customer_id,
                trigger_key=t.key,
                payload=t.payload,
                created_at=now,
            )
            for t in fresh
        ],
        ignore_conflicts=True,  # the constraint is the last word if anything slipped past
        batch_size=1000,
    )
    return fresh


def _notify(
    rule: NudgeRule, triggers: Iterable[Trigger], params: Callable[[Trigger], dict]
) -> None:
    """Tell the account managers of the triggers' customers (worded by benefits.messages)."""
    notification_send_many(
        drafts=[
            NotificationDraft(
                recipient_id=t.manager_id,
                kind=f"nudge_{rule.code}",
                params={**params(t), "audience": STAFF, "customer": t.label},
                link=_customer_link(t.customer_id),
                dedupe_key=f"nudge:{rule.code}:{t.customer_id}:{t.key}",
            )
            for t in triggers
            if t.manager_id is not None
        ]
    )


def _notify_customers(
    rule: NudgeRule, triggers: list[Trigger], params: Callable[[Trigger], dict]
) -> None:
    """Tell the customers' own portal logins (one query per chunk of customers).

    Same dedupe key as the manager's message: each login hears of one trigger once.
    """
    from customers.selectors import portal_logins

    by_customer = {t.customer_id: t for t in triggers}
    ids = list(by_customer)
    drafts = []
    for start in range(0, len(ids), CHUNK_SIZE):
        for user_id, customer_id in portal_logins(ids[start : start + CHUNK_SIZE]):
            t = by_customer[customer_id]
            drafts.append(
                NotificationDraft(
                    recipient_id=user_id,
                    kind=f"nudge_{rule.code}",
                    params={**params(t), "audience": CUSTOMER},
                    link=reverse("portal:home"),
                    dedupe_key=f"nudge:{rule.code}:{t.customer_id}:{t.key}",
                )
            )
    notification_send_many(drafts=drafts)


def _new_customer_pack(rule: NudgeRule, params: dict[str, Any], today: dt.date) -> int:
    """Welcome customers registered in the last `days` days: one event per customer, ever."""
    start = local_midnight(today - dt.timedelta(days=params["days"] - 1))
    end = local_midnight(today + dt.timedelta(days=1))
    benefit = Benefit.objects.filter(code=params["benefit"], is_active=True).first()
    rows = (
        Customer.objects.filter(is_active=True, registered_at__gte=start, registered_at__lt=end)
        .filter(
            ~Exists(
                NudgeEvent.objects.filter(rule=rule, customer=OuterRef("pk"), trigger_key=WELCOME)
            )
        )
        .values_list("pk", "code", "name", "account_manager_id", "registered_at")
    )
    triggers = [
        Trigger(
            customer_id=pk,
            key=WELCOME,
            label=f"{code} {name}",
            manager_id=manager_id,
            payload={
                "benefit": benefit.code if benefit else None,
                "registered_on": timezone.localtime(registered).date().isoformat(),
            },
        )
        for pk, code, name, manager_id, registered in rows
    ]
    fresh = _record(rule, triggers, now=timezone.now())
    named = names_in_languages(benefit) if benefit else None

    def message_params(t: Trigger) -> dict:
        return {"day": t.payload["registered_on"], "benefit": named}

    _notify(rule, fresh, message_params)
    _notify_customers(rule, fresh, message_params)
    return len(fresh)


def _growth_no_order_reminder(rule: NudgeRule, params: dict[str, Any], today: dt.date) -> int:
    """Remind managers of customers in grade `grade` with no order for `days` days.

    The trigger is the date of the last counted order, so a customer is reminded once per
    quiet spell: ordering again starts a new one.
    """
    # Last order on day D is `days` days old on D + days: overdue when D <= today - days.
    cutoff = local_midnight(today - dt.timedelta(days=params["days"] - 1))
    offer = Benefit.objects.filter(code=params["offer"], is_active=True).first()
    rows = (
        Customer.objects.filter(is_active=True, grade_state__grade__code=params["grade"])
        .annotate(
            last_order_at=Max(
                "orders__placed_at", filter=Q(orders__status__in=Order.COUNTED_STATUSES)
            )
        )
        .filter(last_order_at__lt=cutoff)
        .values_list("pk", "code", "name", "account_manager_id", "last_order_at")
        .order_by("pk")
    )
    triggers = []
    for pk, code, name, manager_id, last_order_at in rows:
        last_day = timezone.localtime(last_order_at).date().isoformat()
        triggers.append(
            Trigger(
                customer_id=pk,
                key=last_day,
                label=f"{code} {name}",
                manager_id=manager_id,
                payload={"last_order": last_day, "offer": offer.code if offer else None},
            )
        )
    fresh = _record(rule, triggers, now=timezone.now())
    named = names_in_languages(offer) if offer else None

    def message_params(t: Trigger) -> dict:
        return {"day": t.payload["last_order"], "benefit": named}

    _notify(rule, fresh, message_params)
    _notify_customers(rule, fresh, message_params)
    return len(fresh)


def _category_concentration(rule: NudgeRule, params: dict[str, Any], today: dt.date) -> int:
    """Recommend a sibling category to customers buying mostly in one category.

    A customer whose net purchases over the last `months` months (to `today`, inclusive)
    sit at least `share` in one category gets a Recommendation of that category's most
    bought sibling (same parent) they did not buy; trigger = f"{category}:{YYYY-MM}", so at
    most one per category and month. Categories without siblings recommend nothing.
    """
    start = local_midnight(months_before(today, params["months"]))
    end = local_midnight(today + dt.timedelta(days=1))
    window = Order.objects.filter(
        status__in=Order.COUNTED_STATUSES,
        placed_at__gte=start,
        placed_at__lt=end,
        customer__is_active=True,
    )
    parents = dict(Category.objects.values_list("pk", "parent_id"))
    names = dict(Category.objects.values_list("pk", "name"))
    popularity = dict(
        window.filter(category__isnull=False)
        .values_list("category_id")
        .annotate(n=Count("id"))
        .values_list("category_id", "n")
        .order_by()
    )
    siblings: dict[int, list[int]] = defaultdict(list)
    for pk, parent in parents.items():
        if parent is not None:
            siblings[parent].append(pk)
    for members in siblings.values():
        members.sort(key=lambda pk: (-popularity.get(pk, 0), names[pk], pk))

    # One grouped query, streamed by customer: net purchases per (customer, category).
    rows = (
        window.values_list("customer_id", "category_id")
        .annotate(net=Sum(F("amount") - F("refunded_amount")))
        .values_list("customer_id", "category_id", "net")
        .order_by("customer_id")
    )
    month = f"{today:%Y-%m}"
    threshold = Decimal(str(params["share"]))
    triggers: list[Trigger] = []

    def consider(customer_id: int, nets: dict[int | None, Decimal]) -> None:
        total = sum(nets.values(), Decimal("0"))
        if total <= 0:
            return
        top, top_net = max(
            ((c, n) for c, n in nets.items() if c is not None),
            key=lambda item: (item[1], -item[0]),
            default=(None, Decimal("0")),
        )
        if top is None or top_net < threshold * total:
            return
        bought = set(nets)
        parent = parents.get(top)
        family = siblings.get(parent, []) if parent is not None else []
        pick = next((s for s in family if s != top and s not in bought), None)
        if pick is None:
            return
        triggers.append(
            Trigger(
                customer_id=customer_id,
                key=f"{top}:{month}",
                label="",
                manager_id=None,
                payload={
                    "category": top,
                    "share": round(float(top_net / total), 4),
                    "recommended": pick,
                },
            )
        )

    current: int | None = None
    nets: dict[int | None, Decimal] = {}
    for customer_id, category_id, net in rows.iterator(chunk_size=5000):
        if customer_id != current:
            if current is not None:
                consider(current, nets)
            current, nets = customer_id, {}
        nets[category_id] = nets.get(category_id, Decimal("0")) + (net or Decimal("0"))
    if current is not None:
        consider(current, nets)

    fresh = _record(rule, triggers, now=timezone.now())
    Recommendation.objects.bulk_create(
        [
            Recommendation(
                customer_id=t.customer_id,
                category_id=t.payload["recommended"],
                based_on_id=t.payload["category"],
                reason=_(
                    "%(share)s%% of net purchases in the last %(months)s months were in "
                    "“%(category)s”; suggest the related “%(recommended)s”."
                )
                % {
                    "share": round(100 * t.payload["share"]),
                    "months": params["months"],
                    "category": names[t.payload["category"]],
                    "recommended": names[t.payload["recommended"]],
                },
            )
            for t in fresh
        ],
        batch_size=1000,
    )
    customers_written_in_bulk_send(
        model=Recommendation, customer_ids=(t.customer_id for t in fresh)
    )
    return len(fresh)


RUNNERS: dict[str, Callable[[NudgeRule, dict[str, Any], dt.date], int]] = {
    NudgeRule.Code.NEW_CUSTOMER_PACK: _new_customer_pack,
    NudgeRule.Code.GROWTH_NO_ORDER_REMINDER: _growth_no_order_reminder,
    NudgeRule.Code.CATEGORY_CONCENTRATION: _category_concentration,
}


def nudge_rule_list_enabled() -> list[NudgeRule]:
    """Return the rules switched on, by code."""
    return list(NudgeRule.objects.filter(enabled=True).order_by("code"))


def nudge_rule_run(*, rule: NudgeRule, today: dt.date) -> int:
    """Run one rule for `today` (project-local date); return how many nudges fired.

    Holds the rule's row lock for its transaction; a rule switched off meanwhile does
    nothing. Invalid stored parameters fail loudly (ValidationError).
    """
    with transaction.atomic():
        rule = NudgeRule.objects.select_for_update().get(pk=rule.pk)
        if not rule.enabled:
            return 0
        params = nudge_parameters_clean(rule.code, rule.parameters)
        fired = RUNNERS[rule.code](rule, params, today)
    logger.info("Nudge %s: %s fired for %s.", rule.code, fired, today)
    return fired


def nudges_run(*, today: dt.date | None = None) -> dict[str, int]:
    """Run every enabled nudge rule for `today`; return {rule code: nudges fired}.

    The daily job (`benefits.run_nudges`, command `run_nudges`); safe to re-run.
    """
    today = today or timezone.localdate()
    return {rule.code: nudge_rule_run(rule=rule, today=today) for rule in nudge_rule_list_enabled()}
