"""Sharded grading runs: population cut points once, then customer-id ranges in parallel.

Phase one (`run_shards_start`, in the process that claimed the run) reads the population
range by range, keeps four facts per customer and derives the exact cut points
(`grading.scoring.population`). Phase two is one Celery task per customer-id range
(`run_shard_execute`), each scoring its range with those fixed cut points and writing it in
its own transaction; a chord callback (`run_finish`) records the counts and marks the run
succeeded. Every write is idempotent, so a redelivered or re-run shard converges.

More machines means more Celery workers consuming the shard tasks; nothing else changes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from grading import engine
from grading.models import GradingRun, ScoreSnapshot
from grading.scoring import customer_facts
from grading.scoring.population import CUT_FACT_COLUMNS, PopulationCuts, population_cuts


def shard_count_for_population() -> int:
    """Return how many shards the active population needs (1 below the threshold)."""
    threshold = settings.GRADING_SHARD_THRESHOLD
    active = Customer.objects.filter(is_active=True).count()
    if active <= threshold:
        return 1
    return math.ceil(active / settings.GRADING_SHARD_SIZE)


def shard_ranges(*, shards: int) -> list[tuple[int, int]]:
    """Split active customer ids into `shards` half-open id ranges of near-equal size."""
    ids = np.fromiter(
        Customer.objects.filter(is_active=True).order_by("id").values_list("id", flat=True),
        dtype=np.int64,
    )
    if ids.size == 0:
        return [(0, 1)]
    shards = max(1, min(shards, ids.size))
    starts = [int(ids[(i * ids.size) // shards]) for i in range(shards)]
    ends = [*starts[1:], int(ids[-1]) + 1]
    return list(zip(starts, ends, strict=True))


def run_cuts_compute(
    *, run: GradingRun, rules: engine.SchemeRules, ranges: list[tuple[int, int]]
) -> PopulationCuts:
    """Return the population's cut points, reading one id range at a time."""
    parts = []
    for id_range in ranges:
        orders, customers = engine.extract_period(
            as_of=run.as_of, window_days=rules.params.window_days, id_range=id_range
        )
        facts = customer_facts(
            orders.drop(columns=["on_time"]), customers, as_of=run.as_of, params=rules.params
        )
        parts.append(facts.loc[:, list(CUT_FACT_COLUMNS)])
    return population_cuts(pd.concat(parts), params=rules.params)


def run_shards_start(*, run: GradingRun, shards: int) -> GradingRun:
    """Phase one: compute the cut points, then enqueue one task per range (on commit)."""
    from celery import chord

    from grading.tasks import finish_run_task, grade_shard_task

    rules = engine.scheme_rules(run.scheme)
    ranges = shard_ranges(shards=shards)
    cuts = run_cuts_compute(run=run, rules=rules, ranges=ranges)
    with transaction.atomic():
        run.status = GradingRun.Status.RUNNING
        run.started_at = timezone.now()
        run.shards = len(ranges)
        run.population_cuts = cuts.to_json()
        run.error = ""
        run.save(update_fields=["status", "started_at", "shards", "population_cuts", "error"])
        header = [grade_shard_task.s(run.pk, low, high) for low, high in ranges]
        transaction.on_commit(lambda: chord(header)(finish_run_task.si(run.pk)))
    return run


def run_shard_execute(*, run_id: int, low: int, high: int) -> int:
    """Phase two: score, decide and write customers with ids in [low, high); return rows."""
    run = GradingRun.objects.select_related("scheme").get(pk=run_id)
    rules = engine.scheme_rules(run.scheme)
    cuts = PopulationCuts.from_json(run.population_cuts)
    scores = engine.score_period(rules=rules, as_of=run.as_of, id_range=(low, high), cuts=cuts)
    done = set(
        ScoreSnapshot.objects.filter(
            run=run, customer_id__gte=low, customer_id__lt=high
        ).values_list("customer_id", flat=True)
    )
    if done:
        scores = scores[~scores.index.isin(list(done))]
    state = engine.extract_state(as_of=run.as_of, customer_ids=scores.index)
    decisions = engine.decide(scores, state, rules=rules, as_of=run.as_of)
    with transaction.atomic():
        engine.write_results(
            run=run, scores=scores, decisions=decisions, rules=rules, now=timezone.now()
        )
    return len(scores)


def run_finish(*, run_id: int) -> GradingRun:
    """Record a sharded run's counts and mark it succeeded (idempotent).

    Called again for a run it already finished (a redelivered callback), it enqueues the
    follow-ups once more: they are idempotent, and the first call may have died between its
    commit and their publish.
    """
    from grading.services.runs import run_counts_record, run_followups_enqueue

    with transaction.atomic():
        run = GradingRun.objects.select_for_update().get(pk=run_id)
        if run.status == GradingRun.Status.SUCCEEDED:
            transaction.on_commit(lambda: run_followups_enqueue(run_id))
            return run
        run_counts_record(run)
        run.status = GradingRun.Status.SUCCEEDED
        run.finished_at = timezone.now()
        if run.started_at:
            run.duration_seconds = (run.finished_at - run.started_at).total_seconds()
        run.save(update_fields=["status", "finished_at", "duration_seconds"])
        transaction.on_commit(lambda: run_followups_enqueue(run_id))
    return run
