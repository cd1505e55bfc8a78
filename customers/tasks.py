"""Celery entry points of the customers app: thin, ids in, a status out."""

from __future__ import annotations

from celery import shared_task

from customers.services.line_imports import line_import_run


@shared_task(
    name="customers.import_order_lines",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=3 * 3600,
    time_limit=3 * 3600 + 300,
)
def import_order_lines_task(import_id: int) -> dict[str, object]:
    """Run the sales-line import `import_id` (a `LineImport`); a redelivery does nothing."""
    record = line_import_run(import_id=import_id)
    return {"import": record.pk, "status": record.status}
