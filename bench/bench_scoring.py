"""Time the pure scoring package on synthetic frames (a script, not a test).

    .venv/bin/python bench/bench_scoring.py --customers 100000

Generates N customers and 10 N orders (about two years of history around `as_of`, skewed
towards a few heavy buyers, 10% uncategorised, a few orders on or after `as_of`), then prints
the wall time of each scoring step and of one end-to-end `score_population` call.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grading.scoring import (
    GradeRule,
    ScoringParams,
    assign_grades,
    composite_value,
    cooperation_value,
    customer_facts,
    historical_value,
    lifecycle_stage,
    potential_value,
    rfm_label,
    rfm_scores,
    rfm_segment,
    score_population,
    value_pyramid,
)

AS_OF = dt.date(2026, 10, 1)
LADDER = (
    GradeRule("standard", 1, 0.0),
    GradeRule("silver", 2, 35.0),
    GradeRule("gold", 3, 55.0, min_frequency=4),
    GradeRule("platinum", 4, 75.0, min_frequency=8, min_monetary_cents=2_000_000),
)


def synthetic_frames(customers: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (orders, customers) frames with `customers` rows and 10x as many orders."""
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(np.arange(1, customers * 3 // 2 + 2), customers, replace=False))
    n_orders = customers * 10
    # Skewed buyers: squaring a uniform concentrates orders on the low positions.
    buyer = (rng.random(n_orders) ** 2 * customers).astype(np.int64)
    as_of = np.datetime64(AS_OF, "D")
    order_day = as_of - rng.integers(-5, 730, n_orders).astype("timedelta64[D]")
    category = rng.integers(1, 200, n_orders)
    orders = pd.DataFrame(
        {
            "customer_id": ids[buyer],
            "order_date": order_day.astype("datetime64[s]"),
            "net_cents": np.round(rng.lognormal(9.0, 1.2, n_orders)).astype(np.int64),
            "category_id": pd.arrays.IntegerArray(category, rng.random(n_orders) < 0.1),
        }
    )
    industries = np.array(["retail", "wholesale", "games", "agency", ""], dtype=object)
    invitations = rng.integers(0, 6, customers)
    rated = rng.integers(0, 20, customers)
    people = pd.DataFrame(
        {
            "customer_id": rng.permutation(ids),
            "industry": pd.array(industries[rng.integers(0, 5, customers)], dtype="str"),
            "campaign_invitations": invitations,
            "campaign_joins": rng.integers(0, 7, customers),
            "referrals": rng.integers(0, 5, customers),
            "complaints": rng.integers(0, 3, customers),
            "reviews": rng.integers(0, 8, customers),
            "on_time_orders": (rated * rng.random(customers)).astype(np.int64),
            "rated_orders": rated,
            "growth_points": rng.integers(0, 300, customers),
        }
    )
    return orders, people


def timed[T](label: str, func: Callable[[], T]) -> T:
    """Run `func`, print its wall time under `label`, and return its result."""
    start = time.perf_counter()
    result = func()
    sys.stdout.write(f"{label:<22}{time.perf_counter() - start:8.3f} s\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--within-pyramid", action="store_true")
    args = parser.parse_args()
    params = ScoringParams(
        industry_priors={"wholesale": 0.8, "games": 0.6, "retail": 0.4},
        rfm_within_pyramid=args.within_pyramid,
    )

    start = time.perf_counter()
    orders, people = synthetic_frames(args.customers)
    sys.stdout.write(
        f"{len(people):,} customers, {len(orders):,} orders "
        f"(generated in {time.perf_counter() - start:.1f} s), as_of {AS_OF}\n"
    )

    facts = timed(
        "customer_facts", lambda: customer_facts(orders, people, as_of=AS_OF, params=params)
    )
    pyramid = timed("value_pyramid", lambda: value_pyramid(facts, params=params))
    scores = timed("rfm_scores", lambda: rfm_scores(facts, params=params, pyramid=pyramid))
    timed("rfm_segment", lambda: rfm_segment(scores))
    timed("rfm_label", lambda: rfm_label(scores, facts))
    timed("lifecycle_stage", lambda: lifecycle_stage(facts, params=params))
    historical = timed("historical_value", lambda: historical_value(scores, params=params))
    potential = timed("potential_value", lambda: potential_value(facts, params=params))
    cooperation = timed("cooperation_value", lambda: cooperation_value(facts, params=params))
    values = pd.DataFrame(
        {
            "historical": historical,
            "potential": potential["potential"],
            "cooperation": cooperation["cooperation"],
        }
    )
    values["composite"] = timed("composite_value", lambda: composite_value(values, params=params))
    graded = pd.concat([facts[["frequency", "monetary_cents"]], values], axis=1)
    timed("assign_grades", lambda: assign_grades(graded, LADDER))

    result = timed(
        "score_population",
        lambda: score_population(orders, people, as_of=AS_OF, params=params, ladder=LADDER),
    )
    sys.stdout.write("\ngrade counts: " + result["grade"].value_counts().to_json() + "\n")


if __name__ == "__main__":
    main()
