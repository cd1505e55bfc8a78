"""Signals customers sends for consumers it must not know about (docs/architecture.md, "Layers").

`customers_written_in_bulk` is sent inside the writer's transaction after a bulk statement
(`bulk_create`, `QuerySet.update`, the imports' COPY and `UPDATE ... FROM`) wrote customers or
rows that belong to customers, which sends no `post_save`. Any app below the interface apps
may send it. The sender is the model written; keyword argument `customer_ids` (a sorted list
of ints, the customers whose rows changed). The manager queue's needs table
(`manager.needs`) refreshes those customers' rows from it.

`orders_written` is sent inside the writer's transaction by the order imports
(`customers.services.imports.order_import`: files, the API, the command;
`customers.services.lines.order_lines_import`) once their orders are written, with keyword
argument `customer_ids` (a sorted list of ints: the customers whose orders were created or
changed). A single order saved through the ORM (the admin) sends `post_save` instead.
Grading enqueues its provisional upgrade check from it (`grading.handlers`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Model
from django.dispatch import Signal

customers_written_in_bulk = Signal()


def customers_written_in_bulk_send(
    *, model: type[Model], customer_ids: Iterable[int | None]
) -> None:
    """Send `customers_written_in_bulk` for `customer_ids` (nothing when there are none;
    None, an id a backend did not return, is left out)."""
    ids = sorted({int(pk) for pk in customer_ids if pk is not None})
    if ids:
        customers_written_in_bulk.send(sender=model, customer_ids=ids)


orders_written = Signal()


def orders_written_send(*, customer_ids: Iterable[int | None]) -> None:
    """Send `orders_written` for `customer_ids` (nothing when there are none)."""
    ids = sorted({int(pk) for pk in customer_ids if pk is not None})
    if ids:
        orders_written.send(sender=None, customer_ids=ids)
