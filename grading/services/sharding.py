"""What a sharded run is split by: how many shards, their customer-id ranges, and the
population's cut points computed once, range by range (`grading.scoring.population`).

A leaf: the run lifecycle that uses these (start, shard, finish) is `grading.services.runs`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from django.conf import settings

from customers.models import Customer
from grading.models import GradingRun
from grading.pipeline import extract
from grading.pipeline.rules import SchemeRules
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
    *, run: GradingRun, rules: SchemeRules, ranges: list[tuple[int, int]]
) -> PopulationCuts:
    """Return the population's cut points, reading one id range at a time."""
    parts = []
    for id_range in ranges:
        facts = extract.extract_facts(
            as_of=run.as_of, params=rules.params, id_range=id_range, profit=False
        )
        parts.append(facts.loc[:, list(CUT_FACT_COLUMNS)])
    return population_cuts(pd.concat(parts), params=rules.params)
