"""Celery entry points of the benefits app: thin, ISO dates in, counts out. Both are safe
to run twice (the ledger and the nudge events are keyed on unique constraints)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError

from benefits.services.growth import growth_tasks_award
from benefits.services.nudges import nudges_run


def _day(today: str | None) -> dt.date | None:
    return dt.date.fromisoformat(today) if today else None


@shared_task(
    name="benefits.award_growth_tasks",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=3600,
    time_limit=3900,
)
def award_growth_tasks_task(today: str | None = None) -> dict[str, object]:
    """Credit growth points for tasks completed up to `today` (ISO date; default: today)."""
    return {"credited": growth_tasks_award(today=_day(today))}


@shared_task(
    name="benefits.run_nudges",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=3600,
    time_limit=3900,
)
def run_nudges_task(today: str | None = None) -> dict[str, int]:
    """Run the enabled nudge rules for `today` (ISO date; default: today)."""
    return nudges_run(today=_day(today))
