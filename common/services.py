"""Notifications: in-app rows plus an e-mail copy, sent on commit and never twice per event."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from common.messages import message_render
from common.models import Notification, UserPreference
from common.selectors import NOTIFICATIONS_TTL, NOTIFICATIONS_VERSION, notifications_version
from common.versions import version_replace

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NotificationDraft:
    """A message to be sent: its kind and parameters (worded by common.messages)."""

    recipient_id: int
    kind: str
    dedupe_key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    link: str = ""


def notification_send_many(*, drafts: Sequence[NotificationDraft]) -> int:
    """Create the in-app notifications not sent before and e-mail them after commit.

    `dedupe_key` (unique per recipient) makes this idempotent: a re-run of the job that
    produced the drafts creates and e-mails nothing new. Returns the number of rows offered.
    Raises UnknownMessageKind, before writing anything, for a kind no app words.
    """
    if not drafts:
        return 0
    rows = []
    with translation.override(settings.LANGUAGE_CODE):
        for d in drafts:
            text = message_render(d.kind, d.params)
            rows.append(
                Notification(
                    recipient_id=d.recipient_id,
                    kind=d.kind,
                    params=dict(d.params),
                    title=text.title[:200],
                    body=text.body,
                    link=d.link,
                    dedupe_key=d.dedupe_key[:150],
                )
            )
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    # bulk_create sends no signal: the unread counts are read afresh (one version for all
    # recipients: a run's notices may have a hundred thousand).
    version_replace(NOTIFICATIONS_VERSION)

    def enqueue() -> None:
        from common.tasks import send_notification_emails_task

        send_notification_emails_task.delay()

    transaction.on_commit(enqueue)
    return len(drafts)


def notification_emails_send(*, limit: int = 1000) -> int:
    """E-mail up to `limit` notifications not e-mailed yet; return how many were sent.

    At least once, never twice concurrently: each row is claimed (a compare-and-swap on
    `emailed_at`), e-mailed and committed in its own transaction. A failed send or a killed
    worker rolls its claim back, so the retried or redelivered task (or the five-minute
    sweep) sends it again; a second sender waits on the claimed row and then skips it. Only a
    crash after the mail server accepted a message and before the commit repeats that one
    e-mail. A message the server refuses for good (5xx for its recipient or content) keeps
    its claim and is logged: sending it again cannot succeed, and it must not hold up the
    rows after it.
    """
    sent = 0
    pending = (
        Notification.objects.filter(emailed_at__isnull=True)
        .exclude(recipient__email="")
        .select_related("recipient__preference")
        .order_by("id")[:limit]
    )
    for note in pending:
        with transaction.atomic():
            claimed = Notification.objects.filter(pk=note.pk, emailed_at__isnull=True).update(
                emailed_at=timezone.now()
            )
            if not claimed:
                continue
            try:
                with translation.override(user_language(note.recipient)):
                    subject = note.text.title
                    text, html = notification_email_bodies(note)
                send_mail(
                    subject,
                    text,
                    settings.DEFAULT_FROM_EMAIL,
                    [note.recipient.email],
                    fail_silently=False,
                    html_message=html,
                )
            except smtplib.SMTPException as exc:
                if not _refused_for_good(exc):
                    raise  # rolls the claim back
                logger.warning("Notification %s not e-mailed, refused: %s", note.pk, exc)
                continue
        sent += 1
    return sent


def notification_email_bodies(note: Notification) -> tuple[str, str]:
    """Return the plain-text and HTML bodies of a notification's e-mail, in the active language.

    Never empty: the message's text (its title when it has no body) and, when it is about a
    page, the page's absolute address (SITE_URL + link), so the reader can open it.
    """
    link = note.link
    if link.startswith("/") and not link.startswith("//"):
        link = settings.SITE_URL.rstrip("/") + link
    text = note.text
    context = {"title": text.title, "body": text.body or text.title, "url": link}
    return (
        render_to_string("common/notification_email.txt", context),
        render_to_string("common/notification_email.html", context),
    )


def _refused_for_good(exc: smtplib.SMTPException) -> bool:
    """Return True for a permanent (5xx) refusal of this message's recipient or content.

    Refusals of the sender or the login are configuration errors that every row would hit:
    they are raised, and the rows stay pending for the next attempt or sweep.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


def user_language(user: AbstractBaseUser) -> str:
    """Return the language `user` reads: their recorded choice, else the site's default."""
    try:
        return user.preference.language  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        return settings.LANGUAGE_CODE


def user_language_set(*, user: AbstractBaseUser, language: str) -> None:
    """Record that `user` reads `language` (ignored unless it is one of the site's languages)."""
    if language not in dict(settings.LANGUAGES):
        return
    UserPreference.objects.update_or_create(user_id=user.pk, defaults={"language": language})


def notification_mark_read(*, user_id: int, ids: Sequence[int] | None = None) -> int:
    """Mark the user's notifications (all, or `ids`) as read; return how many changed."""
    queryset = Notification.objects.filter(recipient_id=user_id, read_at__isnull=True)
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    changed = queryset.update(read_at=timezone.now())
    if changed:
        # update() sends no signal: the unread count is read afresh.
        version_replace(notifications_version(user_id), ttl=NOTIFICATIONS_TTL)
    return changed
