"""Read access to appeals, their evidence and the downgrades a customer may appeal.

Two audiences, two entry points, one rule (docs/architecture.md, invariant 5):
- a customer reads only their own rows (`*_for_customer`; the customer always comes from
  the login, never from the URL);
- staff read through `customers.selectors.scope_for_user` (an account manager sees only
  their customers). Out-of-scope rows are simply absent, so a lookup by id is a 404.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from appeals.models import Appeal, AppealEvent, Evidence, FollowUp, QueueNeeds
from common.sentinels import UNREAD, Unread
from customers.models import Customer
from customers.selectors import scope_for_user
from grading.models import GradeChange, GradeOverride, GradingRun, ScoreSnapshot
from grading.selectors import run_get_latest_succeeded

#: Snapshot decisions an account manager should follow up (the queue's "reach out" need).
WARNING_ACTIONS = ("warn", "propose_downgrade")


def appeal_window_days() -> int:
    """Return how many days a customer has to appeal a downgrade (APPEAL_WINDOW_DAYS)."""
    return int(settings.APPEAL_WINDOW_DAYS)


def change_window_start(change: GradeChange) -> dt.datetime:
    """Return when the appeal window of `change` opened.

    A proposal counts from its creation; an applied downgrade from its decision (a
    downgrade applied directly by a run has no decision time: its creation counts).
    """
    if change.status == GradeChange.Status.APPLIED and change.decided_at is not None:
        return change.decided_at
    return change.created_at


def _appealable_q(*, now: dt.datetime) -> Q:
    cutoff = now - dt.timedelta(days=appeal_window_days())
    proposed = Q(status=GradeChange.Status.PROPOSED, created_at__gte=cutoff)
    # An applied downgrade is appealable while the customer still holds the lower grade.
    applied = Q(
        status=GradeChange.Status.APPLIED,
        customer__grade_state__grade_id=F("to_grade_id"),
    ) & (
        Q(decided_at__isnull=False, decided_at__gte=cutoff)
        | Q(decided_at__isnull=True, created_at__gte=cutoff)
    )
    return Q(direction=GradeChange.Direction.DOWN, from_grade__isnull=False) & (proposed | applied)


def appealable_change_list(*, customer: Customer, now: dt.datetime | None = None) -> QuerySet:
    """Return the customer's downgrades that can be appealed now, newest first.

    Appealable: a downgrade (proposed, or applied and still in force) within the window,
    with no open appeal and no appeal already decided (accepted or rejected) on it.
    """
    now = now or timezone.now()
    decided_or_open = Appeal.objects.filter(
        change=OuterRef("pk"),
        status__in=[*Appeal.OPEN_STATUSES, Appeal.Status.ACCEPTED, Appeal.Status.REJECTED],
    )
    return (
        GradeChange.objects.filter(customer=customer)
        .filter(_appealable_q(now=now))
        .exclude(Exists(decided_or_open))
        .select_related("from_grade", "to_grade", "run")
        .order_by("-created_at", "-id")
    )


def change_is_appealable(*, change: GradeChange, now: dt.datetime | None = None) -> bool:
    """Return True when `change` can be appealed now (same rule as `appealable_change_list`)."""
    return appealable_change_list(customer=change.customer, now=now).filter(pk=change.pk).exists()


def appeal_list_for_customer(*, customer: Customer) -> QuerySet[Appeal]:
    """Return the customer's appeals, newest first, with the change's grades joined."""
    return (
        Appeal.objects.filter(customer=customer)
        .select_related("change__from_grade", "change__to_grade")
        .order_by("-created_at", "-id")
    )


def evidence_list_for_customer(*, customer: Customer) -> QuerySet[Evidence]:
    """Return the evidence files of the customer's own appeals."""
    return Evidence.objects.filter(appeal__customer=customer).select_related("appeal")


def appeal_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Appeal]:
    """Return the appeals a staff user may see (scoped by customer) with evidence counts."""
    queryset = Appeal.objects.select_related(
        "customer__account_manager", "change__from_grade", "change__to_grade", "decided_by"
    ).annotate(evidence_count=Count("evidence"))
    return scope_for_user(queryset, user=user, customer_path="customer")


def evidence_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Evidence]:
    """Return the evidence files a staff user may download (scoped by customer)."""
    return scope_for_user(
        Evidence.objects.select_related("appeal"), user=user, customer_path="appeal__customer"
    )


