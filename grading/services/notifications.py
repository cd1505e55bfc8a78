"""Tell account managers what a run means for their customers."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.services import NotificationDraft, notification_send_many
from grading.models import ScoreSnapshot

#: Decisions worth a message, with the message title.
NOTIFIED_ACTIONS = {
    "upgrade": gettext_lazy("Upgrade: %(customer)s is now %(grade)s"),
    "warn": gettext_lazy("Reach out: %(customer)s is below %(grade)s"),
    "propose_downgrade": gettext_lazy("Downgrade proposed for %(customer)s (%(grade)s)"),
    "downgrade": gettext_lazy("Downgrade: %(customer)s is now %(grade)s"),
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
            "grade_after__name",
            "grade_before__name",
            "composite",
        )
    )
    drafts = []
    for customer_id, code, name, manager_id, action, after, before, composite in snapshots:
        grade = before if action in ("warn", "propose_downgrade") else after
        label = f"{code} {name}"
        drafts.append(
            NotificationDraft(
                recipient_id=manager_id,
                kind=f"grade_{action}",
                title=str(NOTIFIED_ACTIONS[action]) % {"customer": label, "grade": grade},
                body=_("Composite score %(score).1f in run %(run)s.")
                % {"score": composite, "run": run_id},
                link=reverse("admin:customers_customer_change", args=[customer_id]),
                dedupe_key=f"run:{run_id}:{action}:{customer_id}",
            )
        )
    with transaction.atomic():
        return notification_send_many(drafts=drafts)
