"""Account managers hear about upgrades, warnings and proposals: once, in-app and by e-mail."""

import datetime as dt

import pytest
from django.core import mail

from common.models import Notification
from common.services import notification_emails_send
from grading.services.notifications import run_notify
from grading.services.runs import grading_run_execute
from manager.tasks import queue_needs_rebuild_task
from tests.customers.factories import CustomerFactory
from tests.grading.factories import orders_for


@pytest.mark.django_db
def test_upgrade_notifies_the_manager_once_in_app_and_by_email(
    scheme, alice, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(code="UP", account_manager=alice)
    CustomerFactory(code="NOBODY")  # no manager: nobody to tell
    grading_run_execute(as_of=dt.date(2026, 2, 1), scheme=scheme)
    orders_for(customer, *[(dt.date(2026, 2, 1 + i), "300") for i in range(17)])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = grading_run_execute(as_of=dt.date(2026, 3, 1), scheme=scheme)
    # The notification task is enqueued on commit only (beside the manager queue's rebuild).
    assert len([c for c in callbacks if c != queue_needs_rebuild_task.delay]) == 1

    created = run_notify(run_id=run.pk)
    run_notify(run_id=run.pk)  # a redelivered task
    sent = notification_emails_send()
    notification_emails_send()

    note = Notification.objects.get()
    assert created == 1
    assert note.recipient == alice
    assert note.kind == "grade_upgrade"
    assert "UP" in note.title
    assert "Key" in note.title
    assert sent == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [alice.email]


@pytest.mark.django_db
def test_customers_portal_logins_hear_about_their_upgrade_once(scheme, alice):
    from customers.models import CustomerAccount
    from tests.customers.factories import UserFactory

    customer = CustomerFactory(code="UP", account_manager=alice)
    login = UserFactory(username="up-portal")
    CustomerAccount.objects.create(user=login, customer=customer)
    grading_run_execute(as_of=dt.date(2026, 2, 1), scheme=scheme)
    orders_for(customer, *[(dt.date(2026, 2, 1 + i), "300") for i in range(17)])
    run = grading_run_execute(as_of=dt.date(2026, 3, 1), scheme=scheme)

    run_notify(run_id=run.pk)
    run_notify(run_id=run.pk)

    mine = Notification.objects.get(recipient=login)
    assert mine.title == "Congratulations: you are now Key"
    assert mine.link == "/portal/"
    assert Notification.objects.filter(recipient=alice).count() == 1
