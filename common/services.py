"""Notifications: in-app rows plus an e-mail copy, sent on commit and never twice per event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from common.models import Notification


@dataclass(frozen=True, slots=True)
class NotificationDraft:
    recipient_id: int
    kind: str
    title: str
    body: str
    dedupe_key: str
    link: str = ""


def notification_send_many(*, drafts: Sequence[NotificationDraft]) -> int:
    """Create the in-app notifications not sent before and e-mail them after commit.

    `dedupe_key` (unique per recipient) makes this idempotent: a re-run of the job that
    produced the drafts creates and e-mails nothing new. Returns the number of rows offered.
    """
    if not drafts:
        return 0
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=d.recipient_id,
                kind=d.kind,
                title=d.title[:200],
                body=d.body,
                link=d.link,
                dedupe_key=d.dedupe_key[:150],
            )
            for d in drafts
        ],
        ignore_conflicts=True,
        batch_size=2000,
    )

    def enqueue() -> None:
        from common.tasks import send_notification_emails_task

        send_notification_emails_task.delay()

    transaction.on_commit(enqueue)
    return len(drafts)


def notification_emails_send(*, limit: int = 1000) -> int:
    """E-mail notifications not e-mailed yet; claim each row first so none goes out twice."""
    sent = 0
    pending = (
        Notification.objects.filter(emailed_at__isnull=True)
        .exclude(recipient__email="")
        .select_related("recipient")
        .order_by("id")[:limit]
    )
    for note in pending:
        claimed = Notification.objects.filter(pk=note.pk, emailed_at__isnull=True).update(
            emailed_at=timezone.now()
        )
        if claimed:
            send_mail(
                note.title,
                note.body,
                settings.DEFAULT_FROM_EMAIL,
                [note.recipient.email],
                fail_silently=False,
            )
            sent += 1
    return sent


def notification_mark_read(*, user_id: int, ids: Sequence[int] | None = None) -> int:
    """Mark the user's notifications (all, or `ids`) as read; return how many changed."""
    queryset = Notification.objects.filter(recipient_id=user_id, read_at__isnull=True)
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    return queryset.update(read_at=timezone.now())
