"""Per-customer facts and the scores of grading scheme v1 (docs/grading.md).

All functions are pure: `as_of` and the parameters come in as arguments, input frames are never
modified, and every result is a new frame or Series indexed by customer_id. The work is done
with whole-column numpy operations (no per-customer Python loop), and every comparison that a
grade can hinge on (ranks, quintiles, pyramid shares, the growth ratio) is made in exact integer
arithmetic, so that any correct implementation of the definitions reproduces the same codes.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from grading.scoring import inputs as col
from grading.scoring.inputs import customer_table, date_to_day, order_arrays
from grading.scoring.rules import (
    LIFECYCLE_STAGES,
    PYRAMID_LAYERS,
    RFM_LABEL_KEYS,
    RFM_LABELS,
    RFM_SEGMENTS,
    GradeRule,
    ScoringParams,
)
from grading.scoring.tiers import assign_grades

if TYPE_CHECKING:
    from grading.scoring.population import PopulationCuts

# Output column names.
FIRST_ORDER_DATE = "first_order_date"
LAST_ORDER_DATE = "last_order_date"
RECENCY_DAYS = "recency_days"
FREQUENCY = "frequency"
MONETARY_CENTS = "monetary_cents"
CATEGORIES = "categories"
FIRST_HALF_CENTS = "first_half_cents"
SECOND_HALF_CENTS = "second_half_cents"
GAP_CV = "gap_cv"
ORDER_COUNT_WINDOW = "order_count_window"
TENURE_DAYS = "tenure_days"
R_SCORE, F_SCORE, M_SCORE = "r_score", "f_score", "m_score"
RFM_SEGMENT, RFM_LABEL, LIFECYCLE, PYRAMID = "rfm_segment", "rfm_label", "lifecycle", "pyramid"
POTENTIAL_COMPONENTS: tuple[str, ...] = ("breadth", "stability", "growth", "industry_prior")
COOPERATION_COMPONENTS: tuple[str, ...] = (
    "campaign_rate",
    "referral_score",
    "complaint_score",
    "on_time_rate",
    "review_score",
    "points_bonus",
)
HISTORICAL, POTENTIAL, COOPERATION, COMPOSITE, GRADE = (
    "historical",
    "potential",
    "cooperation",
    "composite",
    "grade",
)
FACT_COLUMNS: tuple[str, ...] = (
    FIRST_ORDER_DATE,
    LAST_ORDER_DATE,
    RECENCY_DAYS,
    FREQUENCY,
    MONETARY_CENTS,
    CATEGORIES,
    FIRST_HALF_CENTS,
    SECOND_HALF_CENTS,
    GAP_CV,
    ORDER_COUNT_WINDOW,
    TENURE_DAYS,
    col.INDUSTRY,
    *col.ENGAGEMENT_COUNT_COLUMNS,
)
SCORE_COLUMNS: tuple[str, ...] = (
    *FACT_COLUMNS,
    R_SCORE,
    F_SCORE,
    M_SCORE,
    RFM_SEGMENT,
    RFM_LABEL,
    LIFECYCLE,
    PYRAMID,
    *POTENTIAL_COMPONENTS,
    *COOPERATION_COMPONENTS,
    HISTORICAL,
    POTENTIAL,
    COOPERATION,
    COMPOSITE,
    GRADE,
)

ROUND_DECIMALS = 4
_DATE_DTYPE = "datetime64[s]"
_SECONDS_PER_DAY = 86_400
_INT64_SAFE = 2**62  # head-room bound for exact int64 products


# --------------------------------------------------------------------------- helpers


def _int_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy(dtype=np.int64)


def _nullable_int_column(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (values with NA as 0, has_value mask) of an Int64 column."""
    series = frame[name]
    present = series.notna().to_numpy()
    return series.to_numpy(dtype=np.int64, na_value=0), present


