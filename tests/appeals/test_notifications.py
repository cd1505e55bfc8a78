"""Appeal notifications: in-app and e-mail, to the customer's portal users and the account
manager, sent on commit and never twice for one event."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse

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
    # The e-mail task is enqueued on commit only, once.
    with mock.patch("common.tasks.send_notification_emails_task.delay") as enqueued:
        assert not enqueued.called
        for callback in callbacks:
            callback()
    assert enqueued.call_count == 1

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
    # The customer reads about their own appeal; the manager about the customer's.
    titles = dict(
        Notification.objects.filter(kind="appeal_accepted").values_list(
            "recipient__username", "title"
        )
    )
    assert titles[carol.user.username].startswith(
        f"Your appeal #{appeal.pk} was accepted: your grade is Key again until "
    )
    assert carol.customer.name in titles[alice.username]

    sent = notification_emails_send()
    assert notification_emails_send() == 0
    assert sent == len(mail.outbox) == 9
    accepted = [m for m in mail.outbox if "accepted" in m.subject and m.to == [alice.email]]
    assert len(accepted) == 1
    assert "Confirmed." in accepted[0].body


@pytest.mark.django_db
def test_warnings_proposals_and_decisions_reach_manager_and_customer_once(scheme, alice, ops):
    """A Key customer stops ordering: the monthly runs warn, then propose a downgrade; ops
    approve it. Manager and customer hear each event once, however often the jobs re-run."""
    import datetime as dt

    import time_machine

    from grading.models import GradeChange
    from grading.services.notifications import run_notify
    from grading.services.reviews import grade_change_approve
    from grading.services.runs import grading_run_execute
    from tests.customers.factories import CustomerFactory
    from tests.grading.factories import at, orders_for

    customer = CustomerFactory(code="SLIDE", account_manager=alice)
    login = CustomerAccountFactory(customer=customer)
    orders_for(customer, *[(dt.date(2026, 1, 10 + 2 * i), "300") for i in range(8)])
    runs = []
    for month in (2, 3, 4, 5, 6):
        as_of = dt.date(2026, month, 1)
        with time_machine.travel(at(as_of), tick=False):
            runs.append(grading_run_execute(as_of=as_of, scheme=scheme))
    for run in runs:
        run_notify(run_id=run.pk)
    change = GradeChange.objects.get(customer=customer, direction="down", status="proposed")
    grade_change_approve(change_ids=[change.pk], by=ops, note="Purchases stopped in January.")

    def sent():
        return sorted(Notification.objects.values_list("recipient__username", "kind"))

    before = sent()
    for run in runs:  # every job redelivered
        run_notify(run_id=run.pk)
    emailed = notification_emails_send()

    assert sent() == before
    manager = {kind for user, kind in before if user == alice.username}
    mine = {kind for user, kind in before if user == login.user.username}
    assert {"grade_warn", "grade_propose_downgrade", "change_approved"} <= manager
    assert {"grade_propose_downgrade", "change_approved"} <= mine
    assert "grade_warn" not in mine  # a warning is the manager's cue to reach out
    assert emailed == len(before) == len(mail.outbox)
    assert notification_emails_send() == 0


@pytest.mark.django_db
def test_opening_a_message_marks_it_read_and_goes_to_its_page(client, carol, alice):
    from common.services import NotificationDraft, notification_send_many

    notification_send_many(
        drafts=[
            NotificationDraft(
                recipient_id=carol.user.pk,
                kind="grades_check",
                params={"count": 1, "lines": []},
                link="/portal/appeals/",
                dedupe_key="open-1",
            ),
            NotificationDraft(
                recipient_id=alice.pk,
                kind="grades_check",
                params={"count": 2, "lines": []},
                dedupe_key="x",
            ),
        ]
    )
    mine = Notification.objects.get(recipient=carol.user)
    others = Notification.objects.get(recipient=alice)
    client.force_login(carol.user)

    response = client.get(reverse("portal:notification_open", args=[mine.pk]))

    assert response["Location"] == "/portal/appeals/"
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert client.get(reverse("portal:notification_open", args=[others.pk])).status_code == 404
    page = client.get(reverse("portal:notifications")).content.decode()
    assert reverse("portal:notification_open", args=[mine.pk]) in page


def _key_and_growth_in_chinese(change):
    for grade, chinese in ((change.from_grade, "重点客户"), (change.to_grade, "成长客户")):
        grade.name_zh_hans = chinese
        grade.save(update_fields=["name_zh_hans"])


@pytest.mark.django_db
def test_an_accepted_appeal_reads_in_each_readers_language_and_person(
    client, carol, carols_change, alice, ops
):
    """The same stored message: the customer reads "your grade ... until", the manager reads
    about the customer; each in the language they are using, the date as they write it."""
    import datetime as dt

    _key_and_growth_in_chinese(carols_change)
    appeal = file_appeal(carol, carols_change)
    services.appeal_accept(
        appeal_id=appeal.pk, by=ops, note="Confirmed.", today=dt.date(2026, 12, 4)
    )
    note = Notification.objects.get(recipient=carol.user, kind="appeal_accepted")
    until = note.params["until"]
    assert until == dt.date(2027, 3, 4).isoformat()  # one quarterly review period of Key

    client.force_login(carol.user)
    english = client.get(reverse("portal:notifications")).content.decode()
    assert (
        f"Your appeal #{appeal.pk} was accepted: your grade is Key again until March 4, 2027"
        in english
    )
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get(reverse("portal:notifications")).content.decode()
    title = f"您的申诉 #{appeal.pk} 已通过：您的等级已恢复为重点客户，保持至2027年3月4日"  # noqa: RUF001
    assert title in chinese
    assert "Confirmed." in chinese  # what the reviewer wrote stays as written

    client.force_login(alice)
    manager_page = client.get(reverse("manager:notifications")).content.decode()
    assert f"申诉 #{appeal.pk}" in manager_page
    assert carol.customer.name in manager_page
    assert "您的申诉" not in manager_page  # the manager is not addressed as the customer


@pytest.mark.django_db
def test_an_email_is_written_in_the_recipients_language(carol, carols_change, ops):
    from common.services import user_language_set

    _key_and_growth_in_chinese(carols_change)
    user_language_set(user=carol.user, language="zh-hans")
    appeal = file_appeal(carol, carols_change)
    notification_emails_send()

    (to_carol,) = [m for m in mail.outbox if m.to == [carol.user.email]]
    assert to_carol.subject == f"我们已收到您针对调整为成长客户的申诉 #{appeal.pk}"
    assert "打开页面" in to_carol.body  # the template's words too
    assert f"/portal/appeals/{appeal.pk}/" in to_carol.body


@pytest.mark.django_db
def test_an_accepted_appeals_history_row_reads_in_the_readers_language(carol, carols_change, ops):
    from django.utils import translation

    from grading.models import GradeAuditEntry

    appeal = file_appeal(carol, carols_change)
    with translation.override("en"):  # the reviewer works in English
        services.appeal_accept(appeal_id=appeal.pk, by=ops, note="Confirmed.")
    entry = GradeAuditEntry.objects.get(customer=carol.customer, source="appeal")

    with translation.override("zh-hans"):
        assert entry.reason_text == f"申诉 #{appeal.pk} 已接受：Confirmed."  # noqa: RUF001
    with translation.override("en"):
        assert entry.reason_text == f"Appeal #{appeal.pk} accepted: Confirmed."
