"""Column names and dtypes of the scoring input frames, and the validators that read them.

Two frames come in (see docs/grading.md, "Inputs"):

- `orders`, one row per paid/completed order: customer_id (int64), order_date (datetime64,
  midnight, project time zone, naive), net_cents (int64 >= 0), category_id (Int64, NA = none);
  optionally `category_only` (bool): True marks a row that only adds a category to the
  customer's breadth on that date (a further category of an order's lines), not an order.
- `customers`, one row per graded customer: customer_id (int64, unique), industry (string, may be
  NA) and the engagement counts of the window (int64 >= 0; a missing column or NA counts as 0).

The validators never modify their argument; they return numpy arrays or a new frame.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

CUSTOMER_ID = "customer_id"

# orders
ORDER_DATE = "order_date"
NET_CENTS = "net_cents"
CATEGORY_ID = "category_id"
#: Optional: rows that count only for category breadth (see the module docstring).
CATEGORY_ONLY = "category_only"
ORDER_COLUMNS: tuple[str, ...] = (CUSTOMER_ID, ORDER_DATE, NET_CENTS, CATEGORY_ID)
ORDER_DTYPES: dict[str, str] = {
    CUSTOMER_ID: "int64",
    ORDER_DATE: "datetime64[s]",
    NET_CENTS: "int64",
    CATEGORY_ID: "Int64",
}

# customers
INDUSTRY = "industry"
CAMPAIGN_INVITATIONS = "campaign_invitations"
CAMPAIGN_JOINS = "campaign_joins"
REFERRALS = "referrals"
COMPLAINTS = "complaints"
REVIEWS = "reviews"
ON_TIME_ORDERS = "on_time_orders"
RATED_ORDERS = "rated_orders"
GROWTH_POINTS = "growth_points"
ENGAGEMENT_COUNT_COLUMNS: tuple[str, ...] = (
    CAMPAIGN_INVITATIONS,
    CAMPAIGN_JOINS,
    REFERRALS,
    COMPLAINTS,
    REVIEWS,
    ON_TIME_ORDERS,
    RATED_ORDERS,
    GROWTH_POINTS,
)
CUSTOMER_COLUMNS: tuple[str, ...] = (CUSTOMER_ID, INDUSTRY, *ENGAGEMENT_COUNT_COLUMNS)
CUSTOMER_DTYPES: dict[str, str] = {
    CUSTOMER_ID: "int64",
    INDUSTRY: "str",
    **dict.fromkeys(ENGAGEMENT_COUNT_COLUMNS, "int64"),
}

_EPOCH = dt.date(1970, 1, 1)
_SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class OrderArrays:
    """Validated order columns as aligned numpy arrays (one element per input row).

    `day` is the order date as whole days since 1970-01-01; `category_id` holds 0 where
    `has_category` is False; `is_order` is False on rows that count only for category
    breadth (`CATEGORY_ONLY`).
    """

    customer_id: np.ndarray
    day: np.ndarray
    net_cents: np.ndarray
    category_id: np.ndarray
    has_category: np.ndarray
    is_order: np.ndarray


def empty_orders() -> pd.DataFrame:
    """Return an orders frame with no rows and the canonical column dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in ORDER_DTYPES.items()})


