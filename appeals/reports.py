"""The appeals app's table on the grading reports page: volume, outcome and turnaround.

Registered in `AppealsConfig.ready()` (see `grading.reports.ReportSection`): appeals builds on
grading, so grading's report page never imports this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, DateField, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from appeals.models import Appeal
from appeals.selectors import appeal_review_overdue_before
from common.dates import local_midnight
from grading.reports import ReportSection, Table, months_back, percent


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


#: The last twelve months of appeals, this month included (appeals belong to no one run).
SECTIONS = (
    ReportSection(
        key="appeals",
        build=lambda context: appeal_outcomes(since=months_back(timezone.localdate(), 11)),
        per_run=False,
    ),
)
