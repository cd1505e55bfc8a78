"""The admin's home page: what needs Operations now, each figure linking to its filtered list.

unfold calls `dashboard_callback` (settings.UNFOLD["DASHBOARD_CALLBACK"]) for the admin
index; templates/admin/index.html draws what it adds. Every figure is read through the
owning app's selectors, and each is a count over an indexed filter or a few rows of an index
range, so the page costs the same fixed number of queries at a thousand customers or a
million (tests/backoffice/test_dashboard.py pins it). The alarms are the reports' own notes
(grade inversion, cost over profit), read from the reports' cache and never recomputed here.
See docs/operations.md, "The admin".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, PermissionsMixin
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django_celery_results.models import TaskResult

from appeals.models import Appeal
from appeals.selectors import AppealSla, appeal_sla_counts
from grading.models import GradeChange, GradingRun
from grading.selectors import grade_change_pending, run_failed_count, run_get_latest
from grading.services.report_cache import previous_run, report_tables_cached

#: Proposals listed on the dashboard, oldest first (the rest are one link away).
PENDING_SHOWN = 5
#: How far back "failed jobs" look.
FAILURES_SINCE = dt.timedelta(days=7)
#: The report tables whose notes are the alarms: grade inversion, cost over profit.
ALARM_TABLES = ("repurchase", "cost_to_serve")


def _changelist(name: str, **filters: Any) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


@dataclass(frozen=True)
class Pending:
    count: int
    oldest: list[GradeChange]
    url: str


@dataclass(frozen=True)
class Appeals:
    sla: AppealSla
    open_url: str
    overdue_url: str
    due_soon_url: str


@dataclass(frozen=True)
class LastRun:
    run: GradingRun
    url: str
    runs_url: str


@dataclass(frozen=True)
class Alarms:
    """The latest succeeded run's alarms; `computed` False when its reports are not cached."""

    run: GradingRun
    notes: list[str]
    computed: bool
    url: str


@dataclass(frozen=True)
class Failures:
    runs: int | None
    runs_url: str
    tasks: int | None
    tasks_url: str
    since: dt.datetime


@dataclass(frozen=True)
class Dashboard:
    """What the admin index shows; a section is None when the user may not see it."""

    pending: Pending | None = None
    appeals: Appeals | None = None
    last_run: LastRun | None = None
    alarms: Alarms | None = None
    failures: Failures | None = None


def failed_task_count(*, since: dt.datetime) -> int:
    """Return how many Celery tasks failed since `since` (django_celery_results' rows;
    `status` and `date_done` are indexed)."""
    return TaskResult.objects.filter(status="FAILURE", date_done__gte=since).count()


def _pending(user: AbstractBaseUser | AnonymousUser) -> Pending:
    pending = grade_change_pending(user=user)
    return Pending(
        count=pending.count(),
        oldest=list(pending[:PENDING_SHOWN]),
        url=_changelist("grading_gradechange", status=GradeChange.Status.PROPOSED),
    )


def _appeals(user: AbstractBaseUser | AnonymousUser, now: dt.datetime) -> Appeals:
    return Appeals(
        sla=appeal_sla_counts(user=user, now=now),
        open_url=_changelist(
            "appeals_appeal", status__in=",".join(str(status) for status in Appeal.OPEN_STATUSES)
        ),
        overdue_url=_changelist("appeals_appeal", sla="overdue"),
        due_soon_url=_changelist("appeals_appeal", sla="due_soon"),
    )


def _alarms(last: GradingRun) -> Alarms | None:
    run = (
        last
        if last.status == GradingRun.Status.SUCCEEDED
        else GradingRun.objects.filter(status=GradingRun.Status.SUCCEEDED)
        .select_related("scheme")
        .order_by("-as_of", "-id")
        .first()
    )
    if run is None:
        return None
    tables = report_tables_cached(run=run, before=previous_run(run), keys=list(ALARM_TABLES))
    notes = [note for name in ALARM_TABLES if name in tables for note in tables[name].notes]
    return Alarms(
        run=run,
        notes=notes,
        computed=len(tables) == len(ALARM_TABLES),
        url=f"{reverse('reports:index')}?{urlencode({'run': run.pk})}",
    )


def _may(user: AbstractBaseUser | AnonymousUser, permission: str) -> bool:
    return isinstance(user, PermissionsMixin | AnonymousUser) and user.has_perm(permission)


def dashboard_get(*, user: AbstractBaseUser | AnonymousUser, now: dt.datetime) -> Dashboard:
    """Return the dashboard of `user`: only the sections their permissions open."""
    sections: dict[str, Any] = {}
    if _may(user, "grading.view_gradechange"):
        sections["pending"] = _pending(user)
    if _may(user, "appeals.view_appeal"):
        sections["appeals"] = _appeals(user, now)
    if _may(user, "grading.view_gradingrun"):
        last = run_get_latest()
        if last is not None:
            sections["last_run"] = LastRun(
                run=last,
                url=reverse("admin:grading_gradingrun_change", args=[last.pk]),
                runs_url=_changelist("grading_gradingrun"),
            )
            sections["alarms"] = _alarms(last)
    # From midnight (local time), so the count and its filtered list agree to the row.
    since = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    since -= FAILURES_SINCE
    may_see_runs = _may(user, "grading.view_gradingrun")
    may_see_tasks = _may(user, "django_celery_results.view_taskresult")
    if may_see_runs or may_see_tasks:
        sections["failures"] = Failures(
            runs=run_failed_count(since=since) if may_see_runs else None,
            runs_url=_changelist(
                "grading_gradingrun",
                status__exact=GradingRun.Status.FAILED,
                started_at__gte=since.isoformat(),
            ),
            tasks=failed_task_count(since=since) if may_see_tasks else None,
            tasks_url=_changelist(
                "django_celery_results_taskresult",
                status__exact="FAILURE",
                date_done__gte=since.isoformat(),
            ),
            since=since,
        )
    return Dashboard(**sections)


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """unfold's DASHBOARD_CALLBACK: add the dashboard to the admin index's context."""
    context["title"] = _("Dashboard")
    context["dashboard"] = dashboard_get(user=request.user, now=timezone.now())
    return context
