"""Input validators (inputs.py) and parameter objects (rules.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pytest

from grading.scoring import (
    CUSTOMER_DTYPES,
    ORDER_DTYPES,
    RFM_LABEL_KEYS,
    RFM_LABELS,
    GradeRule,
    ScoringParams,
    customer_table,
    empty_customers,
    empty_orders,
    order_arrays,
)
from grading.scoring.inputs import date_to_day


def orders(**overrides: Any) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "customer_id": np.array([1, 2], dtype=np.int64),
            "order_date": pd.to_datetime(["2025-01-01", "2025-02-01"]).astype("datetime64[s]"),
            "net_cents": np.array([100, 0], dtype=np.int64),
            "category_id": pd.array([5, None], dtype="Int64"),
        }
    )
    for name, values in overrides.items():
        frame[name] = values
    return frame


# --------------------------------------------------------------------------- orders


def test_order_arrays_convert_dates_to_epoch_days() -> None:
    arrays = order_arrays(orders())
    assert arrays.day.tolist() == [date_to_day(dt.date(2025, 1, 1)), 20_120]
    assert arrays.customer_id.dtype == np.int64
    assert arrays.has_category.tolist() == [True, False]
    assert arrays.category_id.tolist() == [5, 0]


@pytest.mark.parametrize("column", ["customer_id", "order_date", "net_cents", "category_id"])
def test_missing_order_column_is_refused(column: str) -> None:
    with pytest.raises(ValueError, match=column):
        order_arrays(orders().drop(columns=column))


def test_negative_net_cents_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        order_arrays(orders(net_cents=[100, -1]))


def test_missing_net_cents_is_refused() -> None:
    with pytest.raises(ValueError, match="missing"):
        order_arrays(orders(net_cents=pd.array([100, None], dtype="Int64")))


def test_fractional_net_cents_is_refused_but_whole_floats_pass() -> None:
    assert order_arrays(orders(net_cents=[100.0, 3.0])).net_cents.tolist() == [100, 3]
    with pytest.raises(ValueError, match="whole"):
        order_arrays(orders(net_cents=[100.5, 3.0]))


def test_missing_order_date_is_refused() -> None:
    with pytest.raises(ValueError, match="missing"):
        order_arrays(orders(order_date=pd.to_datetime(pd.Series(["2025-01-01", None]))))


def test_time_of_day_is_refused() -> None:
    with pytest.raises(ValueError, match="midnight"):
        order_arrays(orders(order_date=pd.to_datetime(["2025-01-01 00:00", "2025-01-01 13:00"])))


def test_time_zone_aware_dates_are_refused() -> None:
    aware = pd.to_datetime(["2025-01-01", "2025-01-02"]).tz_localize("UTC")
    with pytest.raises(ValueError, match="naive"):
        order_arrays(orders(order_date=aware))


def test_orders_without_customer_are_dropped() -> None:
    arrays = order_arrays(orders(customer_id=pd.array([None, 2], dtype="Int64")))
    assert arrays.customer_id.tolist() == [2]
    assert arrays.net_cents.tolist() == [0]


def test_empty_frames_have_canonical_dtypes() -> None:
    assert {k: str(v) for k, v in empty_orders().dtypes.items()} == ORDER_DTYPES
    assert {k: str(v) for k, v in empty_customers().dtypes.items()} == CUSTOMER_DTYPES
    assert order_arrays(empty_orders()).day.size == 0


def test_as_of_must_be_a_date_not_a_datetime() -> None:
    assert date_to_day(dt.date(1970, 1, 2)) == 1
    with pytest.raises(TypeError):
        date_to_day(dt.datetime(2025, 1, 1))
    with pytest.raises(TypeError):
        date_to_day(pd.Timestamp("2025-01-01"))


# --------------------------------------------------------------------------- customers


def test_customer_table_sorts_and_fills_missing_counts() -> None:
    raw = pd.DataFrame(
        {
            "customer_id": [3, 1],
            "industry": ["games", None],
            "reviews": pd.array([2, None], dtype="Int64"),
            "extra": ["x", "y"],
        }
    )
    table = customer_table(raw)
    assert table.index.tolist() == [1, 3]
    assert table["reviews"].tolist() == [0, 2]
    assert table["growth_points"].tolist() == [0, 0]
    assert "extra" not in table.columns
    assert table["industry"].isna().loc[1]
    assert table.loc[3, "industry"] == "games"


def test_customer_table_without_industry_column_has_na_industry() -> None:
    table = customer_table(pd.DataFrame({"customer_id": [1]}))
    assert table["industry"].isna().loc[1]


def test_duplicated_customers_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicated"):
        customer_table(pd.DataFrame({"customer_id": [1, 2, 1]}))


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="complaints"):
        customer_table(pd.DataFrame({"customer_id": [1], "complaints": [-1]}))


def test_more_on_time_than_rated_orders_is_refused() -> None:
    frame = pd.DataFrame({"customer_id": [1], "on_time_orders": [3], "rated_orders": [2]})
    with pytest.raises(ValueError, match="on_time_orders"):
        customer_table(frame)


def test_customer_table_does_not_touch_its_input() -> None:
    raw = pd.DataFrame({"customer_id": [3, 1], "reviews": [1.0, np.nan]})
    before = raw.copy(deep=True)
    customer_table(raw)
    pd.testing.assert_frame_equal(raw, before)


# --------------------------------------------------------------------------- params


def test_default_params_match_the_scheme() -> None:
    params = ScoringParams()
    assert params.window_days == 365
    assert params.rfm_method == "quintile"
    assert params.growth_fraction == Fraction(6, 5)
    assert params.pyramid_fractions == (Fraction(1, 100), Fraction(1, 20), Fraction(1, 5))
    assert params.industry_priors == ()
    assert dict(params.industry_prior_map) == {}


def test_params_are_frozen_and_hashable_with_industry_priors() -> None:
    params = ScoringParams(industry_priors={"retail": 0.8, "games": 0.25})
    same = ScoringParams(industry_priors=[("games", 0.25), ("retail", 0.8)])  # type: ignore[arg-type]
    assert params.industry_priors == (("games", 0.25), ("retail", 0.8))
    assert params == same
    assert hash(params) == hash(same)
    assert params.industry_prior_map["retail"] == 0.8
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.window_days = 30  # type: ignore[misc]
    assert dataclasses.replace(params, window_days=30).industry_priors == params.industry_priors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_days": 0}, "window_days"),
        ({"window_days": 100_001}, "window_days"),
        ({"rfm_method": "deciles"}, "rfm_method"),
        ({"r_thresholds": (30, 90, 180)}, "r_thresholds"),
        ({"f_thresholds": (2, 8, 4, 16)}, "f_thresholds"),
        ({"weight_r": 0.0, "weight_f": 0.0, "weight_m": 0.0}, "RFM weights"),
        ({"weight_campaign": -0.1}, "weight_campaign"),
        ({"industry_priors": {"retail": 1.5}}, "industry priors"),
        ({"default_industry_prior": 2.0}, "default_industry_prior"),
        ({"pyramid_cuts": (Decimal("0.05"), Decimal("0.01"), Decimal("0.2"))}, "pyramid_cuts"),
        ({"pyramid_cuts": (Decimal("0"), Decimal("0.01"), Decimal("0.2"))}, "pyramid_cuts"),
        ({"referral_cap": 0}, "referral_cap"),
        ({"growth_ratio": Decimal("-1")}, "growth_ratio"),
    ],
)
def test_invalid_params_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScoringParams(**kwargs)  # type: ignore[arg-type]


def test_growth_ratio_must_not_be_a_float() -> None:
    with pytest.raises(TypeError):
        ScoringParams(growth_ratio=1.2)  # type: ignore[arg-type]
    assert ScoringParams(growth_ratio="1.15").growth_ratio == Decimal("1.15")  # type: ignore[arg-type]


def test_grade_rule_converts_a_decimal_floor_to_float() -> None:
    rule = GradeRule("gold", 3, Decimal("70.5"))  # type: ignore[arg-type]
    assert rule.min_score == 70.5
    assert isinstance(rule.min_score, float)
    with pytest.raises(ValueError, match="code"):
        GradeRule("", 1, 0.0)


def test_label_keys_cover_the_grid_once() -> None:
    keys = [key for group in RFM_LABEL_KEYS.values() for key in group]
    assert sorted(keys) == [10 * r + fm for r in range(1, 6) for fm in range(1, 6)]
    assert set(RFM_LABEL_KEYS) | {"prospect"} == set(RFM_LABELS)
