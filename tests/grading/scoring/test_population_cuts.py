"""Sharded scoring: any split of the population scored with the population's cut points
gives exactly the scores of the whole (docs/grading.md, "Sharded runs")."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading.scoring import customer_facts, score_population
from grading.scoring.population import (
    PopulationCuts,
    breadth_completed,
    population_cuts,
    scored_cuts,
)
from tests.grading.scoring.test_properties import (
    AS_OF,
    FAST,
    LADDER,
    PARAM_CHOICES,
    frames,
    populations,
)


def _score_in_shards(orders, customers, params, boundaries):
    facts = customer_facts(orders, customers, as_of=AS_OF, params=params)
    cuts = PopulationCuts.from_json(population_cuts(facts, params=params).to_json())
    ids = customers["customer_id"]
    parts = []
    edges = [ids.min() - 1, *sorted(boundaries), ids.max()]
    for low, high in itertools.pairwise(edges):
        shard = customers[(ids > low) & (ids <= high)]
        shard_orders = orders[orders["customer_id"].isin(shard["customer_id"])]
        parts.append(
            score_population(
                shard_orders, shard, as_of=AS_OF, params=params, ladder=LADDER, cuts=cuts
            )
        )
    return pd.concat(parts).sort_index()


@FAST
@given(
    population=populations(),
    params=st.sampled_from(PARAM_CHOICES),
    data=st.data(),
)
def test_any_split_scores_exactly_like_the_whole(population, params, data):
    orders, customers = frames(*population)
    if customers.empty:
        return
    ids = sorted(customers["customer_id"].tolist())
    boundaries = data.draw(st.lists(st.sampled_from(ids), max_size=4, unique=True))

    whole = score_population(orders, customers, as_of=AS_OF, params=params, ladder=LADDER)
    sharded = _score_in_shards(orders, customers, params, boundaries)

    pd.testing.assert_frame_equal(sharded, whole, check_categorical=False)


def test_cuts_of_a_hand_made_population():
    # F = 1, 2, 3, 4, 5 for five buyers: quintile f scores 1..5, so f cuts are 2, 3, 4, 5.
    facts = pd.DataFrame(
        {
            "frequency": [1, 2, 3, 4, 5, 0],
            "recency_days": pd.array([50, 40, 30, 20, 10, None], dtype="Int64"),
            "monetary_cents": [100, 200, 300, 400, 500, 0],
            "categories": [1, 1, 2, 2, 3, 0],
        },
        index=pd.Index([1, 2, 3, 4, 5, 6], name="customer_id"),
    )

    cuts = population_cuts(facts, params=PARAM_CHOICES[0])

    assert cuts.population == 5
    assert cuts.rfm.f == (2, 3, 4, 5)
    assert cuts.rfm.m == (200, 300, 400, 500)
    assert cuts.rfm.r == (40, 30, 20, 10)  # smaller recency is better
    # Breadth: categories 1,1,2,2,3 -> average ranks 1.5, 3.5, 5 over n = 5.
    assert cuts.breadth == ((1, 0.3), (2, 0.7), (3, 1.0))
    # Pyramid: top 1% / 5% / 20% of five -> only rank 1 (share 0.2) is medium.
    assert cuts.pyramid == (None, None, 500)


def test_duplicate_ids_are_refused():
    facts = pd.DataFrame(
        {
            "frequency": [1, 1],
            "recency_days": [1, 2],
            "monetary_cents": [1, 2],
            "categories": [0, 0],
        },
        index=pd.Index([1, 1], name="customer_id"),
    )
    with pytest.raises(ValueError, match="duplicate"):
        population_cuts(facts, params=PARAM_CHOICES[0])


@FAST
@given(population=populations(), params=st.sampled_from(PARAM_CHOICES))
def test_the_cuts_read_off_a_whole_run_are_those_of_its_facts(population, params):
    # A single-process run keeps `scored_cuts` of its scored frame (for provisional
    # upgrades): the same cut points as computing them from the facts.
    orders, customers = frames(*population)
    if customers.empty:
        return
    whole = score_population(orders, customers, as_of=AS_OF, params=params, ladder=LADDER)
    facts = customer_facts(orders, customers, as_of=AS_OF, params=params)

    assert scored_cuts(whole, params=params) == population_cuts(facts, params=params)


def test_a_category_count_the_population_lacks_takes_the_share_below_it():
    facts = pd.DataFrame(
        {
            "frequency": [1, 1, 1],
            "recency_days": pd.array([5, 5, 5], dtype="Int64"),
            "monetary_cents": [100, 100, 100],
            "categories": [1, 3, 3],
        },
        index=pd.Index([1, 2, 3], name="customer_id"),
    )
    cuts = population_cuts(facts, params=PARAM_CHOICES[0])
    # Average ranks: 1 -> 1 / 3; 3 -> 2.5 / 3.
    assert cuts.breadth == ((1, 1 / 3), (3, 2.5 / 3))

    completed = breadth_completed(cuts, [0, 1, 2, 5])

    assert completed.breadth == ((0, 0.0), (1, 1 / 3), (2, 1 / 3), (3, 2.5 / 3), (5, 2.5 / 3))
    assert breadth_completed(cuts, [1, 3]) is cuts
