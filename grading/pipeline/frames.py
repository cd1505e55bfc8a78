"""What both backends' reads share: the empty orders frame, the customer-id range filter and
the names of the window's profit columns."""

from __future__ import annotations

from typing import Any

import pandas as pd

#: The facts frame's columns after `scoring.FACT_COLUMNS`: the window's recorded profit in
#: cents and its counted orders without a recorded profit. Not scoring inputs: the run writes
#: them on its snapshots for the reports and the what-if (docs/grading.md, "Customer facts").
WINDOW_PROFIT_CENTS = "window_profit_cents"
UNKNOWN_PROFIT = "unknown_profit"


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
