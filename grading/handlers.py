"""Grading's signal receivers (connected in `GradingConfig.ready`).

Committed order writes enqueue the provisional upgrade check of their customers
(`grading.services.provisional`): the imports send `customers.signals.orders_written`, a
single order saved through the ORM (the admin) its `post_save`. A grade, scheme or rung
saved or deleted replaces the cached ladder's version (`grading.selectors.LADDER_VERSION`).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

from common.versions import version_replace
from grading.selectors import LADDER_VERSION
from grading.services.provisional import provisional_upgrade_enqueue


def orders_written_received(sender: Any, *, customer_ids: list[int], **kwargs: Any) -> None:
    provisional_upgrade_enqueue(customer_ids=customer_ids)


def order_saved(sender: Any, *, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if not raw:  # loaddata writes history, not new orders
        provisional_upgrade_enqueue(customer_ids=[instance.customer_id])


def ladder_changed(**kwargs: Any) -> None:
    version_replace(LADDER_VERSION)


def ladder_changed_on(*models: type[Model]) -> None:
    """Replace the ladder's version whenever a row of `models` is saved or deleted, or added
    to or removed from a many-to-many relation through them (`set()` saves no row)."""
    for model in models:
        label = model._meta.label_lower
        post_save.connect(ladder_changed, sender=model, dispatch_uid=f"ladder-save-{label}")
        post_delete.connect(ladder_changed, sender=model, dispatch_uid=f"ladder-delete-{label}")
        m2m_changed.connect(ladder_changed, sender=model, dispatch_uid=f"ladder-m2m-{label}")


def connect_signals() -> None:
    """Wire the order writes to the provisional upgrade check, and the ladder's rows to the
    ladder's cached version (every migrate replaces it too: data migrations write past us)."""
    from customers.models import Order
    from grading.models import Grade, GradingScheme, SchemeGrade

    ladder_changed_on(Grade, GradingScheme, SchemeGrade)
    post_migrate.connect(ladder_changed, dispatch_uid="ladder-migrate")
    from customers.signals import orders_written

    orders_written.connect(orders_written_received, dispatch_uid="grading_provisional_orders")
    post_save.connect(order_saved, sender=Order, dispatch_uid="grading_provisional_order_saved")
