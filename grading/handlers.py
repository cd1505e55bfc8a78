"""Grading's receivers of other apps' signals (connected in `GradingConfig.ready`).

Committed order writes enqueue the provisional upgrade check of their customers
(`grading.services.provisional`): the imports send `customers.signals.orders_written`, a
single order saved through the ORM (the admin) its `post_save`.
"""

from __future__ import annotations

from typing import Any

from grading.services.provisional import provisional_upgrade_enqueue


def orders_written_received(sender: Any, *, customer_ids: list[int], **kwargs: Any) -> None:
    provisional_upgrade_enqueue(customer_ids=customer_ids)


def order_saved(sender: Any, *, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if not raw:  # loaddata writes history, not new orders
        provisional_upgrade_enqueue(customer_ids=[instance.customer_id])


def connect_signals() -> None:
    """Wire the order writes to the provisional upgrade check."""
    from django.db.models.signals import post_save

    from customers.models import Order
    from customers.signals import orders_written

    orders_written.connect(orders_written_received, dispatch_uid="grading_provisional_orders")
    post_save.connect(order_saved, sender=Order, dispatch_uid="grading_provisional_order_saved")
