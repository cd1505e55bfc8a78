"""Operational tasks with no domain owner."""

from __future__ import annotations

import socket

from celery import shared_task
from django.db import connection

from common.services import notification_emails_send


@shared_task(name="common.healthcheck", soft_time_limit=30, time_limit=60)
def healthcheck_task() -> dict[str, object]:
    """Report that a worker is alive and can reach the database (used by ops and CI)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return {"worker": socket.gethostname(), "database": connection.vendor, "ok": one == 1}


@shared_task(
    name="common.send_notification_emails",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=600,
    time_limit=660,
)
def send_notification_emails_task() -> int:
    """E-mail pending notifications (each claimed, sent and marked in one transaction)."""
    return notification_emails_send()
