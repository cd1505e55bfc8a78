"""Read functions of the grading app."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from grading.exceptions import NoActiveScheme
from grading.models import GradingRun, GradingScheme, ScoreSnapshot


def scheme_get_active() -> GradingScheme:
    """Return the active grading scheme or raise NoActiveScheme."""
    scheme = GradingScheme.objects.filter(status=GradingScheme.Status.ACTIVE).first()
    if scheme is None:
        raise NoActiveScheme(_("No grading scheme is active; activate one in the admin."))
    return scheme


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


def snapshot_list_for_run(*, run: GradingRun) -> QuerySet[ScoreSnapshot]:
    """Return a run's snapshots with customer code and grade codes, by customer code."""
    return (
        ScoreSnapshot.objects.filter(run=run)
        .select_related("customer", "grade_after", "computed_grade")
        .order_by("customer__code")
    )
