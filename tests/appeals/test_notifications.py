"""Appeal notifications: in-app and e-mail, to the customer's portal users and the account
manager, sent on commit and never twice for one event."""

from __future__ import annotations

import pytest
from django.core import mail

from appeals import services
from common.models import Notification
from common.services import notification_emails_send
from tests.appeals.factories import CustomerAccountFactory, file_appeal


@pytest.mark.django_db
def test_each_transition_notifies_customer_users_and_manager_once(
    carol, carols_change, alice, ops, django_capture_on_commit_callbacks
):
    second_login = CustomerAccountFactory(customer=carol.customer)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        appeal = file_appeal(carol, carols_change)
    assert len(callbacks) == 1  # the e-mail task is enqueued on commit only

    services.appeal_start_review(appeal_id=appeal.pk, by=ops)
    services.appeal_start_review(appeal_id=appeal.pk, by=ops)  # no-op: no second message
    services.appeal_accept(appeal_id=appeal.pk, by=ops, note="Confirmed.")
    services._notify(appeal=appeal, note="Confirmed.")  # a replayed event

    keys = sorted(Notification.objects.values_list("recipient__username", "dedupe_key"))
    recipients = sorted([carol.user.username, second_login.user.username, alice.username])
    expected = sorted(
        (user, f"appeal:{appeal.pk}:{status}")
        for user in recipients
        for status in ("submitted", "under_review", "accepted")
    )
    assert keys == expected
    assert Notification.objects.filter(recipient=carol.user, kind="appeal_accepted").get().link == (
        f"/portal/appeals/{appeal.pk}/"
    )

    sent = notification_emails_send()
    assert notification_emails_send() == 0
    assert sent == len(mail.outbox) == 9
    accepted = [m for m in mail.outbox if "accepted" in m.subject and m.to == [alice.email]]
    assert len(accepted) == 1
    assert "Confirmed." in accepted[0].body
