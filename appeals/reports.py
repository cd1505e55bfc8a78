"""The appeals app's tables on the grading reports page: appeals (volume, outcome and
turnaround) and warning follow-up (warnings followed up within the SLA, and what became of
the warned customers).

Registered in `AppealsConfig.ready()` (see `grading.reports.ReportSection`): appeals builds on
grading, so grading's report page never imports this module.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DateField,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from appeals.models import Appeal, FollowUp
from appeals.selectors import WARNING_ACTIONS, appeal_review_overdue_before
from common.dates import local_midnight
from grading.models import GradeChange, GradingRun, ScoreSnapshot
from grading.reports import ReportContext, ReportSection, Table, months_back, percent


def appeal_outcomes(*, since: dt.date | None = None, now: dt.datetime | None = None) -> Table:
    """Return appeals per month of filing: volume, outcome and turnaround.

    Per month (project time zone) of appeals filed on or after `since` (all when None):
    filed, accepted, rejected, withdrawn, still open, acceptance rate (accepted / (accepted +
    rejected)), median and 90th percentile turnaround in hours from filing to the decision
    of accepted and rejected appeals (withdrawn ones are no decision of ops and are left
    out), and open appeals past the review SLA (`settings.APPEAL_REVIEW_SLA_DAYS` after
    filing, at `now`). A last row sums every month.

    Counts are one grouped query. Percentiles are computed in Python from a second query's
    (month, filed, decided) rows, with numpy's linear interpolation (the same as
    PostgreSQL's percentile_cont): appeals are few (a small fraction of downgrades), and
    one code path serves PostgreSQL and SQLite alike.
    """
    overdue_before = appeal_review_overdue_before(now=now)
    appeals = Appeal.objects.all()
    if since is not None:
        appeals = appeals.filter(created_at__gte=local_midnight(since))
    month = TruncMonth("created_at", output_field=DateField())
    is_open = Q(status__in=[str(s) for s in Appeal.OPEN_STATUSES])
    counts: list[Mapping[str, Any]] = list(
        appeals.annotate(month=month)
        .values("month")
        .annotate(
            filed=Count("id"),
            accepted=Count("id", filter=Q(status=Appeal.Status.ACCEPTED)),
            rejected=Count("id", filter=Q(status=Appeal.Status.REJECTED)),
            withdrawn=Count("id", filter=Q(status=Appeal.Status.WITHDRAWN)),
            open=Count("id", filter=is_open),
            overdue=Count("id", filter=is_open & Q(created_at__lt=overdue_before)),
        )
        .order_by("month")
    )
    hours: dict[dt.date, list[float]] = {}
    for filed_month, filed_at, decided_at in (
        appeals.filter(status__in=[Appeal.Status.ACCEPTED, Appeal.Status.REJECTED])
        .annotate(month=month)
        .values_list("month", "created_at", "decided_at")
    ):
        if decided_at is not None:  # always set on a decided appeal
            hours.setdefault(filed_month, []).append((decided_at - filed_at).total_seconds() / 3600)
    fields = ("filed", "accepted", "rejected", "withdrawn", "open", "overdue")
    totals = {name: sum(row[name] for row in counts) for name in fields}

    def row(label: str | dt.date, figures: Mapping[str, int], durations: list[float]) -> list[Any]:
        decided = figures["accepted"] + figures["rejected"]
        median, p90 = (
            [round(float(x), 1) for x in np.percentile(durations, [50, 90])]
            if durations
            else [None, None]
        )
        return [
            label,
            *[figures[name] for name in fields[:5]],
            percent(figures["accepted"], decided) if decided else None,
            median,
            p90,
            figures["overdue"],
        ]

    rows = [row(r["month"], r, hours.get(r["month"], [])) for r in counts]
    if counts:
        rows.append(row(_("all"), totals, [h for values in hours.values() for h in values]))
    return Table(
        title=_("Appeals: volume, outcome and turnaround"),
        columns=[
            _("month filed"),
            _("filed"),
            _("accepted"),
            _("rejected"),
            _("withdrawn"),
            _("open"),
            _("acceptance rate %"),
            _("median turnaround (h)"),
            _("90th percentile turnaround (h)"),
            _("open past SLA"),
        ],
        kinds=["month", *["count"] * 5, "percent", "number", "number", "count"],
        rows=rows,
        remarks=[
            _(
                "Turnaround: filing to decision of accepted and rejected appeals. Past SLA: "
                "still open %(days)s days after filing."
            )
            % {"days": settings.APPEAL_REVIEW_SLA_DAYS}
        ],
    )


#: What became of a warned customer (docs/operations.md, "Warning follow-up in the reports").
OUTCOMES = ("recovered", "downgraded", "appealed", "pending")
#: Decisions of the next run that leave a warning standing or act on it: anything else (kept,
#: upgraded, under target again from scratch, pinned, locked) is a recovery.
STILL_WARNED_ACTIONS = (*WARNING_ACTIONS, "downgrade")


@dataclass(frozen=True)
class WarnedCustomer:
    """One customer's warning (or proposed downgrade) in one run, and what followed.

    `issued_at`: when the run finished (managers see the warning from then on);
    `followed_up_at`: the first warning follow-up naming the run (None: none yet);
    `next_action`: the customer's decision in the next succeeded run (None: no later run
    graded the customer yet); `downgraded`: a downgrade made by the warning run or the next
    one was applied; `appealed`: an appeal was filed against such a downgrade (proposed or
    applied).
    """

    issued_at: dt.datetime
    followed_up_at: dt.datetime | None
    next_action: str | None
    downgraded: bool
    appealed: bool


def warning_within_sla(warning: WarnedCustomer, *, sla_days: int) -> bool:
    """Return True when the warning was followed up at most `sla_days` after it was issued.

    The deadline itself (issued at + exactly `sla_days` days) is within the SLA.
    """
    if warning.followed_up_at is None:
        return False
    return warning.followed_up_at <= warning.issued_at + dt.timedelta(days=sla_days)


def warning_outcome(warning: WarnedCustomer) -> str:
    """Return what became of a warned customer: one of `OUTCOMES`, exactly one per warning.

    In this order: "appealed" when an appeal was filed against a downgrade made by the
    warning run or the next run; "downgraded" when such a downgrade was applied;
    "recovered" when the next run decided anything but warn, propose or apply a downgrade
    (the grade kept or raised, no warning standing); "pending" otherwise (no later run yet,
    or it warned or proposed again and nothing was applied).
    """
    if warning.appealed:
        return "appealed"
    if warning.downgraded:
        return "downgraded"
    if warning.next_action is not None and warning.next_action not in STILL_WARNED_ACTIONS:
        return "recovered"
    return "pending"


def warning_follow_up_rows(
    warnings: Iterable[tuple[Any, WarnedCustomer]], *, sla_days: int
) -> list[list[Any]]:
    """Return the table's rows from (row label, warning) pairs, in label order, plus "all".

    Pure: per label, warnings issued, followed up, followed up within the SLA, that share of
    the warnings (%), then the count of each outcome (`warning_outcome`).
    """
    groups: dict[Any, list[WarnedCustomer]] = {}
    for label, warning in warnings:
        groups.setdefault(label, []).append(warning)

    def row(label: Any, items: list[WarnedCustomer]) -> list[Any]:
        within = sum(warning_within_sla(w, sla_days=sla_days) for w in items)
        outcomes = [warning_outcome(w) for w in items]
        return [
            label,
            len(items),
            sum(w.followed_up_at is not None for w in items),
            within,
            percent(within, len(items)),
            *[outcomes.count(name) for name in OUTCOMES],
        ]

    rows = [row(label, items) for label, items in groups.items()]
    if rows:
        rows.append(row(_("all"), [w for items in groups.values() for w in items]))
    return rows


def warning_follow_up(
    *, runs: int = 12, until: GradingRun | None = None, context: ReportContext | None = None
) -> Table:
    """Return, per run that warned, the warnings followed up within the SLA and their outcome.

    Over the latest `runs` succeeded runs up to `until` (the reports page's run; None: the
    latest), oldest first, a warning is a customer's snapshot
    whose decision is a warning or a proposed downgrade (`WARNING_ACTIONS`, the queue's
    "reach out" need). Followed up: a warning follow-up names the run; within the SLA: the
    first one was recorded at most `settings.WARNING_FOLLOW_UP_SLA_DAYS` days after the run
    finished. Outcomes: `warning_outcome`, judged at the next succeeded run (by as of) and
    its decisions. Definitions: docs/operations.md, "Warning follow-up in the reports".

    Three queries whatever the number of customers: the runs (and the one after `until`),
    then one row per warning with
    its first follow-up, next decision, downgrade and appeal as subqueries; the counting is
    `warning_follow_up_rows` (pure).
    """
    sla_days = int(settings.WARNING_FOLLOW_UP_SLA_DAYS)
    read = functools.partial(_warnings, runs=runs, until=until)
    key = ("warnings", runs, until.pk if until is not None else None)
    warnings = read() if context is None else context.read(key, read)
    return Table(
        title=_("Warning follow-up"),
        columns=[
            _("run as of"),
            _("warnings"),
            _("followed up"),
            _("followed up within SLA"),
            _("within SLA %"),
            _("recovered"),
            _("downgraded"),
            _("appealed"),
            _("still pending"),
        ],
        kinds=["date", *["count"] * 3, "percent", *["count"] * 4],
        rows=warning_follow_up_rows(warnings, sla_days=sla_days),
        remarks=[
            _(
                "A warning: the run warned the customer or proposed a downgrade. Within SLA: "
                "a warning follow-up recorded at most %(days)s days after the run finished. "
                "What became of the customer, at the next run: appealed (an appeal against "
                "the downgrade), downgraded (a downgrade applied), recovered (the grade kept "
                "or raised, no new warning), still pending (no later run yet, or warned "
                "again)."
            )
            % {"days": sla_days}
        ],
    )


def _warnings(*, runs: int, until: GradingRun | None) -> list[tuple[dt.date, WarnedCustomer]]:
    """Return (run as of, warning) of `warning_follow_up`'s runs: three statements."""
    done = GradingRun.objects.filter(status=GradingRun.Status.SUCCEEDED)
    if until is not None:
        # The runs up to `until`, and the one after it (its warnings' outcome).
        after = (
            done.filter(Q(as_of__gt=until.as_of) | Q(as_of=until.as_of, pk__gt=until.pk))
            .order_by("as_of", "id")
            .values_list("pk", "as_of", "finished_at")[:1]
        )
        done = done.filter(Q(as_of__lt=until.as_of) | Q(as_of=until.as_of, pk__lte=until.pk))
    succeeded = list(
        done.order_by("-as_of", "-id").values_list("pk", "as_of", "finished_at")[: runs + 1]
    )[::-1]
    judging = list(after) if until is not None else []
    succeeded += judging
    # The run after each of the latest `runs` (the newest has none yet).
    following = {
        run[0]: succeeded[i + 1][0] if i + 1 < len(succeeded) else None
        for i, run in enumerate(succeeded)
    }
    # The run after `until` only judges the outcomes of its warnings.
    shown_from = succeeded[: len(succeeded) - len(judging)]
    shown = shown_from[-runs:] if runs else []
    issued = {pk: finished_at or local_midnight(as_of) for pk, as_of, finished_at in shown}
    labels = {pk: as_of for pk, as_of, _finished in shown}
    next_run = Case(
        *[When(run_id=pk, then=Value(following[pk])) for pk in labels if following[pk]],
        default=Value(None),
        output_field=IntegerField(),
    )
    by_customer = {"customer_id": OuterRef("customer_id")}
    downgrades = GradeChange.objects.filter(
        **by_customer, direction=GradeChange.Direction.DOWN
    ).filter(Q(run_id=OuterRef("run_id")) | Q(run_id=OuterRef("next_run")))
    rows = (
        ScoreSnapshot.objects.filter(run_id__in=list(labels), action__in=WARNING_ACTIONS)
        .annotate(next_run=next_run)
        .annotate(
            followed_up_at=Subquery(
                FollowUp.objects.filter(
                    **by_customer, run_id=OuterRef("run_id"), kind=FollowUp.Kind.WARNING
                )
                .order_by("created_at")
                .values("created_at")[:1]
            ),
            next_action=Subquery(
                ScoreSnapshot.objects.filter(**by_customer, run_id=OuterRef("next_run")).values(
                    "action"
                )[:1]
            ),
            downgraded=Exists(downgrades.filter(status=GradeChange.Status.APPLIED)),
            appealed=Exists(
                downgrades.filter(Exists(Appeal.objects.filter(change_id=OuterRef("pk"))))
            ),
        )
        .order_by("run__as_of", "run_id")
        .values_list("run_id", "followed_up_at", "next_action", "downgraded", "appealed")
    )
    return [
        (
            labels[run_id],
            WarnedCustomer(
                issued_at=issued[run_id],
                followed_up_at=followed_up_at,
                next_action=next_action,
                downgraded=bool(downgraded),
                appealed=bool(appealed),
            ),
        )
        for run_id, followed_up_at, next_action, downgraded, appealed in rows.iterator(
            chunk_size=10_000
        )
    ]


SECTIONS = (
    # The last twelve months of appeals, this month included (appeals belong to no one run).
    ReportSection(
        key="appeals",
        build=lambda context: appeal_outcomes(since=months_back(timezone.localdate(), 11)),
        per_run=False,
    ),
    # The twelve runs' warnings up to the page's run: heavy at scale (a row per warning), so
    # cached with the run's tables; later follow-ups, runs and appeals show after the cache
    # time or "Recompute", like late orders (grading.services.report_cache).
    ReportSection(
        key="warning_follow_up",
        build=lambda context: warning_follow_up(until=context.run, context=context),
        after="appeals",
    ),
)
