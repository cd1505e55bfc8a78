"""Read functions of the grading app."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Case, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.utils.translation import gettext as _

from customers.selectors import scope_for_user
from customers.services.exports import ScoresRun
from grading.exceptions import NoActiveScheme
from grading.models import (
    Cadence,
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


def run_get_latest_succeeded(*, as_of: dt.date | None = None) -> GradingRun | None:
    """Return the newest succeeded run (of the given period, when set)."""
    runs = GradingRun.objects.filter(status=GradingRun.Status.SUCCEEDED).select_related("scheme")
    if as_of is not None:
        runs = runs.filter(as_of=as_of)
    return runs.order_by("-as_of", "-finished_at").first()


def export_scores_run() -> ScoresRun | None:
    """Return the run whose scores the customer export shows: the latest succeeded one."""
    run = run_get_latest_succeeded()
    return ScoresRun(id=run.pk, as_of=run.as_of) if run is not None else None


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
