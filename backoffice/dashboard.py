"""The admin's home page: what needs Operations now, each figure linking to its filtered list.

unfold calls `dashboard_callback` (settings.UNFOLD["DASHBOARD_CALLBACK"]) for the admin
index; templates/admin/index.html draws what it adds. Every figure is read through the
owning app's selectors, and each is a count over an indexed filter or a few rows of an index
range, so the page costs the same fixed number of queries at a thousand customers or a
million (tests/backoffice/test_dashboard.py pins it). The alarms are the reports' own notes
(grade inversion, cost over profit), read from the reports' cache and never recomputed here.
The customers' needs are counted in the manager queue's needs table (`appeals.QueueNeeds`,
one aggregate, `appeals.selectors.queue_needs_counts`), never from the source tables.
See docs/operations.md, "The admin".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, PermissionsMixin
from django.core.cache import cache
from django.db.models import Count, Window
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_celery_results.models import TaskResult

from appeals.models import Appeal
from appeals.selectors import (
    QUEUE_NEED_CODES,
    AppealSla,
    QueueNeedsCounts,
    appeal_sla_counts,
    queue_needs_counts,
)
from backoffice.navigation import MANAGER_QUEUE_PERMISSION
from grading.models import GradeChange, GradingRun
from grading.selectors import grade_change_pending, run_failed_count, run_get_latest
from grading.services.report_cache import previous_run, report_tables_cached

#: How long a person's needs counts are kept (`_needs_counts`).
NEEDS_CACHE_SECONDS = 60
#: Proposals listed on the dashboard, oldest first (the rest are one link away).
PENDING_SHOWN = 5
#: How far back "failed jobs" look.
FAILURES_SINCE = dt.timedelta(days=7)
#: The report tables whose notes are the alarms: grade inversion, cost over profit.
ALARM_TABLES = ("repurchase", "cost_to_serve")
#: The queue's needs as its filter names them (manager.selectors.FLAGS), most urgent first.
NEED_LABELS = {
    "sla": gettext_lazy("Service-ticket SLA breached"),
    "proposed": gettext_lazy("Downgrade proposed"),
    "follow_up": gettext_lazy("Reach out before downgrade"),
    "appeal": gettext_lazy("Open appeal"),
    "close": gettext_lazy("Close to the next grade"),
    "upgraded": gettext_lazy("Recently upgraded"),
    "recommend": gettext_lazy("Related category to suggest"),
}


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
class Need:
    label: str
    count: int
    url: str  # the manager queue filtered to this need


@dataclass(frozen=True)
class Needs:
    """Customers needing their account manager, by need (the queue's needs table)."""

    needs: list[Need]
    customers: int
    url: str


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
    needs: Needs | None = None
    last_run: LastRun | None = None
    alarms: Alarms | None = None
    failures: Failures | None = None


def failed_task_count(*, since: dt.datetime) -> int:
    """Return how many Celery tasks failed since `since` (django_celery_results' rows;
    `status` and `date_done` are indexed)."""
    return TaskResult.objects.filter(status="FAILURE", date_done__gte=since).count()


def _pending(user: AbstractBaseUser | AnonymousUser) -> Pending:
    # One query: the oldest few, each carrying the count of them all (a window over the
    # proposals, which are few whatever the number of customers).
    oldest: list[GradeChange] = list(
        grade_change_pending(user=user).annotate(total=Window(Count("pk")))[:PENDING_SHOWN]
    )
    return Pending(
        count=getattr(oldest[0], "total", 0) if oldest else 0,
        oldest=oldest,
        url=_changelist("grading_gradechange", status=GradeChange.Status.PROPOSED),
    )


def _needs_counts(user: AbstractBaseUser | AnonymousUser, now: dt.datetime) -> QueueNeedsCounts:
    """The needs counts `user` may see, kept `NEEDS_CACHE_SECONDS` per person.

    The aggregate reads every customer with a need (about 110 ms at a million customers,
    bench/README.md, "Pages at scale"); the dashboard is opened far more often than a
    minute's change matters to it.
    """
    key = f"tierhub:dashboard:needs:v1:{user.pk}"
    counts = cache.get(key)
    if counts is None:
        counts = queue_needs_counts(user=user, now=now)
        cache.set(key, counts, NEEDS_CACHE_SECONDS)
    return counts


def _needs(user: AbstractBaseUser | AnonymousUser, now: dt.datetime) -> Needs:
    counts = _needs_counts(user, now)
    queue = reverse("manager:queue")
    return Needs(
        needs=[
            Need(
                label=str(NEED_LABELS[code]),
                count=counts.by_need[code],
                url=f"{queue}?{urlencode({'flag': code})}",
            )
            for code in QUEUE_NEED_CODES
        ],
        customers=counts.customers,
        url=queue,
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
    if _may(user, MANAGER_QUEUE_PERMISSION):
        sections["needs"] = _needs(user, now)
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
