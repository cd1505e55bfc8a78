"""customer_facts: windows, boundaries, sums, categories and gaps, computed by hand."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from grading.scoring import ScoringParams, customer_facts

AS_OF = dt.date(2025, 7, 1)
PARAMS = ScoringParams()  # window 365 days: [2024-07-01, 2025-07-01); halves split at 2025-01-01


def day(days_before: int) -> dt.date:
    return AS_OF - dt.timedelta(days=days_before)


def orders_frame(*rows: tuple) -> pd.DataFrame:
    """Rows of (customer_id, days before AS_OF or a date, net_cents[, category_id])."""
    dates = [row[1] if isinstance(row[1], dt.date) else day(row[1]) for row in rows]
    return pd.DataFrame(
        {
            "customer_id": np.array([row[0] for row in rows], dtype=np.int64),
            "order_date": pd.Series(pd.to_datetime(dates), dtype="datetime64[s]"),
            "net_cents": np.array([row[2] for row in rows], dtype=np.int64),
            "category_id": pd.array([row[3] if len(row) > 3 else None for row in rows], "Int64"),
        }
    )


def customers_frame(*ids: int, **columns: list) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": np.array(ids, dtype=np.int64), **columns})


def facts_of(orders: pd.DataFrame, customers: pd.DataFrame, **params: Any) -> pd.DataFrame:
    return customer_facts(orders, customers, as_of=AS_OF, params=ScoringParams(**params))


def test_customer_without_orders_has_empty_facts() -> None:
    facts = facts_of(orders_frame(), customers_frame(7))
    row = facts.loc[7]
    assert pd.isna(row["first_order_date"])
    assert pd.isna(row["last_order_date"])
    assert row["recency_days"] is pd.NA
    assert row["tenure_days"] is pd.NA
    assert (row["frequency"], row["monetary_cents"], row["categories"]) == (0, 0, 0)
    assert (row["first_half_cents"], row["second_half_cents"]) == (0, 0)
    assert math.isnan(row["gap_cv"])


def test_one_order_gives_recency_frequency_and_monetary() -> None:
    facts = facts_of(orders_frame((1, 10, 12_345, 3)), customers_frame(1))
    row = facts.loc[1]
    assert row["first_order_date"] == pd.Timestamp(day(10))
    assert row["last_order_date"] == pd.Timestamp(day(10))
    assert (row["recency_days"], row["tenure_days"]) == (10, 10)
    assert (row["frequency"], row["order_count_window"], row["monetary_cents"]) == (1, 1, 12_345)
    assert row["categories"] == 1


def test_order_exactly_at_as_of_is_ignored_everywhere() -> None:
    facts = facts_of(orders_frame((1, 0, 500), (1, -3, 700)), customers_frame(1))
    row = facts.loc[1]
    assert row["frequency"] == 0
    assert row["monetary_cents"] == 0
    assert pd.isna(row["last_order_date"])
    assert row["recency_days"] is pd.NA


def test_order_on_the_first_window_day_counts() -> None:
    facts = facts_of(orders_frame((1, 365, 500)), customers_frame(1))
    assert (facts.loc[1, "frequency"], facts.loc[1, "monetary_cents"]) == (1, 500)
    assert facts.loc[1, "first_half_cents"] == 500
    assert facts.loc[1, "recency_days"] == 365


def test_order_one_day_before_the_window_counts_only_for_dates() -> None:
    facts = facts_of(orders_frame((1, 366, 500), (1, 400, 900)), customers_frame(1))
    row = facts.loc[1]
    assert (row["frequency"], row["monetary_cents"], row["categories"]) == (0, 0, 0)
    assert row["recency_days"] == 366
    assert row["tenure_days"] == 400
    assert row["last_order_date"] == pd.Timestamp(day(366))


def test_window_days_is_a_parameter() -> None:
    orders = orders_frame((1, 30, 100), (1, 31, 200))
    facts = facts_of(orders, customers_frame(1), window_days=30)
    assert (facts.loc[1, "frequency"], facts.loc[1, "monetary_cents"]) == (1, 100)


def test_monetary_sums_net_cents_including_zero_amounts() -> None:
    # net_cents is already amount - refunded; a fully refunded order still counts in F.
    orders = orders_frame((1, 5, 10_000), (1, 6, 0), (1, 7, 2_550))
    facts = facts_of(orders, customers_frame(1))
    assert (facts.loc[1, "frequency"], facts.loc[1, "monetary_cents"]) == (3, 12_550)


def test_window_halves_split_at_as_of_minus_half_window() -> None:
    # W = 365, W // 2 = 182: mid = 2024-12-31; the second half is [mid, as_of).
    mid = AS_OF - dt.timedelta(days=182)
    assert mid == dt.date(2024, 12, 31)
    orders = orders_frame((1, 183, 100), (1, 182, 20), (1, 1, 3), (1, 365, 4000))
    facts = facts_of(orders, customers_frame(1))
    assert facts.loc[1, "first_half_cents"] == 4100
    assert facts.loc[1, "second_half_cents"] == 23


def test_categories_count_distinct_non_null_in_window_only() -> None:
    orders = orders_frame(
        (1, 5, 100, 7),
        (1, 6, 100, 7),
        (1, 7, 100, 9),
        (1, 8, 100, None),
        (1, 400, 100, 11),  # before the window
        (1, -1, 100, 12),  # after as_of
        (2, 5, 100, None),
    )
    facts = facts_of(orders, customers_frame(1, 2))
    assert facts["categories"].tolist() == [2, 0]


def test_category_only_rows_add_breadth_and_nothing_else() -> None:
    # Customer 1: one order (category 7) whose lines also hold categories 8 and 9, one line
    # category of an order before the window (not counted); customer 2: only a category row.
    orders = orders_frame(
        (1, 5, 1_000, 7), (1, 5, 0, 8), (1, 5, 0, 9), (1, 400, 0, 11), (2, 5, 0, 3)
    )
    orders["category_only"] = [False, True, True, True, True]
    facts = facts_of(orders, customers_frame(1, 2))
    assert facts["categories"].tolist() == [3, 1]
    assert facts["frequency"].tolist() == [1, 0]
    assert facts["monetary_cents"].tolist() == [1_000, 0]
    assert facts.loc[1, "first_order_date"] == pd.Timestamp(day(5))  # not day(400)
    assert facts["last_order_date"].isna().tolist() == [False, True]
    without = facts_of(orders[~orders["category_only"]], customers_frame(1, 2))
    columns = [c for c in facts.columns if c != "categories"]
    pd.testing.assert_frame_equal(facts[columns], without[columns])


def test_category_only_rows_must_carry_no_amount() -> None:
    orders = orders_frame((1, 5, 100, 7))
    orders["category_only"] = [True]
    with pytest.raises(ValueError, match="category_only rows must have net_cents 0"):
        facts_of(orders, customers_frame(1))


def test_categories_handle_huge_and_negative_ids() -> None:
    big = 2**61
    orders = orders_frame((1, 5, 1, big), (1, 6, 1, -big), (1, 7, 1, big), (2, 5, 1, 0))
    facts = facts_of(orders, customers_frame(1, 2))
    assert facts["categories"].tolist() == [2, 1]


@pytest.mark.parametrize(
    ("days_before", "expected"),
    [
        ((10, 20), math.nan),  # fewer than 3 window orders
        ((10, 10, 10), math.nan),  # all gaps 0: mean 0, cv undefined
        ((10, 20, 30), 0.0),  # gaps 10, 10
        ((10, 20, 40), 1 / 3),  # gaps 10, 20: mean 15, std 5
        ((10, 10, 40), 1.0),  # gaps 0, 30: mean 15, std 15
        ((1, 2, 3, 33), math.sqrt(1682) / 32),  # gaps 30, 1, 1: sqrt(3*902 - 32^2) / 32
        ((5, 400, 401, 402), math.nan),  # only one order inside the window
    ],
)
def test_gap_cv_uses_sorted_window_dates(days_before: tuple[int, ...], expected: float) -> None:
    orders = orders_frame(*[(1, d, 100) for d in days_before])
    cv = facts_of(orders, customers_frame(1))["gap_cv"].loc[1]
    if math.isnan(expected):
        assert math.isnan(cv)
    else:
        gaps = np.diff(np.sort(np.array(days_before)))
        assert cv == pytest.approx(expected, abs=1e-15)
        assert cv == pytest.approx(np.std(gaps) / np.mean(gaps), abs=1e-15)


def test_gap_cv_of_three_order_example() -> None:
    orders = orders_frame((1, dt.date(2025, 1, 2), 1), (1, dt.date(2025, 3, 3), 1))
    orders = pd.concat([orders, orders_frame((1, dt.date(2025, 6, 3), 1))])
    # gaps 60 and 92 days: mean 76, std 16.
    assert facts_of(orders, customers_frame(1)).loc[1, "gap_cv"] == 16 / 76


def test_rows_follow_customer_id_order_and_include_every_customer() -> None:
    orders = orders_frame((30, 5, 1), (10, 5, 2))
    facts = facts_of(orders, customers_frame(30, 20, 10))
    assert facts.index.tolist() == [10, 20, 30]
    assert facts.index.name == "customer_id"
    assert facts["monetary_cents"].tolist() == [2, 0, 1]


def test_orders_of_other_customers_are_ignored() -> None:
    orders = orders_frame((1, 5, 100), (2, 5, 1_000), (-5, 5, 7), (10**15, 5, 9))
    facts = facts_of(orders, customers_frame(1))
    assert facts.index.tolist() == [1]
    assert facts.loc[1, "monetary_cents"] == 100


def test_sparse_ids_give_the_same_facts_as_dense_ids() -> None:
    # Far-apart ids take the hashing path instead of the lookup table.
    rows = [(1, 5, 100, 1), (1, 50, 30, 2), (2, 9, 7), (3, 300, 1)]
    dense = facts_of(orders_frame(*rows), customers_frame(1, 2, 3))
    shift = {1: 1, 2: 10**12, 3: 2 * 10**12}
    sparse_rows = [(shift[r[0]], *r[1:]) for r in rows]
    sparse = facts_of(orders_frame(*sparse_rows), customers_frame(*shift.values()))
    pd.testing.assert_frame_equal(dense.reset_index(drop=True), sparse.reset_index(drop=True))


def test_engagement_columns_are_copied_and_missing_ones_are_zero() -> None:
    customers = customers_frame(2, 1, industry=["games", None], referrals=[4, 1])
    facts = facts_of(orders_frame(), customers)
    assert facts["referrals"].tolist() == [1, 4]
    assert facts["complaints"].tolist() == [0, 0]
    assert facts["complaints"].dtype == np.int64
    assert facts.loc[2, "industry"] == "games"
    assert facts["industry"].isna().loc[1]


def test_column_dtypes() -> None:
    facts = facts_of(orders_frame((1, 5, 100, 1)), customers_frame(1, 2))
    assert str(facts["first_order_date"].dtype) == "datetime64[s]"
    assert str(facts["recency_days"].dtype) == "Int64"
    assert str(facts["tenure_days"].dtype) == "Int64"
    for name in ("frequency", "monetary_cents", "categories", "first_half_cents"):
        assert facts[name].dtype == np.int64, name
    assert facts["gap_cv"].dtype == np.float64


def test_order_dates_may_come_as_date_objects_or_other_units() -> None:
    orders = orders_frame((1, 5, 100), (1, 40, 50))
    as_objects = orders.assign(order_date=[day(5), day(40)])
    as_ns = orders.assign(order_date=orders["order_date"].astype("datetime64[ns]"))
    expected = facts_of(orders, customers_frame(1))
    pd.testing.assert_frame_equal(facts_of(as_objects, customers_frame(1)), expected)
    pd.testing.assert_frame_equal(facts_of(as_ns, customers_frame(1)), expected)


def test_dates_before_1970_work() -> None:
    as_of = dt.date(1960, 1, 10)
    orders = orders_frame((1, dt.date(1960, 1, 1), 100), (1, dt.date(1959, 12, 1), 5))
    facts = customer_facts(orders, customers_frame(1), as_of=as_of, params=PARAMS)
    assert facts.loc[1, "recency_days"] == 9
    assert facts.loc[1, "tenure_days"] == 40
    assert facts.loc[1, "first_order_date"] == pd.Timestamp("1959-12-01")
