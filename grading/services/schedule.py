"""The periodic grading job: which period a beat tick grades.

Convention (shared with `grading.policy.cadences_due`): a run's `as_of` is the first day
after the graded period, so the run for March is dated April 1. Every month is graded;
quarterly grades are only evaluated for downgrades in runs dated Jan/Apr/Jul/Oct 1.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from grading.models import GradingRun
from grading.services.runs import grading_run_execute


def period_as_of(today: dt.date) -> dt.date:
    """Return the as_of of the latest period that has fully ended by `today`."""
    return today.replace(day=1)


def grading_periodic_kickoff(
    *, triggered_by: str = "beat", today: dt.date | None = None
) -> GradingRun:
    """Grade the period that ended most recently; a no-op if it was graded already."""
    as_of = period_as_of(today or timezone.localdate())
    return grading_run_execute(as_of=as_of, triggered_by=triggered_by)
