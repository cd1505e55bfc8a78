"""Celery entry points of the grading app: thin, ids and ISO dates in, counts out."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from grading.services.notifications import run_notify
from grading.services.runs import grading_run_execute
from grading.services.schedule import grading_periodic_kickoff


@shared_task(name="grading.run_grading", soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300)
def run_grading_task(as_of: str, scheme_id: int | None = None) -> dict[str, object]:
    """Grade the population at `as_of` (ISO date); safe to run twice."""
    from grading.models import GradingScheme

    scheme = GradingScheme.objects.get(pk=scheme_id) if scheme_id else None
    run = grading_run_execute(
        as_of=dt.date.fromisoformat(as_of), scheme=scheme, triggered_by="celery"
    )
    return {"run": run.pk, "status": run.status, "scored": run.scored}


@shared_task(name="grading.periodic_grading", soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300)
def periodic_grading_task() -> dict[str, object]:
    """Beat entry point: grade the period that just ended, if it has not been graded."""
    run = grading_periodic_kickoff(triggered_by="beat")
    return {"run": run.pk if run else None, "status": run.status if run else "skipped"}


@shared_task(name="grading.notify_run", soft_time_limit=600, time_limit=660)
def notify_run_task(run_id: int) -> int:
    """Notify account managers about run `run_id` (idempotent)."""
    return run_notify(run_id=run_id)
