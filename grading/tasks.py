"""Celery entry points of the grading app: thin, ids and ISO dates in, counts out."""

from __future__ import annotations

import datetime as dt

from celery import Task, shared_task
from django.db import OperationalError
from django.utils import timezone

from grading.services.integrity import grades_check_daily
from grading.services.notifications import run_notify
from grading.services.overrides import grade_overrides_expire
from grading.services.provisional import grade_provisional_upgrade_check
from grading.services.report_cache import reports_warm
from grading.services.runs import (
    grading_run_execute,
    run_finish,
    run_followups_enqueue,
    run_shard_execute,
)
from grading.services.schedule import grading_periodic_kickoff
from grading.services.snapshots import snapshots_retain


@shared_task(
    name="grading.run_grading",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=3 * 3600,
    time_limit=3 * 3600 + 300,
)
def run_grading_task(self: Task, as_of: str, scheme_id: int | None = None) -> dict[str, object]:
    """Grade the population at `as_of` (ISO date); safe to run twice.

    A redelivered task whose run had already finished sends the run's follow-ups again (both
    idempotent): the worker that finished it may have died between its commit and sending.
    """
    from grading.models import GradingRun, GradingScheme

    scheme = GradingScheme.objects.get(pk=scheme_id) if scheme_id else None
    run = grading_run_execute(
        as_of=dt.date.fromisoformat(as_of), scheme=scheme, triggered_by="celery"
    )
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    if redelivered and run.status == GradingRun.Status.SUCCEEDED:
        run_followups_enqueue(run.pk)
    return {"run": run.pk, "status": run.status, "scored": run.scored}


@shared_task(
    name="grading.periodic_grading",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=3 * 3600,
    time_limit=3 * 3600 + 300,
)
def periodic_grading_task() -> dict[str, object]:
    """Beat entry point: grade the period that just ended, if it has not been graded."""
    run = grading_periodic_kickoff(triggered_by="beat")
    return {"run": run.pk if run else None, "status": run.status if run else "skipped"}


@shared_task(
    name="grading.notify_run",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=600,
    time_limit=660,
)
def notify_run_task(run_id: int) -> int:
    """Notify account managers about run `run_id` (idempotent)."""
    return run_notify(run_id=run_id)


@shared_task(
    name="grading.reports_warm",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=1800,
    time_limit=1860,
)
def reports_warm_task(run_id: int) -> int:
    """Compute and cache run `run_id`'s report tables (idempotent)."""
    return reports_warm(run_id=run_id)


@shared_task(
    name="grading.grade_shard",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=3600,
    time_limit=3900,
)
def grade_shard_task(run_id: int, low: int, high: int) -> int:
    """Grade customers with ids in [low, high) of run `run_id` (idempotent)."""
    return run_shard_execute(run_id=run_id, low=low, high=high)


@shared_task(
    name="grading.finish_run",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=600,
    time_limit=660,
)
def finish_run_task(run_id: int) -> dict[str, object]:
    """Chord callback: record a sharded run's counts and mark it succeeded."""
    run = run_finish(run_id=run_id)
    return {"run": run.pk, "status": run.status, "scored": run.scored}


@shared_task(
    name="grading.expire_overrides",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=600,
    time_limit=660,
)
def expire_overrides_task() -> int:
    """End overrides and appeal locks whose expiry date has passed (daily; idempotent)."""
    return grade_overrides_expire(today=timezone.localdate())


@shared_task(
    name="grading.retain_snapshots",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=3600,
    time_limit=3660,
)
def retain_snapshots_task() -> dict[str, int]:
    """Archive or drop the snapshots of runs past the hot periods (monthly; idempotent)."""
    retained = snapshots_retain(by="beat")
    return {"runs": len(retained), "rows": sum(run.rows for run in retained)}


@shared_task(
    name="grading.check_grades",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=1800,
    time_limit=1860,
)
def check_grades_task() -> int:
    """Daily: fail runs whose process is gone, check grades and history, tell Operations."""
    return grades_check_daily()


@shared_task(
    name="grading.provisional_upgrade_check",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=120,
    time_limit=150,
)
def provisional_upgrade_check_task(customer_ids: list[int]) -> dict[str, object]:
    """Upgrade provisionally those of `customer_ids` whose orders earn it (idempotent)."""
    result = grade_provisional_upgrade_check(customer_ids=customer_ids)
    return {"scored": result.scored, "upgraded": result.upgraded, "run": result.run_id}
