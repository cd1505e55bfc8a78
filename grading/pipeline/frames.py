"""What both backends' reads share: the empty orders frame and the customer-id range filter."""

from __future__ import annotations

from typing import Any

import pandas as pd


def empty_orders() -> pd.DataFrame:
    """Return the extract's orders frame with no rows (scoring's columns, `on_time` and
    `category_only`)."""
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype="int64"),
            "order_date": pd.Series(dtype="datetime64[s]"),
            "net_cents": pd.Series(dtype="int64"),
            "category_id": pd.Series(dtype="Int64"),
            "on_time": pd.Series(dtype="int8"),
            "category_only": pd.Series(dtype="bool"),
        }
    )


def in_id_range(queryset: Any, field: str, id_range: tuple[int, int] | None) -> Any:
    """Return `queryset` limited to `field` in the half-open range `id_range` (None: all)."""
    if id_range is None:
        return queryset
    low, high = id_range
    return queryset.filter(**{f"{field}__gte": low, f"{field}__lt": high})
