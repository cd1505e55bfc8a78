"""Notification e-mails go out at least once: a failed send is not marked as sent, and a
message refused for good does not hold up the rest."""

import smtplib

import pytest
from django.core import mail

from common import services
from common.models import Notification
from common.services import NotificationDraft, notification_emails_send, notification_send_many


def _drafts(user, n):
    """`n` messages whose subjects tell them apart ("... 0 problems found", "... 1 ...")."""
    return [
        NotificationDraft(
            recipient_id=user.pk,
            kind="grades_check",
            params={"count": i, "lines": []},
            dedupe_key=f"k{i}",
        )
        for i in range(n)
    ]


def T(i):
    return f"Grade integrity check: {i} problems found"


@pytest.mark.django_db
def test_a_failed_send_stays_pending_and_the_retry_sends_each_email_once(alice, monkeypatch):
    notification_send_many(drafts=_drafts(alice, 3))
    real_send_mail = services.send_mail
    calls = []

    def flaky_send_mail(subject, *args, **kwargs):
        calls.append(subject)
        if len(calls) == 2:
            raise smtplib.SMTPServerDisconnected("gone")
        return real_send_mail(subject, *args, **kwargs)

    monkeypatch.setattr(services, "send_mail", flaky_send_mail)

    with pytest.raises(smtplib.SMTPServerDisconnected):
        notification_emails_send()  # the task's first attempt
    pending = Notification.objects.filter(emailed_at__isnull=True)
    assert sorted(pending.values_list("title", flat=True)) == [T(1), T(2)]

    assert notification_emails_send() == 2  # the retry
    assert notification_emails_send() == 0
    assert sorted(m.subject for m in mail.outbox) == [T(0), T(1), T(2)]


@pytest.mark.django_db
def test_a_recipient_refused_for_good_does_not_hold_up_the_others(alice, monkeypatch):
    notification_send_many(drafts=_drafts(alice, 3))
    real_send_mail = services.send_mail

    def refusing_send_mail(subject, message, from_email, recipient_list, **kwargs):
        if subject == T(0):
            raise smtplib.SMTPRecipientsRefused({recipient_list[0]: (550, b"no such user")})
        return real_send_mail(subject, message, from_email, recipient_list, **kwargs)

    monkeypatch.setattr(services, "send_mail", refusing_send_mail)

    assert notification_emails_send() == 2
    assert notification_emails_send() == 0  # the refused one is not tried again
    assert sorted(m.subject for m in mail.outbox) == [T(1), T(2)]


@pytest.mark.django_db
def test_an_email_has_a_subject_a_body_and_the_pages_address_in_text_and_html(alice, settings):
    settings.SITE_URL = "https://tierhub.example.com"
    notification_send_many(
        drafts=[
            NotificationDraft(
                recipient_id=alice.pk,
                kind="grade_upgrade",
                params={"action": "upgrade", "audience": "customer", "grade": {"en": "Key"}},
                link="/manager/customers/7/",
                dedupe_key="one",
            )
        ]
    )

    assert notification_emails_send() == 1

    (message,) = mail.outbox
    assert message.subject == "Congratulations: you are now Key"
    assert "Congratulations: you are now Key" in message.body  # never an empty body
    assert "https://tierhub.example.com/manager/customers/7/" in message.body
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert 'href="https://tierhub.example.com/manager/customers/7/"' in html
