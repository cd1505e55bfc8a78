"""Grade overrides: pin a customer's grade (manual override or an appeal's lock), end a pin,
expire pins past their date.

A pin lives in `GradeOverride` (one active row per customer, a partial unique constraint),
and grading runs never change a pinned grade (docs/architecture.md, invariant 1). Lock order, shared
with `reviews`: the customer's open GradeChange proposal -> CustomerGrade -> GradeOverride.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer
from customers.signals import customers_written_in_bulk_send
from grading.exceptions import InvalidOverride, OverrideConflict, ReasonRequired
from grading.models import (
    ChangeSource,
    CustomerGrade,
    Grade,
    GradeAuditEntry,
    GradeChange,
    GradeOverride,
)

#: `end_reason` codes the services write (a person ending a pin writes their own reason).
END_REPLACED = "replaced"
END_EXPIRED = "expired"

_END_REASON_MAX: int = GradeOverride.end_reason.field.max_length or 0


def grade_override_validate(
    *, reason: str, expires_on: dt.date | None, today: dt.date | None = None
) -> None:
    """Raise a DomainError (naming the field) when override input breaks a business rule.

    A reason is required and the expiry, when given, must be after `today` (the project's
    local date by default): a pin that has already expired would be ended at once. Forms call
    this to show the error next to the field; `grade_override_set` calls it again.
    """
    if not reason.strip():
        raise ReasonRequired(_("Give a reason for the override."), field="reason")
    today = today or timezone.localdate()
    if expires_on is not None and expires_on <= today:
        raise InvalidOverride(_("The expiry date must be in the future."), field="expires_on")


def grade_override_set(
    *,
    customer: Customer,
    grade: Grade,
    reason: str,
    expires_on: dt.date | None,
    by: User | None,
    source: str = GradeOverride.Source.MANUAL,
) -> GradeOverride:
    """Pin `customer` to `grade` until `expires_on` (None: until ended), in one transaction.

    Ends the customer's active override first (end reason "replaced"), creates the new one,
    sets CustomerGrade.grade (creating the row for a customer never graded; `since` moves
    only when the grade changes), supersedes an open downgrade proposal, and writes exactly
    one audit row (source "override", or "appeal" for an APPEAL lock) even when the grade
    stays the same: the pin itself is an event the audit history must show.

    Raises ReasonRequired / InvalidOverride for bad input and OverrideConflict when another
    override of the customer was committed concurrently (the partial unique constraint).
    """
    reason = reason.strip()
    grade_override_validate(reason=reason, expires_on=expires_on)
    is_appeal = source == GradeOverride.Source.APPEAL
    try:
        with transaction.atomic():
            proposal = (
                GradeChange.objects.select_for_update()
                .filter(customer=customer, status=GradeChange.Status.PROPOSED)
                .order_by("pk")
                .first()
            )
            state, created = _state_lock_or_create(customer=customer, grade=grade)
            # After the locks: a run that wrote this customer meanwhile has committed, and
            # the audit row written here comes after its rows in time as well as in id.
            now = timezone.now()
            for active in GradeOverride.objects.select_for_update().filter(
                customer=customer, ended_at__isnull=True
            ):
                active.ended_at = now
                active.ended_by = by
                active.end_reason = END_REPLACED
                active._history_user = by  # type: ignore[attr-defined]  # simple_history: who ended it
                active.save(update_fields=["ended_at", "ended_by", "end_reason"])

            override = GradeOverride(
                customer=customer,
                grade=grade,
                source=source,
                reason=reason,
                expires_on=expires_on,
                created_by=by,
            )
            override._history_user = by  # type: ignore[attr-defined]  # simple_history's actor
            override.save()

            old_grade_id = None if created else state.grade_id
            # The pin is written on the state row even when the grade stays: a run's guarded
            # UPDATE waiting for this row then re-checks `pinned` on its new version
            # (grading.pipeline.write.PIN_GUARD), so no interleaving lets the run undo the
            # pin.
            if state.grade_id != grade.pk:
                CustomerGrade.objects.filter(pk=state.pk).update(
                    grade=grade, since=now, updated_at=now, pinned=True
                )
                customers_written_in_bulk_send(model=CustomerGrade, customer_ids=[customer.pk])
            else:
                CustomerGrade.objects.filter(pk=state.pk).update(pinned=True, updated_at=now)
            if proposal is not None:
                proposal.status = GradeChange.Status.SUPERSEDED
                proposal.decided_by = by
                proposal.decided_at = now
                proposal.decision_note = (
                    _("Superseded by an appeal lock.")
                    if is_appeal
                    else _("Superseded by a grade override.")
                )
                proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
            GradeAuditEntry.objects.create(
                customer=customer,
                old_grade_id=old_grade_id,
                new_grade=grade,
                source=ChangeSource.APPEAL if is_appeal else ChangeSource.OVERRIDE,
                reason=reason,
                actor=by,
            )
    except IntegrityError as exc:
        # Two overrides of a customer without a grade state row raced past the locks above;
        # the constraint let one win.
        raise OverrideConflict(
            _("Another override of this customer was just set; reload and try again.")
        ) from exc
    return override


def _state_lock_or_create(*, customer: Customer, grade: Grade) -> tuple[CustomerGrade, bool]:
    """Lock the customer's grade state row, creating it (pinned to `grade`) when missing.

    A run may be inserting the customer's first grade at the same moment: the insert here
    then waits for the run's commit and conflicts, and the row the run committed is locked
    instead (its first grade is audited by the run; the pin is audited after it).
    """
    state = CustomerGrade.objects.select_for_update().filter(customer=customer).first()
    if state is not None:
        return state, False
    try:
        with transaction.atomic():
            now = timezone.now()
            state = CustomerGrade.objects.create(
                customer=customer, grade=grade, since=now, pinned=True
            )
            return state, True
    except IntegrityError:
        return CustomerGrade.objects.select_for_update().get(customer=customer), False


def grade_override_end(*, override: GradeOverride, by: User | None, reason: str) -> GradeOverride:
    """End an active override; the grade stays until the next run decides it normally.

    Idempotent: ending an override that has already ended changes nothing and returns it.
    """
    reason = reason.strip()
    if not reason:
        raise ReasonRequired(_("Give a reason for ending the override."), field="reason")
    if len(reason) > _END_REASON_MAX:
        raise InvalidOverride(
            _("Keep the reason under %(max)d characters.") % {"max": _END_REASON_MAX},
            field="reason",
        )
    with transaction.atomic():
        # Lock order shared with grade_override_set: the state row, then the override.
        list(CustomerGrade.objects.select_for_update().filter(customer_id=override.customer_id))
        locked = GradeOverride.objects.select_for_update().get(pk=override.pk)
        if locked.ended_at is not None:
            return locked
        locked.ended_at = timezone.now()
        locked.ended_by = by
        locked.end_reason = reason
        locked._history_user = by  # type: ignore[attr-defined]  # simple_history's actor
        locked.save(update_fields=["ended_at", "ended_by", "end_reason"])
        _pins_clear([locked.customer_id])
    return locked


def _pins_clear(customer_ids: list[int]) -> None:
    """Clear `CustomerGrade.pinned` of those of `customer_ids` left with no active override."""
    active = GradeOverride.objects.filter(
        customer_id=OuterRef("customer_id"), ended_at__isnull=True
    )
    CustomerGrade.objects.filter(customer_id__in=customer_ids, pinned=True).exclude(
        Exists(active)
    ).update(pinned=False)


def grade_overrides_expire(*, today: dt.date) -> int:
    """End every active override whose `expires_on` is before `today`; return how many.

    Set-based (ended_by stays empty: nobody ended them, the date did), clearing the pin on
    the customers' state rows in the same transaction, so running it twice on the same day
    ends nothing more.
    """
    with transaction.atomic():
        due = GradeOverride.objects.filter(ended_at__isnull=True, expires_on__lt=today)
        customer_ids = list(due.values_list("customer_id", flat=True))
        if not customer_ids:
            return 0
        # Lock order shared with grade_override_set: the state rows, then the overrides.
        list(
            CustomerGrade.objects.select_for_update()
            .filter(customer_id__in=customer_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        ended = due.update(ended_at=timezone.now(), end_reason=END_EXPIRED, ended_by=None)
        _pins_clear(customer_ids)
    return ended