def empty_customers() -> pd.DataFrame:
    """Return a customers frame with no rows and the canonical column dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in CUSTOMER_DTYPES.items()})


def date_to_day(value: dt.date) -> int:
    """Return a calendar date as whole days since 1970-01-01.

    A `datetime` (or pandas Timestamp) is refused: scoring works on dates in the project time
    zone and takes no clock, so the caller must decide the date.
    """
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"as_of must be a datetime.date, got {type(value).__name__}")
    return (value - _EPOCH).days


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s) {missing}")


def _int64_values(series: pd.Series, name: str, *, na_value: int | None) -> np.ndarray:
    """Return an integer column as int64, refusing fractions; NA -> `na_value` (None = refuse)."""
    if series.isna().any():
        if na_value is None:
            raise ValueError(f"{name} has missing values")
        series = series.fillna(na_value)
    values = series.to_numpy()
    if values.dtype.kind in "iub":
        return values.astype(np.int64, copy=False)
    try:
        as_float = values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold integers") from exc
    as_int = as_float.astype(np.int64)
    if not np.array_equal(as_int, as_float):
        raise ValueError(f"{name} must hold whole numbers")
    return as_int


def _day_values(series: pd.Series) -> np.ndarray:
    """Return naive midnight datetimes as int64 days since 1970-01-01."""
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        # An aware timestamp has no single calendar date until a time zone is chosen; that
        # choice belongs to the extract (project time zone), not to scoring.
        raise ValueError(f"{ORDER_DATE} must be naive dates in the project time zone")
    values = series.to_numpy()
    if np.isnat(values).any():
        raise ValueError(f"{ORDER_DATE} has missing values")
    unit, _ = np.datetime_data(values.dtype)
    per_day = _SECONDS_PER_DAY * {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    ticks = values.view(np.int64)
    days, rest = np.divmod(ticks, per_day)
    if rest.any():
        raise ValueError(f"{ORDER_DATE} must be dates at midnight (found a time of day)")
    return days


def order_arrays(orders: pd.DataFrame) -> OrderArrays:
    """Validate an orders frame and return its columns as numpy arrays.

    Raises ValueError for a missing column, a missing or negative `net_cents`, a missing or
    non-midnight or time-zone-aware `order_date`, a missing `category_only` or a category-only
    row with an amount. Rows with a missing `customer_id` are dropped (they cannot belong to a
    graded customer). Other extra columns are ignored.
    """
    _require(orders, ORDER_COLUMNS, "orders")
    customer = orders[CUSTOMER_ID]
    keep = customer.notna().to_numpy()
    if not keep.all():
        orders = orders.loc[keep]
        customer = orders[CUSTOMER_ID]
    customer_id = _int64_values(customer, CUSTOMER_ID, na_value=None)
    net = _int64_values(orders[NET_CENTS], NET_CENTS, na_value=None)
    if (net < 0).any():
        raise ValueError(f"{NET_CENTS} must not be negative")
    day = _day_values(orders[ORDER_DATE])
    category = orders[CATEGORY_ID]
    has_category = category.notna().to_numpy()
    category_id = _int64_values(category, CATEGORY_ID, na_value=0)
    if CATEGORY_ONLY in orders:
        only = orders[CATEGORY_ONLY]
        if only.isna().any():
            raise ValueError(f"{CATEGORY_ONLY} has missing values")
        is_order = ~only.to_numpy(dtype=bool)
        if (net[~is_order] != 0).any():
            raise ValueError(f"{CATEGORY_ONLY} rows must have net_cents 0")
    else:
        is_order = np.ones(customer_id.size, dtype=bool)
    return OrderArrays(customer_id, day, net, category_id, has_category, is_order)


def customer_table(customers: pd.DataFrame) -> pd.DataFrame:
    """Validate a customers frame and return a new, canonical one indexed by customer_id.

    The result is sorted by customer_id and has exactly the columns `industry` (str, NA kept)
    and `ENGAGEMENT_COUNT_COLUMNS` (int64); a missing count column or an NA count becomes 0.
    Raises ValueError for a missing or duplicated customer_id, a negative count, or
    on_time_orders > rated_orders. Extra columns are ignored.
    """
    _require(customers, (CUSTOMER_ID,), "customers")
    ids = _int64_values(customers[CUSTOMER_ID], CUSTOMER_ID, na_value=None)
    order: np.ndarray | None = None  # None: already sorted, keep the row order
    if ids.size > 1 and not (ids[1:] > ids[:-1]).all():
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        if (ids[1:] == ids[:-1]).any():
            raise ValueError(f"customers has duplicated {CUSTOMER_ID} values")

    def in_id_order(values: np.ndarray) -> np.ndarray:
        return values if order is None else values[order]

    if INDUSTRY in customers.columns:
        industry = customers[INDUSTRY].astype("str").array
        if order is not None:
            industry = industry.take(order)
    else:
        industry = pd.array(np.full(ids.size, np.nan, dtype=object), dtype="str")
    columns: dict[str, object] = {INDUSTRY: industry}
    counts: dict[str, np.ndarray] = {}
    for name in ENGAGEMENT_COUNT_COLUMNS:
        if name in customers.columns:
            values = in_id_order(_int64_values(customers[name], name, na_value=0))
            if (values < 0).any():
                raise ValueError(f"{name} must not be negative")
        else:
            values = np.zeros(ids.size, dtype=np.int64)
        counts[name] = values
    if (counts[ON_TIME_ORDERS] > counts[RATED_ORDERS]).any():
        raise ValueError(f"{ON_TIME_ORDERS} must not exceed {RATED_ORDERS}")
    columns.update(counts)
    return pd.DataFrame(columns, index=pd.Index(ids, name=CUSTOMER_ID))