@functools.cache
def _code_dtype(categories: tuple[str, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(categories))


def _categorical(
    codes: np.ndarray, categories: tuple[str, ...], index: pd.Index, name: str
) -> pd.Series:
    values = pd.Categorical.from_codes(codes.astype(np.int8), dtype=_code_dtype(categories))
    return pd.Series(values, index=index, name=name)


def _times(values: np.ndarray, factor: int) -> np.ndarray:
    """Return values * factor exactly: int64 when it cannot overflow, else Python ints."""
    peak = int(np.abs(values).max()) if values.size else 0
    if peak * abs(factor) < _INT64_SAFE:
        return values * np.int64(factor)
    return values.astype(object) * factor


def _tie_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the 1-based (min, max) positions of each value's tied block, ascending order.

    This is pandas' rank(method="min") and rank(method="max"); the average rank is their mean.
    """
    size = values.size
    order = np.argsort(values)  # any order within a tied block gives the same ranks
    ordered = values[order]
    block_start = np.ones(size, dtype=bool)
    block_start[1:] = ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(block_start)
    ends = np.append(starts[1:], size)
    block = np.cumsum(block_start) - 1
    min_rank = np.empty(size, dtype=np.int64)
    max_rank = np.empty(size, dtype=np.int64)
    min_rank[order] = starts[block] + 1
    max_rank[order] = ends[block]
    return min_rank, max_rank


def _quintile(values: np.ndarray) -> np.ndarray:
    """Return ceil(5 * average_rank / n) for values ranked ascending (best last), exactly.

    ceil(5 * (min + max) / (2 n)) in integers: -((-a) // b) is the ceiling of a / b.
    """
    if values.size == 0:
        return np.empty(0, dtype=np.int64)
    min_rank, max_rank = _tie_ranks(values)
    scores: np.ndarray = -((-5 * (min_rank + max_rank)) // (2 * values.size))
    return scores


def _customer_codes(ids: np.ndarray, order_ids: np.ndarray) -> np.ndarray:
    """Return each order's position in the sorted customer ids, -1 if not a graded customer."""
    if ids.size == 0 or order_ids.size == 0:
        return np.full(order_ids.size, -1, dtype=np.int64)
    low, high = int(ids[0]), int(ids[-1])
    span = high - low + 1
    ids_fit = -_INT64_SAFE < int(order_ids.min()) <= int(order_ids.max()) < _INT64_SAFE
    if span <= 8 * ids.size + 1_000_000 and ids_fit:
        # Database ids are dense: a lookup table is ~5x faster than hashing. Slots 0 and
        # span + 1 catch ids below / above the graded range.
        lookup = np.full(span + 2, -1, dtype=np.int64)
        lookup[ids - (low - 1)] = np.arange(ids.size)
        positions: np.ndarray = lookup[np.clip(order_ids - (low - 1), 0, span + 1)]
        return positions
    found: np.ndarray = pd.Index(ids).get_indexer(order_ids).astype(np.int64)
    return found


def _pack_bits(values: np.ndarray) -> int:
    """Return how many low bits hold any of the non-negative `values`."""
    return max(int(values.max()).bit_length(), 1) if values.size else 1


def _sum_per_customer(bucket: np.ndarray, amounts: np.ndarray, n: int) -> np.ndarray:
    """Return the exact int64 sum of `amounts` (>= 0) per bucket 0..n-1 (bucket n is dropped)."""
    if amounts.size and int(amounts.sum()) >= 2**53:
        total = np.zeros(n + 1, dtype=np.int64)
        np.add.at(total, bucket, amounts)
        return total[:n]
    # Every partial sum is a whole number below 2**53, so the float bincount is exact.
    return np.bincount(bucket, weights=amounts, minlength=n + 1)[:n].astype(np.int64)


def _distinct_per_customer(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Return, per customer code 0..n-1, how many distinct `values` its rows carry."""
    if codes.size == 0:
        return np.zeros(n, dtype=np.int64)
    low, high = int(values.min()), int(values.max())
    if n.bit_length() + (high - low).bit_length() > 62:
        # Ids too far apart to pack next to the customer code: renumber them densely.
        values, _ = pd.factorize(values)
    else:
        values = values - low
    bits = _pack_bits(values)
    keys = np.sort((codes << bits) | values)
    first_of_pair = np.ones(keys.size, dtype=bool)
    first_of_pair[1:] = keys[1:] != keys[:-1]
    return np.bincount(keys[first_of_pair] >> bits, minlength=n).astype(np.int64)


def _gap_cv(codes: np.ndarray, offsets: np.ndarray, n: int) -> np.ndarray:
    """Return std(gaps, ddof=0) / mean(gaps) of each customer's sorted order days.

    `offsets` are non-negative whole days. Gaps are whole days, so with k gaps, S = sum and
    Q = sum of squares the ratio is sqrt(k Q - S^2) / S with an exact integer radicand: one
    rounding in sqrt and one in the division (np.std would sum rounded squares). NaN for fewer
    than 3 orders (k < 2) or S = 0 (all orders on one day).
    """
    cv = np.full(n, np.nan)
    if codes.size == 0:
        return cv
    bits = _pack_bits(offsets)
    if n.bit_length() + bits <= 62:
        # Sorting one packed int64 key is ~3x faster than a two-key lexsort.
        keys = np.sort((codes << bits) | offsets)
        key_code = keys >> bits
        key_day = keys & ((1 << bits) - 1)
    else:
        order = np.lexsort((offsets, codes))
        key_code, key_day = codes[order], offsets[order]
    same = key_code[1:] == key_code[:-1]
    gaps = (key_day[1:] - key_day[:-1])[same]
    gap_code = key_code[1:][same]
    # Per customer, sum(gaps) <= window_days and sum(gaps^2) <= window_days^2 < 2**53
    # (window_days <= MAX_WINDOW_DAYS): the float bincounts are exact.
    total = np.bincount(gap_code, weights=gaps, minlength=n).astype(np.int64)
    squares = np.bincount(gap_code, weights=gaps * gaps, minlength=n).astype(np.int64)
    count = np.bincount(gap_code, minlength=n).astype(np.int64)
    return gap_cv_from_sums(count, total, squares)


def gap_cv_from_sums(count: np.ndarray, total: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """Return std(gaps, ddof=0) / mean(gaps) from each customer's gap count, sum and sum of
    squares (int64 arrays, whole days): sqrt(k Q - S^2) / S with an exact integer radicand.

    NaN where k < 2 (fewer than 3 orders) or S = 0 (every order on one day). Whoever holds
    the three sums (the order path above, or the customer facts kept as orders arrive) gets
    the same float to the last bit.
    """
    cv = np.full(count.size, np.nan)
    defined = (count >= 2) & (total > 0)
    radicand = count[defined] * squares[defined] - total[defined] ** 2
    cv[defined] = np.sqrt(radicand.astype(np.float64)) / total[defined]
    return cv


def _day_dates(days: np.ndarray, present: np.ndarray) -> np.ndarray:
    dates = (days * _SECONDS_PER_DAY).astype(_DATE_DTYPE)
    dates[~present] = np.datetime64("NaT", "s")
    return dates


def _round(values: np.ndarray) -> np.ndarray:
    # np.round: round half to even on the binary value, the documented rule for exports.
    return np.round(values, ROUND_DECIMALS)


def _rfm_arrays(scores: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        _int_column(scores, R_SCORE),
        _int_column(scores, F_SCORE),
        _int_column(scores, M_SCORE),
    )


# --------------------------------------------------------------------------- facts


def customer_facts(
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    as_of: dt.date,
    params: ScoringParams,
) -> pd.DataFrame:
    """Return the per-customer order facts at `as_of`, one row per customer, by customer_id.

    Counted orders are those dated before `as_of` (later ones are ignored everywhere); the
    window is [as_of - window_days, as_of), its halves split at as_of - window_days // 2.
    Columns (days are whole days, money integer cents):
    first_order_date / last_order_date (datetime64[s], all counted history, NaT if none);
    recency_days = (as_of - last_order_date).days and tenure_days = (as_of -
    first_order_date).days (Int64, NA if none); frequency = order_count_window (window orders);
    monetary_cents, first_half_cents, second_half_cents (window net sums, 0 if none);
    categories (distinct non-NA category_id in the window, `category_only` rows included;
    those rows count for nothing else); gap_cv = std(gaps, ddof=0) /
    mean(gaps) over the sorted window order dates (same-day orders give gap 0; NaN with fewer
    than 3 window orders or when every gap is 0); then `industry` and the engagement counts
    copied from `customers` (missing count column or NA -> 0).
    Orders of customers absent from `customers` are ignored. No ties arise here.
    """
    table = customer_table(customers)
    orders_in = order_arrays(orders)
    as_of_day = date_to_day(as_of)
    window = params.window_days
    window_start = as_of_day - window
    mid = as_of_day - window // 2
    ids = table.index.to_numpy()
    n = ids.size

    code = _customer_codes(ids, orders_in.customer_id)
    day = orders_in.day
    # Rows that do not count go to an extra bucket n, dropped after each reduction: cheaper
    # than filtering every 10M-row column.
    dated = (code >= 0) & (day < as_of_day)
    counted = dated & orders_in.is_order
    bucket = np.where(counted, code, n)
    ever = np.bincount(bucket, minlength=n + 1)[:n] > 0
    first = np.full(n + 1, as_of_day, dtype=np.int64)
    last = np.full(n + 1, as_of_day, dtype=np.int64)
    if ever.any():
        first[:n][ever] = np.iinfo(np.int64).max
        last[:n][ever] = np.iinfo(np.int64).min
        np.minimum.at(first, bucket, day)
        np.maximum.at(last, bucket, day)
    first, last = first[:n], last[:n]

    in_window = counted & (day >= window_start)
    window_bucket = np.where(in_window, code, n)
    frequency = np.bincount(window_bucket, minlength=n + 1)[:n].astype(np.int64)
    monetary = _sum_per_customer(window_bucket, orders_in.net_cents, n)
    late_bucket = np.where(day >= mid, window_bucket, n)
    second_half = _sum_per_customer(late_bucket, orders_in.net_cents, n)

    rows = np.flatnonzero(in_window)
    code_w = code[rows]
    gap_cv = _gap_cv(code_w, day[rows] - window_start, n)
    # Category breadth also reads the category-only rows (further categories of an order's
    # lines, dated on the order).
    with_category = np.flatnonzero(dated & (day >= window_start) & orders_in.has_category)
    categories = _distinct_per_customer(
        code[with_category], orders_in.category_id[with_category], n
    )

    return _facts_frame(
        table,
        as_of_day=as_of_day,
        ever=ever,
        first=first,
        last=last,
        frequency=frequency,
        monetary=monetary,
        second_half=second_half,
        categories=categories,
        gap_cv=gap_cv,
    )


def _facts_frame(
    table: pd.DataFrame,
    *,
    as_of_day: int,
    ever: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    frequency: np.ndarray,
    monetary: np.ndarray,
    second_half: np.ndarray,
    categories: np.ndarray,
    gap_cv: np.ndarray,
) -> pd.DataFrame:
    """The facts frame of `customer_facts` from its per-customer arrays (aligned on `table`)."""
    columns: dict[str, object] = {
        FIRST_ORDER_DATE: _day_dates(first, ever),
        LAST_ORDER_DATE: _day_dates(last, ever),
        RECENCY_DAYS: pd.arrays.IntegerArray(as_of_day - last, ~ever),
        FREQUENCY: frequency,
        MONETARY_CENTS: monetary,
        CATEGORIES: categories,
        FIRST_HALF_CENTS: monetary - second_half,
        SECOND_HALF_CENTS: second_half,
        GAP_CV: gap_cv,
        ORDER_COUNT_WINDOW: frequency.copy(),
        TENURE_DAYS: pd.arrays.IntegerArray(as_of_day - first, ~ever),
    }
    facts = pd.DataFrame(columns, index=table.index)
    return pd.concat([facts, table], axis=1)


def facts_from_segments(
    segments: pd.DataFrame,
    earlier: pd.DataFrame,
    categories: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    as_of: dt.date,
    params: ScoringParams,
) -> pd.DataFrame:
    """Return the facts of `customer_facts` from the window's segments instead of its orders.

    `segments` (customer_id, first_day, last_day, orders, net_cents, gap_squares,
    second_half): the window's counted orders in pieces that do not overlap in time, each
    either one order (first_day = last_day, orders 1, gap_squares 0) or a run of orders (a
    customer's month: its first and last order day, count, net sum and the sum of squared
    gaps between its consecutive order days), all of it in the window's first or second half
    (`second_half`). `earlier` (customer_id, first_day, last_day): counted orders before the
    window, any number of rows per customer. `categories` (customer_id, category_id): the
    window's categories, repeats allowed. Days are whole days since 1970-01-01 (int64).
    `customers` as for `customer_facts`, with the window's on-time counts.

    The window's gap statistic comes from its three sums (`gap_cv_from_sums`): count - 1
    gaps, summing to last - first, whose squares are the segments' own plus the squared gap
    between each segment and the next. So the frame equals `customer_facts` on the orders
    themselves, to the last bit.
    """
    table = customer_table(customers)
    as_of_day = date_to_day(as_of)
    ids = table.index.to_numpy()
    n = ids.size

    code = _customer_codes(ids, segments["customer_id"].to_numpy(dtype=np.int64))
    seg_first = segments["first_day"].to_numpy(dtype=np.int64)
    seg_last = segments["last_day"].to_numpy(dtype=np.int64)
    bucket = np.where(code >= 0, code, n)
    frequency = _sum_per_customer(bucket, segments["orders"].to_numpy(dtype=np.int64), n)
    net = segments["net_cents"].to_numpy(dtype=np.int64)
    monetary = _sum_per_customer(bucket, net, n)
    second = segments["second_half"].to_numpy(dtype=bool)
    second_half = _sum_per_customer(np.where(second, bucket, n), net, n)

    in_window = frequency > 0
    window_first = np.full(n + 1, np.iinfo(np.int64).max, dtype=np.int64)
    window_last = np.full(n + 1, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(window_first, bucket, seg_first)
    np.maximum.at(window_last, bucket, seg_last)
    window_first, window_last = window_first[:n], window_last[:n]

    # The squared gaps: each segment's own, then those between consecutive segments.
    squares = _sum_per_customer(bucket, segments["gap_squares"].to_numpy(dtype=np.int64), n)
    kept = np.flatnonzero(code >= 0)
    order = kept[np.lexsort((seg_first[kept], code[kept]))]
    same = code[order][1:] == code[order][:-1]
    between = (seg_first[order][1:] - seg_last[order][:-1])[same]
    squares = squares + _sum_per_customer(code[order][1:][same], between * between, n)
    gap_cv = gap_cv_from_sums(
        np.maximum(frequency - 1, 0), np.where(in_window, window_last - window_first, 0), squares
    )

    before = _customer_codes(ids, earlier["customer_id"].to_numpy(dtype=np.int64))
    before_bucket = np.where(before >= 0, before, n)
    before_first = np.full(n + 1, np.iinfo(np.int64).max, dtype=np.int64)
    before_last = np.full(n + 1, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(before_first, before_bucket, earlier["first_day"].to_numpy(dtype=np.int64))
    np.maximum.at(before_last, before_bucket, earlier["last_day"].to_numpy(dtype=np.int64))
    ever = in_window | (np.bincount(before_bucket, minlength=n + 1)[:n] > 0)
    first = np.where(ever, np.minimum(window_first, before_first[:n]), as_of_day)
    last = np.where(ever, np.maximum(window_last, before_last[:n]), as_of_day)

    category_code = _customer_codes(ids, categories["customer_id"].to_numpy(dtype=np.int64))
    valid = np.flatnonzero(category_code >= 0)
    breadth = _distinct_per_customer(
        category_code[valid], categories["category_id"].to_numpy(dtype=np.int64)[valid], n
    )
    return _facts_frame(
        table,
        as_of_day=as_of_day,
        ever=ever,
        first=first,
        last=last,
        frequency=frequency,
        monetary=monetary,
        second_half=second_half,
        categories=breadth,
        gap_cv=gap_cv,
    )


# --------------------------------------------------------------------------- RFM


def value_pyramid(facts: pd.DataFrame, *, params: ScoringParams) -> pd.Series:
    """Return each customer's value-pyramid layer (`PYRAMID_LAYERS`, categorical).

    The population is the n customers with frequency >= 1, ranked by monetary_cents
    descending (largest = rank 1); tied customers share their average rank. With
    share = average_rank / n, compared exactly as fractions against `params.pyramid_cuts`:
    top if share <= cut 1, large if <= cut 2, medium if <= cut 3, else small. A tie straddling
    a cut therefore lands wholly on one side. Customers with frequency 0 are `small`.
    """
    frequency = _int_column(facts, FREQUENCY)
    active = np.flatnonzero(frequency >= 1)
    layer = np.full(frequency.size, len(PYRAMID_LAYERS) - 1, dtype=np.int64)
    n = active.size
    if n:
        min_rank, max_rank = _tie_ranks(-_int_column(facts, MONETARY_CENTS)[active])
        twice_rank = min_rank + max_rank  # 2 * average rank
        active_layer = np.full(n, len(PYRAMID_LAYERS) - 1, dtype=np.int64)
        # share <= p/q  <=>  twice_rank * q <= 2 n p; widest cut first so the narrowest wins.
        for position in (2, 1, 0):
            cut = params.pyramid_fractions[position]
            inside = _times(twice_rank, cut.denominator) <= 2 * n * cut.numerator
            active_layer[np.asarray(inside, dtype=bool)] = position
        layer[active] = active_layer
    return _categorical(layer, PYRAMID_LAYERS, facts.index, PYRAMID)


def rfm_scores(
    facts: pd.DataFrame,
    *,
    params: ScoringParams,
    pyramid: pd.Series | None = None,
) -> pd.DataFrame:
    """Return r_score, f_score, m_score (int64, 1..5) for each customer of `facts`.

    Quintile method: the population is the n customers with frequency >= 1; each of R
    (recency_days, smaller is better), F (frequency) and M (monetary_cents) is ranked ascending
    with the best last, ties share their average rank, and score = ceil(5 * avg_rank / n),
    computed exactly in integers (so n = 5 distinct values give the 3rd exactly 3, and a block
    of ties always shares one score). With `params.rfm_within_pyramid` the same is done inside
    each pyramid layer (n = that layer's population); `pyramid` (from `value_pyramid`) is
    computed when not given. Threshold method: R <= r_thresholds[i] and F, M >= their
    thresholds count upwards from 1 (inclusive bounds). Customers with frequency 0 get 1/1/1.
    """
    frequency = _int_column(facts, FREQUENCY)
    recency, _ = _nullable_int_column(facts, RECENCY_DAYS)
    monetary = _int_column(facts, MONETARY_CENTS)
    active = frequency >= 1
    r_score = np.ones(frequency.size, dtype=np.int64)
    f_score = np.ones(frequency.size, dtype=np.int64)
    m_score = np.ones(frequency.size, dtype=np.int64)

    if params.rfm_method == "thresholds":
        # Thresholds are non-decreasing, so counting the bounds met equals "first match wins".
        rec, freq, mon = recency[active], frequency[active], monetary[active]
        r_score[active] = 1 + sum((rec <= t).astype(np.int64) for t in params.r_thresholds)
        f_score[active] = 1 + sum((freq >= t).astype(np.int64) for t in params.f_thresholds)
        m_score[active] = 1 + sum((mon >= t).astype(np.int64) for t in params.m_thresholds_cents)
    else:
        if params.rfm_within_pyramid:
            if pyramid is None:
                pyramid = value_pyramid(facts, params=params)
            layers = pyramid.reindex(facts.index)
            if layers.isna().any():
                raise ValueError("pyramid has no layer for some customers of facts")
            layer_codes = pd.Categorical(layers, categories=list(PYRAMID_LAYERS)).codes
            groups = [active & (layer_codes == i) for i in range(len(PYRAMID_LAYERS))]
        else:
            groups = [active]
        for group in groups:
            members = np.flatnonzero(group)
            r_score[members] = _quintile(-recency[members])
            f_score[members] = _quintile(frequency[members])
            m_score[members] = _quintile(monetary[members])

    return pd.DataFrame({R_SCORE: r_score, F_SCORE: f_score, M_SCORE: m_score}, index=facts.index)


def rfm_segment(scores: pd.DataFrame) -> pd.Series:
    """Return the 8-class RFM segment (`RFM_SEGMENTS`, categorical) of each score row.

    A dimension is high when its score >= 3. M high: important_value (R, F high),
    important_develop (R high, F low), important_keep (R low, F high), important_retain (R, F
    low); M low: the same four as general_*. Scores of 1/1/1 (frequency 0) give general_retain.
    Scores are never missing (customers without window orders carry 1/1/1); ties were already
    settled when the scores were computed, so equal scores always share a segment.
    """
    r_score, f_score, m_score = _rfm_arrays(scores)
    low_r, low_f, low_m = (r_score < 3), (f_score < 3), (m_score < 3)
    codes = 4 * low_m.astype(np.int64) + 2 * low_r.astype(np.int64) + low_f.astype(np.int64)
    return _categorical(codes, RFM_SEGMENTS, scores.index, RFM_SEGMENT)


def _label_lookup() -> np.ndarray:
    """Return an array mapping key = 10 r + FM (11..55) to the index of its RFM label."""
    lookup = np.full(56, -1, dtype=np.int64)
    for label, keys in RFM_LABEL_KEYS.items():
        lookup[list(keys)] = RFM_LABELS.index(label)
    return lookup


_LABEL_BY_KEY = _label_lookup()


def rfm_label(scores: pd.DataFrame, facts: pd.DataFrame) -> pd.Series:
    """Return the 11-class RFM label plus `prospect` (`RFM_LABELS`, categorical).

    key = 10 * r_score + (f_score + m_score + 1) // 2 (FM rounds half up) looked up in
    `RFM_LABEL_KEYS`. Customers with frequency 0 are `lost` when they have any counted order
    before as_of (recency_days not NA) and `prospect` otherwise. `facts` must share the index
    (it is realigned when in another order). Equal scores always share a label.
    """
    r_score, f_score, m_score = _rfm_arrays(scores)
    frequency_column, recency_column = facts[FREQUENCY], facts[RECENCY_DAYS]
    if not facts.index.equals(scores.index):
        frequency_column = frequency_column.reindex(scores.index)
        recency_column = recency_column.reindex(scores.index)
    frequency = frequency_column.to_numpy(dtype=np.int64, na_value=0)
    ever = recency_column.notna().to_numpy()
    codes = _LABEL_BY_KEY[10 * r_score + (f_score + m_score + 1) // 2]
    codes = np.where(frequency >= 1, codes, np.where(ever, RFM_LABELS.index("lost"), -1))
    codes = np.where(codes >= 0, codes, RFM_LABELS.index("prospect"))
    return _categorical(codes, RFM_LABELS, scores.index, RFM_LABEL)


# --------------------------------------------------------------------------- lifecycle


def lifecycle_stage(facts: pd.DataFrame, *, params: ScoringParams) -> pd.Series:
    """Return each customer's lifecycle stage (`LIFECYCLE_STAGES`, categorical).

    The first matching rule wins: prospect (no counted order ever); new (tenure_days <=
    new_days); churned (recency_days > churn_days); dormant (recency_days > dormant_days);
    growing (second_half_cents > 0 and second_half_cents >= growth_ratio * first_half_cents,
    compared exactly as integers with the ratio's numerator / denominator); else mature.
    Bounds are inclusive as written: exactly new_days is still new, exactly churn_days is not
    churned. Missing data: NA tenure_days (no counted order) is what makes a prospect. Nothing
    is ranked, so there are no ties.
    """
    tenure, ever = _nullable_int_column(facts, TENURE_DAYS)
    recency, _ = _nullable_int_column(facts, RECENCY_DAYS)
    first_half = _int_column(facts, FIRST_HALF_CENTS)
    second_half = _int_column(facts, SECOND_HALF_CENTS)
    ratio = params.growth_fraction
    growing = (second_half > 0) & np.asarray(
        _times(second_half, ratio.denominator) >= _times(first_half, ratio.numerator), dtype=bool
    )
    codes = np.select(
        [
            ~ever,
            tenure <= params.new_days,
            recency > params.churn_days,
            recency > params.dormant_days,
            growing,
        ],
        [0, 1, 2, 3, 4],
        default=5,
    )
    return _categorical(codes, LIFECYCLE_STAGES, facts.index, LIFECYCLE)


# --------------------------------------------------------------------------- values


def historical_value(scores: pd.DataFrame, *, params: ScoringParams) -> pd.Series:
    """Return historical value H in 0..100 points (float64, rounded to 4 decimals).

    H = 100 * (wR (r-1) + wF (f-1) + wM (m-1)) / (4 (wR + wF + wM)), evaluated left to right,
    then np.round(H, 4) (round half to even). Scores of 1/1/1 give 0. Scores are never missing;
    ties were settled by the scores (equal scores, equal H).
    """
    r_score, f_score, m_score = _rfm_arrays(scores)
    w_r, w_f, w_m = params.weight_r, params.weight_f, params.weight_m
    weighted = w_r * (r_score - 1) + w_f * (f_score - 1) + w_m * (m_score - 1)
    value = 100 * weighted / (4 * (w_r + w_f + w_m))
    return pd.Series(_round(value), index=scores.index, name=HISTORICAL)


def _weighted_mean(parts: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """Return sum(w * x) / sum(w), both sums taken left to right in the listed order."""
    numerator = parts[0][0] * parts[0][1]
    weight_sum = parts[0][0]
    for weight, values in parts[1:]:
        numerator = numerator + weight * values
        weight_sum = weight_sum + weight
    return numerator / weight_sum


def _share(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Return numerator / denominator as float, 0 where the denominator is 0."""
    out = np.zeros(numerator.size, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def potential_value(
    facts: pd.DataFrame, *, params: ScoringParams, breadth: pd.Series | None = None
) -> pd.DataFrame:
    """Return potential value P in 0..100 points with its four components in 0..1.

    breadth = average_rank / n of `categories` ranked ascending among the n customers with
    frequency >= 1 (ties share their average rank; 0 for frequency 0); stability = 0 with fewer
    than 3 window orders, 1 when every gap is 0 (gap_cv NaN), else clip(1 - gap_cv, 0, 1);
    growth = second_half / (first_half + second_half) cents, 0 when both are 0; industry_prior
    = params' prior for `industry` (NA, empty or unknown industry -> default_industry_prior
    unless that exact string has a prior). P = 100 * (weighted mean of the components, weights
    in the order listed), np.round(P, 4). Components are not rounded. A given `breadth` (from
    population cut points, see `grading.scoring.population`) replaces the computed one.
    """
    frequency = _int_column(facts, FREQUENCY)
    active = np.flatnonzero(frequency >= 1)
    breadth_share = np.zeros(frequency.size, dtype=np.float64)
    if breadth is not None:
        breadth_share = breadth.reindex(facts.index).to_numpy(dtype=np.float64)
    elif active.size:
        min_rank, max_rank = _tie_ranks(_int_column(facts, CATEGORIES)[active])
        # (min + max) / (2 n): one correctly rounded division of the exact average-rank share.
        breadth_share[active] = (min_rank + max_rank) / (2 * active.size)

    gap_cv = facts[GAP_CV].to_numpy(dtype=np.float64, na_value=np.nan)
    stability = np.where(
        frequency < 3, 0.0, np.where(np.isnan(gap_cv), 1.0, np.clip(1.0 - gap_cv, 0.0, 1.0))
    )
    first_half = _int_column(facts, FIRST_HALF_CENTS)
    second_half = _int_column(facts, SECOND_HALF_CENTS)
    growth = _share(second_half, first_half + second_half)

    prior_map = params.industry_prior_map
    codes, uniques = pd.factorize(facts[col.INDUSTRY])
    unique_priors = np.array(
        [prior_map.get(value, params.default_industry_prior) for value in uniques], dtype=float
    )
    industry_prior = np.full(frequency.size, params.default_industry_prior)
    known = codes >= 0
    industry_prior[known] = unique_priors[codes[known]]

    mean = _weighted_mean(
        [
            (params.weight_breadth, breadth_share),
            (params.weight_stability, stability),
            (params.weight_growth, growth),
            (params.weight_industry, industry_prior),
        ]
    )
    return pd.DataFrame(
        {
            "breadth": breadth_share,
            "stability": stability,
            "growth": growth,
            "industry_prior": industry_prior,
            POTENTIAL: _round(100 * mean),
        },
        index=facts.index,
    )


def cooperation_value(facts: pd.DataFrame, *, params: ScoringParams) -> pd.DataFrame:
    """Return cooperation value C in 0..100 points with its components.

    campaign_rate = min(joins / invitations, 1) (0 without invitations); referral_score =
    min(referrals / referral_cap, 1); complaint_score = 1 - min(complaints / frequency, 1)
    (0 when frequency is 0); on_time_rate = on_time_orders / rated_orders (0 without rated
    orders); review_score = min(reviews / review_cap, 1); points_bonus = min(growth_points *
    points_rate, points_cap) in points. C = min(100, 100 * weighted mean of the five rates
    (weights in the order listed) + points_bonus), then np.round(C, 4). Counts are int64 >= 0
    (customer_facts turns missing counts into 0); a zero denominator gives a 0 rate as listed.
    Nothing is ranked, so there are no ties.
    """
    count = {name: _int_column(facts, name) for name in col.ENGAGEMENT_COUNT_COLUMNS}
    frequency = _int_column(facts, FREQUENCY)
    campaign = np.minimum(_share(count[col.CAMPAIGN_JOINS], count[col.CAMPAIGN_INVITATIONS]), 1.0)
    referral = np.minimum(count[col.REFERRALS] / params.referral_cap, 1.0)
    complaint = np.where(
        frequency > 0, 1.0 - np.minimum(_share(count[col.COMPLAINTS], frequency), 1.0), 0.0
    )
    on_time = _share(count[col.ON_TIME_ORDERS], count[col.RATED_ORDERS])
    review = np.minimum(count[col.REVIEWS] / params.review_cap, 1.0)
    bonus = np.minimum(count[col.GROWTH_POINTS] * params.points_rate, params.points_cap)
    mean = _weighted_mean(
        [
            (params.weight_campaign, campaign),
            (params.weight_referral, referral),
            (params.weight_complaint, complaint),
            (params.weight_on_time, on_time),
            (params.weight_review, review),
        ]
    )
    cooperation = np.minimum(100.0, 100 * mean + bonus)
    return pd.DataFrame(
        {
            "campaign_rate": campaign,
            "referral_score": referral,
            "complaint_score": complaint,
            "on_time_rate": on_time,
            "review_score": review,
            "points_bonus": bonus.astype(np.float64),
            COOPERATION: _round(cooperation),
        },
        index=facts.index,
    )


def composite_value(values: pd.DataFrame, *, params: ScoringParams) -> pd.Series:
    """Return the composite score in points (float64, rounded to 4 decimals).

    composite = wH * historical + wP * potential + wC * cooperation from the ROUNDED component
    columns, evaluated left to right, then np.round(., 4) (half to even), so exported figures
    recompute exactly. It is not renormalised: with weights summing to 1 it stays in 0..100.
    A NaN component would give a NaN composite (this package never produces one).
    """
    value = (
        params.weight_historical * values[HISTORICAL].to_numpy(dtype=np.float64)
        + params.weight_potential * values[POTENTIAL].to_numpy(dtype=np.float64)
        + params.weight_cooperation * values[COOPERATION].to_numpy(dtype=np.float64)
    )
    return pd.Series(_round(value), index=values.index, name=COMPOSITE)


# --------------------------------------------------------------------------- everything


def score_population(
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    as_of: dt.date,
    params: ScoringParams,
    ladder: Sequence[GradeRule],
    cuts: PopulationCuts | None = None,
) -> pd.DataFrame:
    """Return every fact, component and score of each customer at `as_of`, by customer_id.

    One row per customer of `customers` (sorted by customer_id) with the columns
    `SCORE_COLUMNS`: the facts of `customer_facts`, r/f/m_score, rfm_segment, rfm_label,
    lifecycle, pyramid (categoricals), the potential and cooperation components, and
    historical, potential, cooperation (each rounded to 4 decimals) and composite (computed
    from those rounded values, then rounded to 4 decimals) in points, and grade (see
    `assign_grades`: the rounded composite is compared, so a value exactly on a min_score
    qualifies). An empty `customers` frame gives an empty frame with the same columns and
    dtypes. Raises ValueError for an empty ladder or invalid input frames.

    With `cuts` (population cut points from `population.population_cuts`), the
    population-dependent results (R/F/M quintiles, pyramid, breadth) come from the cuts, so a
    subset of the population scores exactly as it would inside the whole.
    """
    facts = customer_facts(orders, customers, as_of=as_of, params=params)
    return score_facts(facts, params=params, ladder=ladder, cuts=cuts)


def score_facts(
    facts: pd.DataFrame,
    *,
    params: ScoringParams,
    ladder: Sequence[GradeRule],
    cuts: PopulationCuts | None = None,
) -> pd.DataFrame:
    """Return the scores of `score_population` from a facts frame (`FACT_COLUMNS`, by
    customer_id), however the facts were obtained: from orders (`customer_facts`), from the
    customer facts kept as orders arrive, or from a run's snapshots (what-if).

    Scoring reads nothing but the facts: the same facts give the same scores to the digit.
    """
    breadth = None
    if cuts is None:
        pyramid = value_pyramid(facts, params=params)
        scores = rfm_scores(facts, params=params, pyramid=pyramid)
    else:
        # Imported here: population builds on this module's functions.
        from grading.scoring.population import apply_cuts

        scores, pyramid, breadth = apply_cuts(facts, cuts, params=params)
    potential = potential_value(facts, params=params, breadth=breadth)
    cooperation = cooperation_value(facts, params=params)
    values = pd.DataFrame(
        {
            HISTORICAL: historical_value(scores, params=params),
            POTENTIAL: potential[POTENTIAL],
            COOPERATION: cooperation[COOPERATION],
        }
    )
    values[COMPOSITE] = composite_value(values, params=params)
    result = pd.concat(
        [
            facts,
            scores,
            rfm_segment(scores),
            rfm_label(scores, facts),
            lifecycle_stage(facts, params=params),
            pyramid,
            potential[list(POTENTIAL_COMPONENTS)],
            cooperation[list(COOPERATION_COMPONENTS)],
            values,
        ],
        axis=1,
    )
    result[GRADE] = assign_grades(result, ladder)
    return result


__all__ = [
    "COOPERATION_COMPONENTS",
    "FACT_COLUMNS",
    "POTENTIAL_COMPONENTS",
    "ROUND_DECIMALS",
    "SCORE_COLUMNS",
    "composite_value",
    "cooperation_value",
    "customer_facts",
    "facts_from_segments",
    "gap_cv_from_sums",
    "historical_value",
    "lifecycle_stage",
    "potential_value",
    "rfm_label",
    "rfm_scores",
    "rfm_segment",
    "score_facts",
    "score_population",
    "value_pyramid",
]
