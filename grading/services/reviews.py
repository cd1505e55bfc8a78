"""Decisions on proposed grade changes: approve (apply the grade) or reject (keep it).

Lock order, shared with `overrides` and the appeals services so two writers never deadlock:
GradeChange rows (pk order) -> CustomerGrade -> GradeOverride. A decision takes the change
rows first, so a second reviewer (or an override being set for the same customer) waits and
then finds the change already decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from common.services import NotificationDraft, notification_send_many
from grading.exceptions import ChangeAlreadyDecided, ReasonRequired
from grading.messages import CUSTOMER, STAFF, grade_param
from grading.models import (
    ChangeSource,
    CustomerGrade,
    GradeAuditEntry,
    GradeChange,
    GradeOverride,
)
from grading.signals import grade_changes_decided


@dataclass(frozen=True, slots=True)
class ReviewResult:
    """What one review decision did to the selected changes (counts)."""

    applied: int = 0
    rejected: int = 0
    superseded: int = 0
    already_decided: int = 0


def _lock_changes(change_ids: Sequence[int]) -> list[GradeChange]:
    """Lock the changes in primary-key order and return them with what notifications need.

    `of=("self",)`: only the change rows are locked; joined customer and grade rows (one of
    them on the nullable side of an outer join, which PostgreSQL refuses to lock) are not.
    """
    return list(
        GradeChange.objects.select_for_update(of=("self",))
        .select_related("customer", "from_grade", "to_grade")
        .filter(pk__in=sorted(set(change_ids)))
        .order_by("pk")
    )


def _split_open(changes: list[GradeChange]) -> tuple[list[GradeChange], int]:
    """Return the still-proposed changes and how many were decided before.

    A decision cannot be made twice: deciding one change that is already decided raises.
    """
    open_changes = [c for c in changes if c.status == GradeChange.Status.PROPOSED]
    already = len(changes) - len(open_changes)
    if len(changes) == 1 and already:
        change = changes[0]
        raise ChangeAlreadyDecided(
            _("This grade change was already decided (%(status)s).")
            % {"status": change.get_status_display()}
        )
    return open_changes, already


def _notify_decision(changes: Sequence[GradeChange], *, decision: str) -> None:
    """Tell each change's account manager and the customer's portal logins (once per event).

    Worded per reader by grading.messages (`change_approved`, `change_rejected`).
    """
    from customers.selectors import portal_logins

    def params(change: GradeChange, audience: str) -> dict:
        values = {
            "decision": decision,
            "audience": audience,
            "from": grade_param(change.from_grade),
            "to": grade_param(change.to_grade),
        }
        if audience == STAFF:
            values.update(
                customer=f"{change.customer.code} {change.customer.name}",
                note=change.decision_note,
            )
        return values

    drafts = [
        NotificationDraft(
            recipient_id=change.customer.account_manager_id,
            kind=f"change_{decision}",
            params=params(change, STAFF),
            link=reverse("admin:grading_gradechange_change", args=[change.pk]),
            dedupe_key=f"change:{change.pk}:{decision}",
        )
        for change in changes
        if change.customer.account_manager_id is not None
    ]
    # The customers' own portal logins hear the outcome too (one query for all of them).
    by_customer = {change.customer_id: change for change in changes}
    for user_id, customer_id in portal_logins(by_customer):
        change = by_customer[customer_id]
        drafts.append(
            NotificationDraft(
                recipient_id=user_id,
                kind=f"change_{decision}",
                params=params(change, CUSTOMER),
                link=reverse("portal:home"),
                dedupe_key=f"change:{change.pk}:{decision}",
            )
        )
    notification_send_many(drafts=drafts)


def _decided(changes: Sequence[GradeChange]) -> None:
    """Tell listeners whose proposals were decided (the writes above send no post_save)."""
    if changes:
        customer_ids = sorted({change.customer_id for change in changes})
        grade_changes_decided.send(sender=GradeChange, customer_ids=customer_ids)


def grade_change_approve(*, change_ids: Sequence[int], by: User, note: str = "") -> ReviewResult:
    """Approve proposed grade changes and apply their grades, in one transaction.

    For each PROPOSED change the customer's grade moves to `to_grade` through a conditional,
    column-limited update: only while the customer still holds `from_grade` and has no
    active override (`ended_at IS NULL`). Applied changes get exactly one audit row (source
    "review", actor `by`, reason `note` or the change's own reason). A change whose customer
    moved meanwhile or is pinned is SUPERSEDED with a note instead. Changes that are not
    PROPOSED are skipped and counted, except that approving a single decided change raises
    ChangeAlreadyDecided. Account managers are notified of applied changes on commit.
    Sends `grading.signals.grade_changes_decided` for the decided customers.
    """
    note = note.strip()
    now = timezone.now()
    applied: list[GradeChange] = []
    superseded: list[GradeChange] = []
    with transaction.atomic():
        open_changes, already = _split_open(_lock_changes(change_ids))
        pinned = set(
            GradeOverride.objects.filter(
                customer_id__in=[c.customer_id for c in open_changes], ended_at__isnull=True
            ).values_list("customer_id", flat=True)
        )
        active_pin = GradeOverride.objects.filter(
            customer_id=OuterRef("customer_id"), ended_at__isnull=True
        )
        for change in open_changes:
            # Compare-and-swap: the pin is checked again in the UPDATE itself, so an
            # override committed after the read above still wins. A state row always has a
            # grade, so a change from no grade never matches.
            moved = (
                change.from_grade_id is not None
                and change.customer_id not in pinned
                and CustomerGrade.objects.filter(
                    customer_id=change.customer_id, grade_id=change.from_grade_id, pinned=False
                )
                .exclude(Exists(active_pin))
                .update(grade_id=change.to_grade_id, since=now, periods_under=0, updated_at=now)
            )
            change.decided_by = by
            change.decided_at = now
            if moved:
                change.status = GradeChange.Status.APPLIED
                change.decision_note = note
                applied.append(change)
            else:
                change.status = GradeChange.Status.SUPERSEDED
                change.decision_note = (
                    _("Not applied: the customer's grade is pinned by an override.")
                    if change.customer_id in pinned
                    else _("Not applied: the customer's grade changed after the proposal.")
                )
                superseded.append(change)
        GradeChange.objects.bulk_update(
            [*applied, *superseded],
            ["status", "decided_by", "decided_at", "decision_note"],
        )
        GradeAuditEntry.objects.bulk_create(
            GradeAuditEntry(
                customer_id=change.customer_id,
                old_grade_id=change.from_grade_id,
                new_grade_id=change.to_grade_id,
                source=ChangeSource.REVIEW,
                reason=note or change.reason,
                actor=by,
                change=change,
            )
            for change in applied
        )
        _decided(open_changes)
        _notify_decision(applied, decision="approved")
    return ReviewResult(applied=len(applied), superseded=len(superseded), already_decided=already)


def grade_change_reject(*, change_ids: Sequence[int], by: User, reason: str) -> ReviewResult:
    """Reject proposed grade changes: the customers keep their grades, in one transaction.

    `reason` is required (it is the decision note the manager and the customer read). Each
    customer's `periods_under` counter restarts at 0, so a new proposal needs a fresh run of
    periods under target. No audit row: the grade did not change, the GradeChange row records
    the decision. Skipping and the single-change rule are as in `grade_change_approve`.
    Sends `grading.signals.grade_changes_decided` for the decided customers.
    """
    reason = reason.strip()
    if not reason:
        raise ReasonRequired(_("Give a reason for rejecting the change."), field="reason")
    now = timezone.now()
    with transaction.atomic():
        open_changes, already = _split_open(_lock_changes(change_ids))
        for change in open_changes:
            change.status = GradeChange.Status.REJECTED
            change.decided_by = by
            change.decided_at = now
            change.decision_note = reason
        GradeChange.objects.bulk_update(
            open_changes, ["status", "decided_by", "decided_at", "decision_note"]
        )
        CustomerGrade.objects.filter(
            customer_id__in=sorted({c.customer_id for c in open_changes})
        ).update(periods_under=0)
        _decided(open_changes)
        _notify_decision(open_changes, decision="rejected")
    return ReviewResult(rejected=len(open_changes), already_decided=already)