def appeal_events(*, appeal: Appeal) -> QuerySet[AppealEvent]:
    """Return an appeal's audit trail, oldest first."""
    return AppealEvent.objects.filter(appeal=appeal).select_related("actor").order_by("at", "id")


def follow_up_list(*, customer: Customer, limit: int = 50) -> list[FollowUp]:
    """Return the customer's latest follow-ups, newest first."""
    return list(
        FollowUp.objects.filter(customer=customer)
        .select_related("author")
        .order_by("-created_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class PendingWarning:
    """A warning or proposed downgrade waiting for the account manager, and its follow-up.

    `run` is the latest succeeded run when it warned or proposed (else the open proposal's
    run); `snapshot` the customer's row in it (None when only a proposal is open);
    `change` the open proposal, if any; `follow_up` the warning follow-up recorded for it.
    """

    run: GradingRun
    snapshot: ScoreSnapshot | None
    change: GradeChange | None
    follow_up: FollowUp | None

    @property
    def followed_up(self) -> bool:
        return self.follow_up is not None


def warning_pending_for_customer(
    *, customer: Customer, latest: ScoreSnapshot | Unread | None = UNREAD
) -> PendingWarning | None:
    """Return the customer's warning or open proposal to follow up, or None (four queries).

    The same definition as the queue's `follow_up` need (manager.needs): the latest
    succeeded run warned or proposed a downgrade. An open proposal from an earlier run
    counts too, so the follow-up can name it. `latest`, when given, is the customer's
    snapshot in their newest succeeded run, with its run
    (`grading.selectors.snapshot_latest_for_customer`): the warning is read from it, one
    query fewer, whenever it is the latest run's.
    """
    run = run_get_latest_succeeded()
    snapshot = _warning_snapshot(customer=customer, run=run, latest=latest)
    change = (
        GradeChange.objects.filter(customer=customer, status=GradeChange.Status.PROPOSED)
        .select_related("from_grade", "to_grade", "run")
        .order_by("-created_at", "-id")
        .first()
    )
    if snapshot is None and (change is None or change.run is None):
        return None  # a proposal made outside a run answers no warning (found by hypothesis)
    answered = run if snapshot is not None else change.run  # type: ignore[union-attr]
    assert answered is not None
    follow_up = (
        FollowUp.objects.filter(customer=customer, kind=FollowUp.Kind.WARNING, run=answered)
        .select_related("author")
        .order_by("-created_at", "-id")
        .first()
    )
    return PendingWarning(run=answered, snapshot=snapshot, change=change, follow_up=follow_up)


def _warning_snapshot(
    *, customer: Customer, run: GradingRun | None, latest: ScoreSnapshot | Unread | None
) -> ScoreSnapshot | None:
    """The customer's snapshot in `run` if that run warned them or proposed a downgrade."""
    if run is None:
        return None
    if latest is not UNREAD:
        if latest is None or latest.run.as_of < run.as_of:
            return None  # newest first by period: no snapshot in `run`
        if latest.run_id == run.pk:
            return latest if latest.action in WARNING_ACTIONS else None
    return (
        ScoreSnapshot.objects.filter(customer=customer, run=run, action__in=WARNING_ACTIONS)
        .select_related("grade_before", "grade_after", "computed_grade")
        .first()
    )


def appeal_lock_for_customer(*, customer: Customer) -> GradeOverride | None:
    """Return the customer's active appeal lock (an accepted appeal's pinned grade), if any."""
    return (
        GradeOverride.objects.filter(
            customer=customer, source=GradeOverride.Source.APPEAL, ended_at__isnull=True
        )
        .select_related("grade")
        .first()
    )


def appeal_reversals_annotate(changes: list[GradeChange]) -> list[GradeChange]:
    """Set `reversal` on each change: the accepted appeal that reversed it, else None.

    One query whatever the number of changes (none when `changes` is empty). An accepted
    appeal restored the change's `from_grade` on `decided_at` (`appeals.services.appeal_accept`),
    so an applied downgrade carrying one no longer stands: pages say "Reversed on appeal"
    rather than "Applied" (docs/architecture.md, "Portal self-service").
    """
    accepted = (
        {
            appeal.change_id: appeal
            for appeal in Appeal.objects.filter(
                change_id__in=[change.pk for change in changes], status=Appeal.Status.ACCEPTED
            )
        }
        if changes
        else {}
    )
    for change in changes:
        change.reversal = accepted.get(change.pk)  # type: ignore[attr-defined]
    return changes


def appeal_answer_due_at(appeal: Appeal) -> dt.datetime | None:
    """Return when an open appeal's answer is due (the review SLA), None once decided.

    The same instant ops see as "due …" in the appeal admin: filed at + APPEAL_REVIEW_SLA_DAYS.
    """
    if not appeal.is_open:
        return None
    return appeal.created_at + dt.timedelta(days=int(settings.APPEAL_REVIEW_SLA_DAYS))


def appeal_review_overdue_before(*, now: dt.datetime | None = None) -> dt.datetime:
    """Return the filing time before which an open appeal breaches the review SLA."""
    now = now or timezone.now()
    return now - dt.timedelta(days=int(settings.APPEAL_REVIEW_SLA_DAYS))


#: An open appeal is "due soon" when its review SLA ends within this time.
APPEAL_DUE_SOON = dt.timedelta(days=2)


def appeal_due_soon_before(*, now: dt.datetime | None = None) -> dt.datetime:
    """Return the filing time before which an open appeal within its SLA is due soon."""
    return appeal_review_overdue_before(now=now) + APPEAL_DUE_SOON


@dataclass(frozen=True)
class AppealSla:
    """Open appeals a user may see, by review SLA."""

    open: int
    overdue: int
    due_soon: int


def appeal_sla_counts(
    *, user: AbstractBaseUser | AnonymousUser, now: dt.datetime | None = None
) -> AppealSla:
    """Count the open appeals `user` may see: all, past their review SLA, and due soon.

    One query over the open statuses of `appeal_status_idx` (status, created_at): open
    appeals are a small set whatever the number of customers.
    """
    overdue_before = appeal_review_overdue_before(now=now)
    due_soon_before = appeal_due_soon_before(now=now)
    counts = scope_for_user(
        Appeal.objects.filter(status__in=Appeal.OPEN_STATUSES), user=user, customer_path="customer"
    ).aggregate(
        open=Count("pk"),
        overdue=Count("pk", filter=Q(created_at__lt=overdue_before)),
        due_soon=Count(
            "pk", filter=Q(created_at__gte=overdue_before, created_at__lt=due_soon_before)
        ),
    )
    return AppealSla(open=counts["open"], overdue=counts["overdue"], due_soon=counts["due_soon"])


#: The needs of the manager queue's table, most urgent first (`manager.needs.WEIGHTS`).
QUEUE_NEED_CODES = ("sla", "proposed", "follow_up", "appeal", "close", "upgraded", "recommend")


@dataclass(frozen=True)
class QueueNeedsCounts:
    """How many customers a user may see have each need (`by_need`, in QUEUE_NEED_CODES
    order), and how many have at least one (`customers`)."""

    by_need: dict[str, int]
    customers: int


def queue_needs_counts(
    *, user: AbstractBaseUser | AnonymousUser, now: dt.datetime
) -> QueueNeedsCounts:
    """Count the customers `user` may see by need, from the queue's needs table at `now`.

    One aggregate query. The two time-dependent needs are judged by their instants, as
    `manager.needs.queue_needs_refresh_due` would flip them, without writing: breached
    when `sla_due_at` has passed, recently upgraded when `upgraded_at` is within
    `QueueNeeds.RECENT_UPGRADE_DAYS`. Only rows needing something are read: a stored need
    (`urgency > 0`, a range of `queue_urgency_idx` or `queue_manager_urgency_idx`) or a
    flag the clock turned on since the row was written (`queue_sla_off_idx`,
    `queue_upgraded_off_idx`); the customers with nothing to do, most of them, are not.
    """
    since = now - dt.timedelta(days=QueueNeeds.RECENT_UPGRADE_DAYS)
    conditions = {
        "sla": Q(sla_due_at__lt=now),
        "upgraded": Q(upgraded_at__gte=since),
        **{
            code: Q(**{f"flag_{code}": True})
            for code in QUEUE_NEED_CODES
            if code not in ("sla", "upgraded")
        },
    }
    anything = Q()
    for condition in conditions.values():
        anything |= condition
    rows = scope_for_user(QueueNeeds.objects.all(), user=user).filter(
        Q(urgency__gt=0)
        | Q(flag_sla=False, sla_due_at__lt=now)
        | Q(flag_upgraded=False, upgraded_at__gte=since)
    )
    counts = rows.aggregate(
        customers=Count("pk", filter=anything),
        **{code: Count("pk", filter=conditions[code]) for code in QUEUE_NEED_CODES},
    )
    return QueueNeedsCounts(
        by_need={code: counts[code] for code in QUEUE_NEED_CODES}, customers=counts["customers"]
    )
