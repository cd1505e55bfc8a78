"""What the pipeline does differently on PostgreSQL and elsewhere (SQLite), chosen here.

Both modules expose the functions of `Backend`; `current()` picks one by the connection's
vendor, the only place the pipeline asks. Callers look the function up on the module
`current()` returns at each call (`backends.current().customers_hold(...)`), so a test can
replace one with `monkeypatch.setattr(postgresql, "customers_hold", ...)`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from django.db import connection

from grading.pipeline.backends import postgresql, sqlite


class Backend(Protocol):
    """The functions both backend modules define (a module satisfies this protocol)."""

    def read_period(
        self,
        start: dt.datetime,
        end: dt.datetime,
        statuses: list[str],
        id_range: tuple[int, int] | None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Return the period's `(orders, customers)` frames, customers without on-time counts."""
        ...

    def facts_unusable(self) -> str | None:
        """Why a run cannot read the customer facts now; None when it can."""
        ...

    def read_facts(
        self,
        as_of: dt.date,
        window_days: int,
        statuses: list[str],
        id_range: tuple[int, int] | None,
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Return `(segments, earlier, categories, customers)` for `facts_from_segments`."""
        ...

    def grade_states(self, span: tuple[int, int] | None) -> pd.DataFrame:
        """Return current_grade (code) and periods_under by customer_id, ids within `span`."""
        ...

    def foreign_keys_immediate(self) -> None:
        """Check foreign keys at the end of each statement from now on."""
        ...

    def foreign_keys_deferred(self) -> None:
        """Check foreign keys at the commit again (Django's default)."""
        ...

    def load(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        values: Sequence[np.ndarray],
        *,
        analyze: Sequence[str],
    ) -> None:
        """Fill the new temporary `table` ((name, numpy kind) columns) with aligned arrays."""
        ...

    def customers_hold(self, table: str, rows: int) -> int:
        """Keep the customers of `table` from being deleted until the commit; drop vanished
        ones and return how many rows went."""
        ...

    def insert_ignore_sql(self, table: str, columns: Sequence[str], select_sql: str) -> str:
        """Return INSERT ... SELECT that skips rows violating a unique constraint."""
        ...

    def decode(self, column: str, labels: Sequence[str]) -> tuple[str, list[Any]]:
        """Return SQL turning a 1-based code column back into its text, and its parameters."""
        ...

    def returned_mark(
        self,
        statements: Sequence[tuple[str, Sequence[Any]]],
        *,
        table: str,
        assignment: str,
        expected: int,
    ) -> int:
        """Run grade-state writes that return customer ids; return how many. Apply
        `assignment` to those rows of `table`, at least when fewer than `expected` came back."""
        ...

    def changes_insert(
        self,
        columns: Sequence[str],
        select_sql: str,
        params: Sequence[Any],
        *,
        run_id: int,
        now: dt.datetime,
        first_write: bool,
    ) -> None:
        """Insert the changes `select_sql` yields, and an audit row per applied change;
        `first_write`: no change of the run can exist yet."""
        ...


def current() -> Backend:
    """Return the backend of the default connection: PostgreSQL's, or SQLite's for the rest."""
    return postgresql if connection.vendor == "postgresql" else sqlite
