"""Tell account managers and customers what a run means for them."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common import formatting
from common.services import NotificationDraft, notification_send_many
from common.translated import localized
from grading.models import GradingRun, ScoreSnapshot

#: Decisions worth a message, with the message title.
NOTIFIED_ACTIONS = {
    "upgrade": gettext_lazy("Upgrade: %(customer)s is now %(grade)s"),
    "warn": gettext_lazy("Reach out: %(customer)s is below %(grade)s"),
    "propose_downgrade": gettext_lazy("Downgrade proposed for %(customer)s (%(grade)s)"),
    "downgrade": gettext_lazy("Downgrade: %(customer)s is now %(grade)s"),
}
#: What the customer's own portal logins are told (a warning is the manager's cue only).
CUSTOMER_MESSAGES = {
    "upgrade": gettext_lazy("Congratulations: you are now %(grade)s"),
    "propose_downgrade": gettext_lazy(
        "Your grade %(grade)s is under review for a downgrade; you can appeal in the portal"
    ),
    "downgrade": gettext_lazy("Your grade is now %(grade)s; you can appeal in the portal"),
}


def run_notify(*, run_id: int) -> int:
    """Notify each account manager of upgrades, warnings and downgrades in run `run_id`.

    Idempotent (dedupe key per run, customer and decision). One query for the snapshots.
    """
    snapshots = (
        ScoreSnapshot.objects.filter(run_id=run_id, action__in=list(NOTIFIED_ACTIONS))
        .exclude(customer__account_manager__isnull=True)
        .values_list(
            "customer_id",
            "customer__code",
            "customer__name",
            "customer__account_manager_id",
            "action",
            # The active language's names, English in a task (common.translated).
            localized("grade_after__name"),
            localized("grade_before__name"),
            "composite",
        )
    )
    drafts = []
    run_name = str(GradingRun.objects.select_related("scheme").get(pk=run_id))
    for customer_id, code, name, manager_id, action, after, before, composite in snapshots:
        grade = before if action in ("warn", "propose_downgrade") else after
        label = f"{code} {name}"
        drafts.append(
            NotificationDraft(
                recipient_id=manager_id,
                kind=f"grade_{action}",
                title=str(NOTIFIED_ACTIONS[action]) % {"customer": label, "grade": grade},
                body=_("Composite score %(score)s in the run %(run)s.")
                % {"score": formatting.score(composite, 1), "run": run_name},
                link=reverse("admin:customers_customer_change", args=[customer_id]),
                dedupe_key=f"run:{run_id}:{action}:{customer_id}",
            )
        )
    drafts.extend(_customer_drafts(run_id))
    with transaction.atomic():
        return notification_send_many(drafts=drafts)


def _customer_drafts(run_id: int) -> list[NotificationDraft]:
    """Messages for the portal logins of customers upgraded, proposed or downgraded (1 query)."""
    from customers.models import CustomerAccount

    accounts = CustomerAccount.objects.filter(
        customer__snapshots__run_id=run_id,
        customer__snapshots__action__in=list(CUSTOMER_MESSAGES),
    ).values_list(
        "user_id",
        "customer_id",
        "customer__snapshots__action",
        localized("customer__snapshots__grade_after__name"),
        localized("customer__snapshots__grade_before__name"),
    )
    drafts = []
    for user_id, customer_id, action, after, before in accounts:
        grade = before if action == "propose_downgrade" else after
        drafts.append(
            NotificationDraft(
                recipient_id=user_id,
                kind=f"grade_{action}",
                title=str(CUSTOMER_MESSAGES[action]) % {"grade": grade},
                body="",
                link="/portal/",
                dedupe_key=f"run:{run_id}:{action}:{customer_id}",
            )
        )
    return drafts
