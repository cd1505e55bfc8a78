"""Read functions of the grading app."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    Case,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from common import formatting
from common.durations import duration_display
from common.translated import localized
from customers.models import Customer
from customers.selectors import scope_for_user
from grading.exceptions import NoActiveScheme
from grading.models import (
    Cadence,
    ChangeSource,
    GradeAuditEntry,
    GradeChange,
    GradingRun,
    GradingScheme,
    SchemeGrade,
    ScoreSnapshot,
)

#: Review-queue order: changes waiting for a decision first, then oldest first (FIFO).
PROPOSED_FIRST = Case(
    When(status=GradeChange.Status.PROPOSED, then=Value(0)),
    default=Value(1),
    output_field=IntegerField(),
)


def scheme_get_active() -> GradingScheme:
    """Return the active grading scheme or raise NoActiveScheme."""
    scheme = GradingScheme.objects.filter(status=GradingScheme.Status.ACTIVE).first()
    if scheme is None:
        raise NoActiveScheme(_("No grading scheme is active; activate one in the admin."))
    return scheme


#: The (warn_after, downgrade_after) of the quarterly rungs shipped before issue #17: a
#: warning after one quarter under target and a proposal after two, where the rule they
#: implement starts the warning talk only after two quarters (policy.DEFAULT_COUNTS).
OUTDATED_QUARTERLY_COUNTS = (1, 2)


def scheme_rungs_with_outdated_counts(*, scheme: GradingScheme) -> list[SchemeGrade]:
    """Return the quarterly rungs of `scheme` that still have the pre-#17 counts (1 and 2).

    Best rank first, with their grades (one query). The admin offers a revised draft with
    the new defaults for them (`scheme_revise_with_default_counts`).
    """
    warn_after, downgrade_after = OUTDATED_QUARTERLY_COUNTS
    return list(
        SchemeGrade.objects.filter(
            scheme=scheme,
            cadence=Cadence.QUARTERLY,
            warn_after=warn_after,
            downgrade_after=downgrade_after,
        )
        .select_related("grade")
        .order_by("-grade__rank")
    )


def scheme_get_by_name(name: str) -> GradingScheme:
    """Return the active version of scheme `name`, else its newest version."""
    versions = GradingScheme.objects.filter(name=name).order_by("-version")
    scheme = versions.filter(status=GradingScheme.Status.ACTIVE).first() or versions.first()
    if scheme is None:
        raise NoActiveScheme(_("No grading scheme is called “%(name)s”.") % {"name": name})
    return scheme


#: What the portal and the manager's queue read about the grades on every page (the grades,
#: the active scheme's rungs, the benefits they carry) is kept in the cache under this version
#: (`common.versions`), replaced whenever one of those rows is saved or deleted
#: (`grading.handlers.ladder_changed`). docs/operations.md, "Caches".
LADDER_VERSION = "grading-ladder"
#: Seconds a cached ladder lives at most: a change made past the ORM's signals shows by then.
LADDER_TTL = 300


def run_get_latest_succeeded(*, as_of: dt.date | None = None) -> GradingRun | None:
    """Return the newest succeeded run (of the given period, when set)."""
    runs = GradingRun.objects.filter(status=GradingRun.Status.SUCCEEDED).select_related("scheme")
    if as_of is not None:
        runs = runs.filter(as_of=as_of)
    return runs.order_by("-as_of", "-finished_at").first()


def snapshot_latest_for_customer(*, customer: Customer) -> ScoreSnapshot | None:
    """Return the customer's snapshot in the newest succeeded run (None if never graded),
    with its run and scheme and its grades: the customer pages explain it."""
    return (
        ScoreSnapshot.objects.filter(customer=customer, run__status=GradingRun.Status.SUCCEEDED)
        .select_related("run__scheme", "grade_after", "grade_before", "computed_grade")
        .order_by("-run__as_of", "-run_id")
        .first()
    )


#: The columns `customer_export_values` reads, in export order (see grading.customer_export).
EXPORT_VALUES = (
    "code",
    "name",
    "kind",
    "industry",
    "email",
    "phone",
    "registered_at",
    "account_manager__username",
    "grade_state__grade__code",
    "grade_state__grade__name",
    "grade_state__since",
    "active_pin__source",
    "latest_snapshot__recency_days",
    "latest_snapshot__frequency",
    "latest_snapshot__monetary",
    "latest_snapshot__r_score",
    "latest_snapshot__f_score",
    "latest_snapshot__m_score",
    "latest_snapshot__rfm_segment",
    "latest_snapshot__rfm_label",
    "latest_snapshot__lifecycle",
    "latest_snapshot__pyramid",
    "latest_snapshot__historical",
    "latest_snapshot__potential",
    "latest_snapshot__cooperation",
    "latest_snapshot__composite",
)


def customer_export_values(
    *,
    user: AbstractBaseUser | AnonymousUser,
    run_id: int | None,
    queryset: QuerySet[Customer] | None = None,
) -> QuerySet[Customer, tuple[Any, ...]]:
    """Return one tuple per customer `user` may see: `EXPORT_VALUES`, ordered by code.

    `queryset` narrows the customers (e.g. an admin changelist's filters); it is scoped to
    `user` again here, so no caller can widen an export. Scores come from run `run_id`'s
    snapshot (NULLs when there is no run or the customer was not in it); `active_pin__source`
    is the source of the active override ("manual" / "appeal") or NULL.

    One query whatever the row count: the current grade, the active override and the run's
    snapshot are LEFT JOINs (each matches at most one row: the grade state is one-to-one,
    one active override per customer and one snapshot per (run, customer) are unique
    constraints): the relations grading declares on Customer.
    """
    base = Customer.objects.all() if queryset is None else queryset
    # Without a run the condition never matches (every snapshot has a run), so scores come
    # out NULL.
    snapshot_condition = (
        Q(snapshots__run_id=run_id) if run_id is not None else Q(snapshots__run__isnull=True)
    )
    scoped = scope_for_user(base, user=user).annotate(
        latest_snapshot=FilteredRelation("snapshots", condition=snapshot_condition),
        active_pin=FilteredRelation("overrides", condition=Q(overrides__ended_at__isnull=True)),
    )
    # The grade's name in the reader's language (a path through Customer reads the plain
    # column otherwise: common.translated).
    columns = [
        localized(name) if name == "grade_state__grade__name" else name for name in EXPORT_VALUES
    ]
    return scoped.order_by("code").values_list(*columns)


def snapshot_list_for_run(*, run: GradingRun) -> QuerySet[ScoreSnapshot]:
    """Return a run's snapshots with customer code and grade codes, by customer code."""
    return (
        ScoreSnapshot.objects.filter(run=run)
        .select_related("customer", "grade_after", "computed_grade")
        .order_by("customer__code")
    )


def grade_change_review_queue(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[GradeChange]:
    """Return the grade changes `user` may see, as the review queue needs them.

    Scoped to the user's customers (an account manager sees only their own). Each row has
    its customer, manager and grades joined and `composite` annotated from the run's
    snapshot of that customer (a correlated subquery on the (customer, run) index, NULL
    for changes made outside a run), so listing N changes costs one query, not N.
    """
    composite = ScoreSnapshot.objects.filter(
        run_id=OuterRef("run_id"), customer_id=OuterRef("customer_id")
    ).values("composite")[:1]
    queryset = (
        GradeChange.objects.select_related(
            "customer__account_manager", "from_grade", "to_grade", "decided_by"
        )
        .annotate(composite=Subquery(composite))
        .order_by(PROPOSED_FIRST, "created_at", "pk")
    )
    return scope_for_user(queryset, user=user, customer_path="customer")


def snapshot_get_for_change(*, change: GradeChange) -> ScoreSnapshot | None:
    """Return the snapshot behind `change` (its run's row for its customer), if any."""
    if change.run_id is None:
        return None
    return (
        ScoreSnapshot.objects.select_related(
            "run__scheme", "computed_grade", "grade_before", "grade_after"
        )
        .filter(run_id=change.run_id, customer_id=change.customer_id)
        .first()
    )


def rung_get_for_snapshot(*, snapshot: ScoreSnapshot) -> SchemeGrade | None:
    """Return the rung the snapshot's customer was judged against: the grade they held
    before the run, in the ladder of the run's scheme (None for a first grading)."""
    if snapshot.grade_before_id is None:
        return None
    return SchemeGrade.objects.filter(
        scheme_id=snapshot.run.scheme_id, grade_id=snapshot.grade_before_id
    ).first()


#: How far along a single-process run is when each phase starts (percent). Its work is
#: set-based: the customers are all written by one statement in the write phase, so the
#: bar follows the phases and "customers done" moves at the end. Write is the longest phase.
PHASE_PERCENT = {
    GradingRun.Phase.QUEUED: 0,
    GradingRun.Phase.EXTRACT: 5,
    GradingRun.Phase.SCORE: 30,
    GradingRun.Phase.DECIDE: 45,
    GradingRun.Phase.WRITE: 60,
    GradingRun.Phase.FINISHING: 95,
}


@dataclass(frozen=True, slots=True)
class RunProgress:
    """Where a run is, for its page and the runs list (numbers plus their display text)."""

    status: str
    status_label: str
    phase: str
    phase_label: str
    done: int
    total: int
    percent: int
    elapsed_seconds: float | None
    eta_seconds: float | None
    finished: bool
    error: str

    def as_json(self) -> dict[str, object]:
        """The progress endpoint's body: values plus what the page shows for them."""
        return {
            "status": self.status,
            "status_label": self.status_label,
            "phase": self.phase,
            "phase_label": self.phase_label,
            "done": self.done,
            "total": self.total,
            "customers": self.customers_display,
            "percent": self.percent,
            "elapsed_seconds": self.elapsed_seconds,
            "elapsed": self.elapsed_display,
            "eta_seconds": self.eta_seconds,
            "eta": self.eta_display,
            "finished": self.finished,
            "error": self.error,
        }

    @property
    def elapsed_display(self) -> str:
        return duration_display(self.elapsed_seconds)

    @property
    def customers_display(self) -> str:
        if not self.total:
            return _("counting customers …") if not self.finished else "—"
        return _("%(done)s of %(total)s customers") % {
            "done": formatting.count(self.done),
            "total": formatting.count(self.total),
        }

    @property
    def eta_display(self) -> str:
        if self.finished:
            return "—"
        if self.eta_seconds is None:
            return _("estimating …")
        return _("about %(duration)s left") % {"duration": duration_display(self.eta_seconds)}


def run_failure_text(run: GradingRun) -> str:
    """Return the last line of a failed run's error (the exception), or "" for other runs."""
    if run.status != GradingRun.Status.FAILED or not run.error:
        return ""
    from grading.services.runs import INTERRUPTED

    if run.error == INTERRUPTED:  # stored in English; shown in the reader's language
        return _(
            "Interrupted: the process running it stopped before it finished. Run it "
            "again: it resumes and converges."
        )
    return run.error.strip().splitlines()[-1][:200]


def run_progress(*, run: GradingRun, now: dt.datetime | None = None) -> RunProgress:
    """Return `run`'s progress: phase, customers done / in all, percent, elapsed and ETA.

    A sharded run counts the customers its shards have written; a single-process run
    follows its phases (`PHASE_PERCENT`). The ETA is the last successful run of the same
    scheme's duration minus the time spent (its best predictor: the population changes
    slowly), or, with no such run, the elapsed time extrapolated from the percentage.
    One query (that previous run), and only while the run is running.
    """
    now = now or timezone.now()
    finished = run.status in (GradingRun.Status.SUCCEEDED, GradingRun.Status.FAILED)
    phase = run.phase or (GradingRun.Phase.QUEUED if not finished else "")
    if run.status == GradingRun.Status.SUCCEEDED:
        percent = 100
    elif run.shards > 1 and run.progress_total:
        percent = min(99, 100 * run.progress_done // run.progress_total)
    else:
        percent = PHASE_PERCENT.get(phase, 0)  # type: ignore[call-overload]
    elapsed: float | None = None
    if run.started_at is not None and run.status != GradingRun.Status.PENDING:
        end = run.finished_at if finished and run.finished_at else now
        elapsed = (end - run.started_at).total_seconds()
        if run.status == GradingRun.Status.SUCCEEDED and run.duration_seconds is not None:
            elapsed = run.duration_seconds
    eta: float | None = None
    if run.status == GradingRun.Status.RUNNING and elapsed is not None:
        previous = (
            GradingRun.objects.filter(
                scheme_id=run.scheme_id,
                status=GradingRun.Status.SUCCEEDED,
                duration_seconds__isnull=False,
            )
            .exclude(pk=run.pk)
            .order_by("-finished_at")
            .values_list("duration_seconds", flat=True)
            .first()
        )
        if previous is not None:
            eta = max(previous - elapsed, 0.0)
        elif percent > 0:
            eta = elapsed * (100 - percent) / percent
    phase_label = str(GradingRun.Phase(phase).label) if phase else ""
    if run.status == GradingRun.Status.SUCCEEDED:
        phase_label = _("Finished")
    return RunProgress(
        status=run.status,
        status_label=str(run.get_status_display()),
        phase=phase,
        phase_label=phase_label,
        done=run.progress_done,
        total=run.progress_total,
        percent=percent,
        elapsed_seconds=elapsed,
        eta_seconds=eta,
        finished=finished,
        error=run_failure_text(run),
    )


def grade_change_pending(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[GradeChange]:
    """Return the proposals waiting for review that `user` may see, oldest first.

    Filtered on status and ordered by creation: a range of `change_status_idx`, so counting
    them and reading the oldest few stay cheap however many changes there are.
    """
    queryset = (
        GradeChange.objects.filter(status=GradeChange.Status.PROPOSED)
        .select_related("customer", "from_grade", "to_grade")
        .order_by("created_at", "pk")
    )
    return scope_for_user(queryset, user=user, customer_path="customer")


def run_get_latest() -> GradingRun | None:
    """Return the run started last, whatever its status (the dashboard's "last run")."""
    return GradingRun.objects.select_related("scheme").order_by("-id").first()


def run_failed_count(*, since: dt.datetime) -> int:
    """Return how many runs failed since `since` (by their start)."""
    return GradingRun.objects.filter(status=GradingRun.Status.FAILED, started_at__gte=since).count()


@dataclass(frozen=True)
class ProvisionalUpgrade:
    """A customer's current provisional upgrade and what the next run made of it.

    `verdict`: "pending" (no run since), "confirmed" (the run's computed grade reaches the
    upgraded one), "held" (below it, but within its margin: hysteresis keeps it) or "below"
    (under target: the usual reviews count from there, docs/grading-policy.md).
    """

    change: GradeChange
    day: dt.date
    verdict: str
    run: GradingRun | None = None


def provisional_upgrade_latest(*, customer_id: int) -> ProvisionalUpgrade | None:
    """Return the customer's provisional upgrade while it is their latest grade event.

    None when they have none, or a later grade change (a run's, a review's, an override)
    came after it. The verdict is that of the first succeeded run started after the upgrade,
    read from the customer's snapshot in it. Three queries at most.
    """
    change = (
        GradeChange.objects.filter(
            customer_id=customer_id,
            source=ChangeSource.PROVISIONAL,
            status=GradeChange.Status.APPLIED,
        )
        .select_related("to_grade")
        .order_by("-created_at", "-id")
        .first()
    )
    if change is None:
        return None
    later = (
        GradeAuditEntry.objects.filter(customer_id=customer_id, created_at__gte=change.created_at)
        .exclude(change=change)
        .exists()
    )
    if later:
        return None
    day = timezone.localdate(change.created_at)
    snapshot = (
        ScoreSnapshot.objects.filter(
            customer_id=customer_id,
            run__status=GradingRun.Status.SUCCEEDED,
            run__started_at__gte=change.created_at,
        )
        .select_related("run__scheme", "computed_grade")
        .order_by("run__started_at", "run_id")
        .first()
    )
    if snapshot is None:
        return ProvisionalUpgrade(change=change, day=day, verdict="pending")
    if snapshot.computed_grade.rank >= change.to_grade.rank:
        verdict = "confirmed"
    elif snapshot.rule in ("within_hysteresis", "on_target_not_due"):
        verdict = "held"
    else:
        verdict = "below"
    return ProvisionalUpgrade(change=change, day=day, verdict=verdict, run=snapshot.run)
