"""Tell account managers and customers what a run means for them."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse

from common.services import NotificationDraft, notification_send_many
from grading.messages import CUSTOMER, STAFF, grade_param, run_params
from grading.models import Grade, GradingRun, ScoreSnapshot

#: Decisions worth a message to the account manager (worded by grading.messages).
NOTIFIED_ACTIONS = ("upgrade", "warn", "propose_downgrade", "downgrade")
#: What the customer's own portal logins are told (a warning is the manager's cue only).
CUSTOMER_ACTIONS = ("upgrade", "propose_downgrade", "downgrade")


def run_notify(*, run_id: int) -> int:
    """Notify each account manager of upgrades, warnings and downgrades in run `run_id`.

    Idempotent (dedupe key per run, customer and decision). One query for the snapshots,
    one for the grades: a message names its grade in every language (common.messages).
    """
    run = GradingRun.objects.select_related("scheme").get(pk=run_id)
    run_named = run_params(run.scheme.name, run.scheme.version, run.as_of)
    grades = {grade.pk: grade_param(grade) for grade in Grade.objects.all()}
    snapshots = (
        ScoreSnapshot.objects.filter(run_id=run_id, action__in=NOTIFIED_ACTIONS)
        .exclude(customer__account_manager__isnull=True)
        .values_list(
            "customer_id",
            "customer__code",
            "customer__name",
            "customer__account_manager_id",
            "action",
            "grade_after_id",
            "grade_before_id",
            "composite",
        )
    )
    drafts = []
    for customer_id, code, name, manager_id, action, after, before, composite in snapshots:
        grade = before if action in ("warn", "propose_downgrade") else after
        drafts.append(
            NotificationDraft(
                recipient_id=manager_id,
                kind=f"grade_{action}",
                params={
                    "action": action,
                    "audience": STAFF,
                    "customer": f"{code} {name}",
                    "grade": grades.get(grade),
                    "score": None if composite is None else float(composite),
                    "run": run_named,
                },
                link=reverse("manager:customer", args=[customer_id]),
                dedupe_key=f"run:{run_id}:{action}:{customer_id}",
            )
        )
    drafts.extend(_customer_drafts(run_id, grades))
    with transaction.atomic():
        return notification_send_many(drafts=drafts)


def _customer_drafts(
    run_id: int, grades: dict[int, dict[str, str] | None]
) -> list[NotificationDraft]:
    """Messages for the portal logins of customers upgraded, proposed or downgraded (1 query)."""
    from customers.models import CustomerAccount

    accounts = CustomerAccount.objects.filter(
        customer__snapshots__run_id=run_id,
        customer__snapshots__action__in=CUSTOMER_ACTIONS,
    ).values_list(
        "user_id",
        "customer_id",
        "customer__snapshots__action",
        "customer__snapshots__grade_after_id",
        "customer__snapshots__grade_before_id",
    )
    drafts = []
    for user_id, customer_id, action, after, before in accounts:
        grade = before if action == "propose_downgrade" else after
        drafts.append(
            NotificationDraft(
                recipient_id=user_id,
                kind=f"grade_{action}",
                params={"action": action, "audience": CUSTOMER, "grade": grades.get(grade)},
                link=reverse("portal:home"),
                dedupe_key=f"run:{run_id}:{action}:{customer_id}",
            )
        )
    return drafts
