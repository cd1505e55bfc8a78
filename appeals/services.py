"""Appeals: file, review, accept, reject, withdraw; and the managers' follow-up log.

Every status change goes through `appeal_transition` and its single table `TRANSITIONS`;
each service runs in one transaction holding the appeal's row lock (appeal first, then its
grade change), writes one `AppealEvent` per transition and notifies the customer's portal
users and the account manager on commit (dedupe key ``appeal:<id>:<status>``, so one event
never notifies anyone twice).

An accepted appeal restores the grade the change took away and locks it for one review
period through `grading.services.overrides.grade_override_set(source=APPEAL)`, the same
pin the grading engine already respects (docs/architecture.md, invariant 1).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from typing import IO

from django.contrib.auth.models import User
from django.core.files import File
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from appeals.evidence import evidence_check, private_storage, stored_name_new
from appeals.exceptions import (
    AppealAlreadyDecided,
    AppealAlreadyOpen,
    AppealNotAllowed,
    AppealTransitionNotAllowed,
)
from appeals.messages import CUSTOMER, STAFF
from appeals.models import Appeal, AppealEvent, Evidence, FollowUp
from appeals.selectors import (
    appeal_lock_for_customer,
    appeal_window_days,
    change_is_appealable,
    warning_pending_for_customer,
)
from common.exceptions import DomainError
from common.services import NotificationDraft, notification_send_many
from customers.models import Customer
from grading.labels import APPEAL_ACCEPTED
from grading.messages import grade_param
from grading.models import Cadence, GradeChange, GradeOverride, SchemeGrade

Status = Appeal.Status

#: The only moves an appeal can make. Decided statuses have no way out.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.SUBMITTED: frozenset(
        {Status.UNDER_REVIEW, Status.ACCEPTED, Status.REJECTED, Status.WITHDRAWN}
    ),
    Status.UNDER_REVIEW: frozenset({Status.ACCEPTED, Status.REJECTED, Status.WITHDRAWN}),
    Status.ACCEPTED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.WITHDRAWN: frozenset(),
}


# ---------------------------------------------------------------------------- transitions


def appeal_transition(*, appeal: Appeal, to: str, by: User | None, note: str = "") -> bool:
    """Move a locked `appeal` to status `to`; write its event and notify. Return True if moved.

    Moving to the current status of an open appeal does nothing (False). A decided appeal
    refuses every move, even to its own status (AppealAlreadyDecided): a decision is never
    made twice. Any other move not in `TRANSITIONS` raises AppealTransitionNotAllowed.
    The caller holds the row lock (`select_for_update`) inside its transaction.
    """
    current = appeal.status
    if current in Appeal.DECIDED_STATUSES:
        raise AppealAlreadyDecided(
            _("Appeal #%(id)s was already decided (%(status)s).")
            % {"id": appeal.pk, "status": appeal.get_status_display()}
        )
    if to == current:
        return False
    if to not in TRANSITIONS[current]:
        raise AppealTransitionNotAllowed(
            _("Appeal #%(id)s cannot move from %(from)s to %(to)s.")
            % {"id": appeal.pk, "from": Status(current).label, "to": Status(to).label}
        )
    appeal.status = to
    fields = ["status"]
    if to in Appeal.DECIDED_STATUSES:
        appeal.decided_at = timezone.now()
        appeal.decided_by = by
        fields += ["decided_at", "decided_by"]
        if note and to != Status.WITHDRAWN:
            appeal.ops_note = note
            fields.append("ops_note")
    appeal.save(update_fields=fields)
    _event_record(appeal=appeal, from_status=current, by=by, note=note)
    return True


def _event_record(*, appeal: Appeal, from_status: str, by: User | None, note: str) -> AppealEvent:
    event = AppealEvent.objects.create(
        appeal=appeal, from_status=from_status, to_status=appeal.status, actor=by, note=note
    )
    _notify(appeal=appeal, note=note)
    return event


def _lock(appeal_id: int) -> Appeal:
    return (
        Appeal.objects.select_for_update(of=("self",)).select_related("customer").get(pk=appeal_id)
    )


# ------------------------------------------------------------------------------- services


def appeal_file(
    *,
    customer: Customer,
    change_id: int,
    reason: str,
    files: Sequence[IO[bytes]] = (),
    by: User | None,
) -> Appeal:
    """File an appeal of `customer` against downgrade `change_id`, with evidence files.

    Checks, in order: a reason is given; every file passes `evidence_check` (count, size,
    type by content) *before anything is written*; the change is the customer's, a
    downgrade, within APPEAL_WINDOW_DAYS and has no open or decided appeal. The files are
    stored under random names in private storage; if anything fails, no row and no file
    is left behind.
    """
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Please explain why the downgrade is wrong."), field="reason")
    checked = evidence_check(files)
    stored: list[str] = []
    try:
        with transaction.atomic():
            change = (
                GradeChange.objects.select_for_update()
                .filter(pk=change_id, customer=customer)
                .first()
            )
            if (
                change is not None
                and Appeal.objects.filter(change=change, status__in=Appeal.OPEN_STATUSES).exists()
            ):
                raise AppealAlreadyOpen(_("An appeal against this change is already open."))
            if change is None or not change_is_appealable(change=change):
                raise AppealNotAllowed(
                    _(
                        "This grade change cannot be appealed (not a downgrade of yours, or "
                        "the %(days)s-day window has closed, or it was already appealed)."
                    )
                    % {"days": appeal_window_days()}
                )
            try:
                with transaction.atomic():
                    appeal = Appeal.objects.create(
                        customer=customer, change=change, reason=reason, filed_by=by
                    )
            except IntegrityError as exc:  # a parallel filing won the race
                raise AppealAlreadyOpen(
                    _("An appeal against this change is already open.")
                ) from exc
            rows = []
            for item in checked:
                content = item.file if hasattr(item.file, "chunks") else File(item.file)
                name = private_storage.save(stored_name_new(), content)
                stored.append(name)
                rows.append(
                    Evidence(
                        appeal=appeal,
                        original_name=item.original_name,
                        stored_name=name,
                        content_type=item.content_type,
                        size=item.size,
                    )
                )
            Evidence.objects.bulk_create(rows)
            _event_record(appeal=appeal, from_status="", by=by, note="")
    except BaseException:
        for name in stored:
            private_storage.delete(name)
        raise
    return appeal


def appeal_start_review(*, appeal_id: int, by: User, note: str = "") -> Appeal:
    """Mark an appeal as under review (a no-op if it already is)."""
    with transaction.atomic():
        appeal = _lock(appeal_id)
        appeal_transition(appeal=appeal, to=Status.UNDER_REVIEW, by=by, note=note.strip())
    return appeal


def appeal_accept(*, appeal_id: int, by: User, note: str, today: dt.date | None = None) -> Appeal:
    """Accept an appeal: restore the previous grade and lock it for one review period.

    The lock is an APPEAL override of the change's `from_grade` until `today` plus one
    review period of that grade (its cadence in the active scheme: a month or a quarter),
    so the next run of that cadence keeps the grade. A downgrade that was only proposed is
    rejected (the customer never lost the grade) and still locked. `note` is required: it
    is the answer the customer reads.
    """
    note = _required_note(note)
    today = today or timezone.localdate()
    with transaction.atomic():
        appeal = _lock(appeal_id)
        _check_move(appeal, Status.ACCEPTED)
        change = (
            GradeChange.objects.select_for_update(of=("self",))
            .select_related("from_grade")
            .get(pk=appeal.change_id)
        )
        reason = _(APPEAL_ACCEPTED) % {"id": appeal.pk, "note": note}
        assert change.from_grade is not None  # an appealed downgrade always had a grade
        if change.status == GradeChange.Status.PROPOSED:
            from grading.services.reviews import grade_change_reject

            grade_change_reject(change_ids=[change.pk], by=by, reason=reason)
        from grading.services.overrides import grade_override_set

        grade_override_set(
            customer=appeal.customer,
            grade=change.from_grade,
            reason=reason,
            expires_on=_one_review_period_after(today, cadence=_cadence_of(change)),
            by=by,
            source=GradeOverride.Source.APPEAL,
        )
        appeal_transition(appeal=appeal, to=Status.ACCEPTED, by=by, note=note)
    return appeal


def appeal_reject(*, appeal_id: int, by: User, note: str) -> Appeal:
    """Reject an appeal: the change stands. `note` (the reason) is required."""
    note = _required_note(note)
    with transaction.atomic():
        appeal = _lock(appeal_id)
        appeal_transition(appeal=appeal, to=Status.REJECTED, by=by, note=note)
    return appeal


def appeal_withdraw(*, appeal_id: int, customer: Customer, by: User, note: str = "") -> Appeal:
    """Withdraw an open appeal of `customer` (the customer changed their mind)."""
    with transaction.atomic():
        # Another customer's appeal looks exactly like a missing one.
        appeal = Appeal.objects.select_for_update().get(pk=appeal_id, customer=customer)
        appeal_transition(appeal=appeal, to=Status.WITHDRAWN, by=by, note=note.strip())
    return appeal


def follow_up_create(
    *, customer: Customer, kind: str, outcome: str, by: User, next_step: str = ""
) -> FollowUp:
    """Record an account manager's contact with a customer (call made, outcome).

    A warning follow-up (kind "warning") answers the customer's pending warning or proposed
    downgrade (`warning_pending_for_customer`): it records that run and the open proposal,
    needs a next step, and clears the queue's "reach out before downgrade" need (the
    FollowUp save refreshes the customer's queue row, manager.needs). Refused when nothing
    is pending.
    """
    outcome = (outcome or "").strip()
    next_step = (next_step or "").strip()
    if not outcome:
        raise DomainError(_("Describe the outcome of the follow-up."), field="outcome")
    if kind not in FollowUp.Kind.values:
        raise DomainError(_("Unknown follow-up kind."), field="kind")
    run = change = None
    if kind == FollowUp.Kind.WARNING:
        pending = warning_pending_for_customer(customer=customer)
        if pending is None:
            raise DomainError(
                _("There is no warning or proposed downgrade to follow up for this customer."),
                field="kind",
            )
        if not next_step:
            raise DomainError(
                _("Say what happens next (for example: a visit on 12 December)."),
                field="next_step",
            )
        run, change = pending.run, pending.change
    return FollowUp.objects.create(
        customer=customer,
        kind=kind,
        outcome=outcome,
        next_step=next_step,
        run=run,
        change=change,
        author=by,
    )


# -------------------------------------------------------------------------------- helpers


def _required_note(note: str) -> str:
    note = (note or "").strip()
    if not note:
        raise DomainError(_("A note for the customer is required."), field="note")
    return note


def _check_move(appeal: Appeal, to: str) -> None:
    # The same refusals as appeal_transition, checked before any side effect runs.
    if appeal.status in Appeal.DECIDED_STATUSES:
        raise AppealAlreadyDecided(
            _("Appeal #%(id)s was already decided (%(status)s).")
            % {"id": appeal.pk, "status": appeal.get_status_display()}
        )
    if to not in TRANSITIONS[appeal.status]:
        raise AppealTransitionNotAllowed(
            _("Appeal #%(id)s cannot move from %(from)s to %(to)s.")
            % {"id": appeal.pk, "from": appeal.get_status_display(), "to": Status(to).label}
        )


def _cadence_of(change: GradeChange) -> str:
    """Return the review cadence of the grade the change took away.

    The rung is the one place a cadence lives: read from the ladder of the scheme that made
    the change, else (a change made outside a run, or a grade that scheme no longer has) the
    active scheme's; monthly for a grade on neither ladder.
    """
    if change.from_grade_id is None:
        return Cadence.MONTHLY
    rungs = SchemeGrade.objects.filter(grade_id=change.from_grade_id)
    cadence = None
    if change.run_id is not None:
        cadence = rungs.filter(scheme__runs=change.run_id).values_list("cadence", flat=True).first()
    if cadence is None:
        cadence = rungs.filter(scheme__status="active").values_list("cadence", flat=True).first()
    return cadence or Cadence.MONTHLY


def _one_review_period_after(day: dt.date, *, cadence: str) -> dt.date:
    months = 3 if cadence == Cadence.QUARTERLY else 1
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _notify(*, appeal: Appeal, note: str) -> None:
    """Tell the customer's portal users and the account manager (once per status).

    Worded per reader by appeals.messages; an accepted appeal says until when the grade is
    kept (the appeal lock's expiry).
    """
    from customers.selectors import portal_logins

    change = GradeChange.objects.select_related("from_grade", "to_grade").get(pk=appeal.change_id)
    params = {
        "id": appeal.pk,
        "status": appeal.status,
        "from": grade_param(change.from_grade),
        "to": grade_param(change.to_grade),
        "note": note,
    }
    if appeal.status == Status.ACCEPTED:
        lock = appeal_lock_for_customer(customer=appeal.customer)
        if lock is not None and lock.expires_on is not None:
            params["until"] = lock.expires_on.isoformat()
    key = f"appeal:{appeal.pk}:{appeal.status}"
    kind = f"appeal_{appeal.status}"
    drafts = [
        NotificationDraft(
            recipient_id=user_id,
            kind=kind,
            params={**params, "audience": CUSTOMER},
            link=reverse("portal:appeal_detail", args=[appeal.pk]),
            dedupe_key=key,
        )
        for user_id, _customer in portal_logins([appeal.customer_id])
    ]
    if appeal.customer.account_manager_id:
        drafts.append(
            NotificationDraft(
                recipient_id=appeal.customer.account_manager_id,
                kind=kind,
                params={**params, "audience": STAFF, "customer": appeal.customer.name},
                link=reverse("manager:customer", args=[appeal.customer_id]),
                dedupe_key=key,
            )
        )
    notification_send_many(drafts=drafts)
