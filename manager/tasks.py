"""Celery entry points of the manager app (the task kept its name from `appeals`)."""

from __future__ import annotations

from celery import shared_task

from manager.needs import queue_needs_check_daily, queue_needs_refresh


@shared_task(
    name="appeals.queue_needs_rebuild",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=1800,
    time_limit=1860,
)
def queue_needs_rebuild_task() -> int:
    """Recompute every row of the manager queue's needs table (idempotent); return rows."""
    return queue_needs_refresh()


@shared_task(
    name="manager.check_queue_needs",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=1800,
    time_limit=1860,
)
def check_queue_needs_task() -> int:
    """Nightly: compare the queue's needs table with a recomputation, repair, tell Operations."""
    return queue_needs_check_daily()
