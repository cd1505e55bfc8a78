"""Population-wide cut points, so a sharded run scores exactly like a single-process one.

Only four results depend on the whole population rather than on the customer alone: the
R/F/M quintile scores, the value-pyramid layer (and the per-layer quintiles of the combined
model) and the category-breadth percentile. Each is a monotone step function of one fact,
so it is captured exactly by a few cut points derived from the full population:

- for F and M, t_k = the smallest value among members scoring >= k (k = 2..5), and a value
  scores 1 + #{k : value >= t_k};
- for R (smaller is better), t_k = the largest recency among members scoring >= k, and a
  recency scores 1 + #{k : recency <= t_k};
- for the pyramid, p_j = the smallest monetary among members in layer j or better;
- breadth is a table from each distinct category count in the population to its share.

Applied to any member of the population these reproduce its scores exactly (ties included,
because tied values always share a score). Phase one of a sharded run computes the cuts once
(`population_cuts`), phase two scores customer-id ranges with them (`score_population(...,
cuts=...)`). The cuts are plain JSON (`to_json` / `from_json`) so a task can carry them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from grading.scoring import inputs as col
from grading.scoring.compute import (
    potential_value,
    rfm_scores,
    value_pyramid,
)
from grading.scoring.rules import PYRAMID_LAYERS, ScoringParams

#: Facts phase one needs per customer (a small frame even for millions of customers).
CUT_FACT_COLUMNS = ("frequency", "recency_days", "monetary_cents", "categories")

Cuts = tuple[int | None, int | None, int | None, int | None]


@dataclass(frozen=True, slots=True)
class RfmCuts:
    """Cut points for scores 2..5 of one population (None: no member reaches that score)."""

    r: Cuts
    f: Cuts
    m: Cuts


@dataclass(frozen=True, slots=True)
class PopulationCuts:
    """Everything population-dependent in scoring, as exact cut points and a small table."""

    population: int
    rfm: RfmCuts
    pyramid: tuple[int | None, int | None, int | None]
    breadth: tuple[tuple[int, float], ...]
    rfm_by_layer: Mapping[str, RfmCuts] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (ints, floats, None)."""

        def rfm(c: RfmCuts) -> dict[str, Any]:
            return {"r": list(c.r), "f": list(c.f), "m": list(c.m)}

        return {
            "population": self.population,
            "rfm": rfm(self.rfm),
            "pyramid": list(self.pyramid),
            "breadth": [[k, v] for k, v in self.breadth],
            "rfm_by_layer": {layer: rfm(c) for layer, c in self.rfm_by_layer.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PopulationCuts:
        """Rebuild the cuts from `to_json` output."""

        def rfm(d: Mapping[str, Any]) -> RfmCuts:
            return RfmCuts(r=_four(d["r"]), f=_four(d["f"]), m=_four(d["m"]))

        return cls(
            population=int(data["population"]),
            rfm=rfm(data["rfm"]),
            pyramid=_three(data["pyramid"]),
            breadth=tuple((int(k), float(v)) for k, v in data["breadth"]),
            rfm_by_layer={layer: rfm(d) for layer, d in data.get("rfm_by_layer", {}).items()},
        )


def _four(values: Sequence[int | None]) -> Cuts:
    """Return exactly four cut points (ValueError otherwise)."""
    first, second, third, fourth = values
    return (first, second, third, fourth)


def _three(values: Sequence[int | None]) -> tuple[int | None, int | None, int | None]:
    """Return exactly three cut points (ValueError otherwise)."""
    first, second, third = values
    return (first, second, third)


def _lower_cuts(values: np.ndarray, scores: np.ndarray) -> Cuts:
    """Return, for k = 2..5, the smallest value whose score is >= k (None if none)."""
    return _four(
        [int(values[scores >= k].min()) if (scores >= k).any() else None for k in range(2, 6)]
    )


def _upper_cuts(values: np.ndarray, scores: np.ndarray) -> Cuts:
    """Return, for k = 2..5, the largest value whose score is >= k (None if none)."""
    return _four(
        [int(values[scores >= k].max()) if (scores >= k).any() else None for k in range(2, 6)]
    )


def _rfm_cuts(facts: pd.DataFrame, scores: pd.DataFrame, members: np.ndarray) -> RfmCuts:
    recency = facts["recency_days"].to_numpy(dtype=np.int64, na_value=0)[members]
    frequency = facts["frequency"].to_numpy(dtype=np.int64)[members]
    monetary = facts["monetary_cents"].to_numpy(dtype=np.int64)[members]
    return RfmCuts(
        r=_upper_cuts(recency, scores["r_score"].to_numpy()[members]),
        f=_lower_cuts(frequency, scores["f_score"].to_numpy()[members]),
        m=_lower_cuts(monetary, scores["m_score"].to_numpy()[members]),
    )


def population_cuts(facts: pd.DataFrame, *, params: ScoringParams) -> PopulationCuts:
    """Return the cut points of the whole population described by `facts`.

    `facts` needs the `CUT_FACT_COLUMNS` of every graded customer (other columns are
    ignored). Only the quintile method depends on the population; with fixed thresholds the
    R/F/M cuts are still derived (and reproduce the thresholds' scores).
    """
    if facts.index.has_duplicates:
        raise ValueError("facts has duplicate customer ids")
    pyramid = value_pyramid(facts, params=params)
    scores = rfm_scores(facts, params=params, pyramid=pyramid)
    breadth = potential_value(_with_defaults(facts), params=params)["breadth"]
    return _cuts(facts, scores, pyramid, breadth, params=params)


def scored_cuts(scored: pd.DataFrame, *, params: ScoringParams) -> PopulationCuts:
    """Return the cut points of a population already scored whole (`score_population`).

    Read from the frame's own r/f/m scores, pyramid and breadth, so it costs a few vectorised
    minima and maxima instead of a second scoring: what a single-process run keeps on its
    row for the provisional upgrades between runs. Identical to `population_cuts` of the
    same facts (tests/grading/scoring/test_population.py).
    """
    if scored.index.has_duplicates:
        raise ValueError("scored has duplicate customer ids")
    return _cuts(
        scored,
        scored.loc[:, ["r_score", "f_score", "m_score"]],
        scored["pyramid"],
        scored["breadth"],
        params=params,
    )


def _cuts(
    facts: pd.DataFrame,
    scores: pd.DataFrame,
    pyramid: pd.Series,
    breadth: pd.Series,
    *,
    params: ScoringParams,
) -> PopulationCuts:
    frequency = facts["frequency"].to_numpy(dtype=np.int64)
    active = frequency >= 1
    members = np.flatnonzero(active)

    layer_codes = pd.Categorical(pyramid, categories=list(PYRAMID_LAYERS)).codes
    monetary = facts["monetary_cents"].to_numpy(dtype=np.int64)
    pyramid_cuts = _three(
        [
            int(monetary[active & (layer_codes <= j)].min())
            if (active & (layer_codes <= j)).any()
            else None
            for j in range(len(PYRAMID_LAYERS) - 1)
        ]
    )

    by_layer: dict[str, RfmCuts] = {}
    if params.rfm_within_pyramid and params.rfm_method == "quintile":
        for j, layer in enumerate(PYRAMID_LAYERS):
            in_layer = np.flatnonzero(active & (layer_codes == j))
            by_layer[layer] = _rfm_cuts(facts, scores, in_layer)

    categories = facts["categories"].to_numpy(dtype=np.int64)
    table = (
        pd.DataFrame({"k": categories[members], "v": breadth.to_numpy()[members]})
        .drop_duplicates("k")
        .sort_values("k")
    )
    return PopulationCuts(
        population=int(members.size),
        rfm=_rfm_cuts(facts, scores, members),
        pyramid=pyramid_cuts,
        breadth=tuple(zip(table["k"].tolist(), table["v"].tolist(), strict=True)),
        rfm_by_layer=by_layer,
    )


def _with_defaults(facts: pd.DataFrame) -> pd.DataFrame:
    """Add the columns potential_value reads but breadth does not depend on."""
    frame = facts.copy()
    for name in ("first_half_cents", "second_half_cents"):
        if name not in frame:
            frame[name] = 0
    if "gap_cv" not in frame:
        frame["gap_cv"] = np.nan
    if col.INDUSTRY not in frame:
        frame[col.INDUSTRY] = pd.Series(pd.NA, index=frame.index, dtype="str")
    return frame


def _count_met(values: np.ndarray, cuts: Cuts, *, at_most: bool) -> np.ndarray:
    score = np.ones(values.size, dtype=np.int64)
    for cut in cuts:
        if cut is not None:
            score += (values <= cut) if at_most else (values >= cut)
    return score


def apply_cuts(
    facts: pd.DataFrame, cuts: PopulationCuts, *, params: ScoringParams
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Return (r/f/m scores, pyramid layer, breadth) of `facts` under population `cuts`."""
    frequency = facts["frequency"].to_numpy(dtype=np.int64)
    recency = facts["recency_days"].to_numpy(dtype=np.int64, na_value=0)
    monetary = facts["monetary_cents"].to_numpy(dtype=np.int64)
    categories = facts["categories"].to_numpy(dtype=np.int64)
    active = frequency >= 1

    layer = np.full(frequency.size, len(PYRAMID_LAYERS) - 1, dtype=np.int64)
    for j in reversed(range(len(PYRAMID_LAYERS) - 1)):
        cut = cuts.pyramid[j]
        if cut is not None:
            layer[active & (monetary >= cut)] = j
    pyramid = pd.Series(
        pd.Categorical.from_codes(layer.astype(np.int8), categories=pd.Index(PYRAMID_LAYERS)),
        index=facts.index,
        name="pyramid",
    )

    r_score = np.ones(frequency.size, dtype=np.int64)
    f_score = np.ones(frequency.size, dtype=np.int64)
    m_score = np.ones(frequency.size, dtype=np.int64)
    if params.rfm_method == "thresholds":
        groups = []  # fixed thresholds do not depend on the population
    elif params.rfm_within_pyramid:
        groups = [
            (active & (layer == j), cuts.rfm_by_layer[name])
            for j, name in enumerate(PYRAMID_LAYERS)
        ]
    else:
        groups = [(active, cuts.rfm)]
    for mask, rfm in groups:
        r_score[mask] = _count_met(recency[mask], rfm.r, at_most=True)
        f_score[mask] = _count_met(frequency[mask], rfm.f, at_most=False)
        m_score[mask] = _count_met(monetary[mask], rfm.m, at_most=False)
    scores = pd.DataFrame(
        {"r_score": r_score, "f_score": f_score, "m_score": m_score}, index=facts.index
    )
    if params.rfm_method == "thresholds":
        scores = rfm_scores(facts, params=params)

    table = dict(cuts.breadth)
    breadth = np.zeros(frequency.size, dtype=np.float64)
    if active.any():
        lookup = pd.Series(table, dtype="float64")
        values = lookup.reindex(categories[active]).to_numpy()
        if np.isnan(values).any():
            raise ValueError("a customer's category count is not in the population's table")
        breadth[active] = values
    return scores, pyramid, pd.Series(breadth, index=facts.index, name="breadth")


def breadth_completed(cuts: PopulationCuts, counts: Sequence[int]) -> PopulationCuts:
    """Return `cuts` whose breadth table also covers the category `counts` it lacks.

    A customer scored alone against a finished run's cuts may have a category count no
    member of that population had (`apply_cuts` refuses it). Such a count takes the share of
    the largest count below it in the table (0.0 below the smallest): breadth is monotone in
    the count, so this never credits more breadth than the population would. Counts already
    in the table keep their exact share.
    """
    table = dict(cuts.breadth)
    known = sorted(table)
    added = False
    for count in sorted({int(c) for c in counts}):
        if count in table:
            continue
        below = [k for k in known if k < count]
        table[count] = table[below[-1]] if below else 0.0
        added = True
    if not added:
        return cuts
    return PopulationCuts(
        population=cuts.population,
        rfm=cuts.rfm,
        pyramid=cuts.pyramid,
        breadth=tuple(sorted(table.items())),
        rfm_by_layer=cuts.rfm_by_layer,
    )
