"""Portal pages: the grade and why, the next grade, the ladder, history, the appeal flow,
messages, Chinese, the portal login (with lock-out) and a bounded number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from appeals.models import Appeal
from common.models import Notification
from grading.models import ScoreSnapshot
from tests.appeals.factories import PASSWORD, downgrade, file_appeal, pdf, portal_customer


@pytest.mark.django_db
def test_home_shows_grade_explanation_next_grade_and_appealable_downgrade(client, carol):
    latest = carol.customer.snapshots.order_by("-run__as_of")[:1]
    ScoreSnapshot.objects.filter(pk__in=latest).update(rule="downgrade_after")
    client.force_login(carol.user)

    page = client.get(reverse("portal:home")).content.decode()

    assert "Growth" in page  # the current grade
    assert "First response within 8 hours" in page  # what it brings
    assert "Why you have this grade" in page
    assert "Your last counted order was 40 days before" in page
    # The rule of the latest grading, in words: Key has been short for its 3 reviews.
    assert "You were below what Key requires at 3 reviews in a row, so your grade" in page
    assert "would reach Key" in page or "Purchases alone" in page
    assert reverse("portal:appeal_new", args=[carol.customer.grade_changes.get().pk]) in page


@pytest.mark.django_db
def test_grades_page_publishes_every_grade_with_criteria(client, carol):
    client.force_login(carol.user)

    page = client.get(reverse("portal:grades")).content.decode()

    for name in ("Strategic", "Key", "Growth", "Standard", "Basic"):
        assert name in page
    assert "Overall score of 70 or more" in page
    assert "Reviewed every quarter" in page
    assert "lowered by one grade only after 3 reviews in a row below these requirements" in page
    assert "lowered by one grade only after 2 reviews in a row" in page  # monthly Growth


@pytest.mark.django_db
def test_filing_an_appeal_through_the_portal(client, carol, carols_change, alice):
    client.force_login(carol.user)
    url = reverse("portal:appeal_new", args=[carols_change.pk])

    assert client.get(url).status_code == 200
    response = client.post(url, {"reason": "Warehouse move.", "evidence": [pdf()]}, follow=True)

    appeal = Appeal.objects.get()
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("portal:appeal_detail", args=[appeal.pk])
    assert "Submitted" in page
    assert "invoice.pdf" in page
    assert appeal.evidence.count() == 1
    # The change is no longer offered for a second appeal.
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_an_empty_reason_is_refused_by_the_form(client, carol, carols_change):
    client.force_login(carol.user)

    response = client.post(reverse("portal:appeal_new", args=[carols_change.pk]), {"reason": ""})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Appeal.objects.exists()


@pytest.mark.django_db
def test_the_customer_can_withdraw_an_open_appeal(client, carol, carols_change):
    appeal = file_appeal(carol, carols_change)
    client.force_login(carol.user)

    client.post(reverse("portal:appeal_withdraw", args=[appeal.pk]))

    appeal.refresh_from_db()
    assert appeal.status == "withdrawn"


@pytest.mark.django_db
def test_the_status_page_shows_the_decision_and_ops_note(client, carol, carols_change, ops):
    from appeals.services import appeal_reject

    appeal = file_appeal(carol, carols_change)
    appeal_reject(appeal_id=appeal.pk, by=ops, note="Purchases fell three months in a row.")
    client.force_login(carol.user)

    page = client.get(reverse("portal:appeal_detail", args=[appeal.pk])).content.decode()

    assert "Rejected" in page
    assert "Purchases fell three months in a row." in page


@pytest.mark.django_db
def test_unread_messages_are_counted_and_can_be_marked_read(client, carol, carols_change):
    file_appeal(carol, carols_change)  # notifies the customer
    client.force_login(carol.user)

    page = client.get(reverse("portal:home")).content.decode()
    assert 'data-testid="unread">1<' in page
    client.post(reverse("portal:notifications"))

    assert not Notification.objects.filter(recipient=carol.user, read_at__isnull=True).exists()


@pytest.mark.django_db
def test_the_portal_speaks_chinese(client, carol):
    client.force_login(carol.user)

    response = client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert response.headers["Content-Language"] == "zh-hans"
    assert "我的等级" in response.content.decode()  # "My grade"


@pytest.mark.django_db
def test_portal_login_and_logout(client, carol):
    response = client.post(
        reverse("portal:login"), {"username": carol.user.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")

    client.post(reverse("portal:logout"))
    assert client.get(reverse("portal:home")).status_code == 302


@pytest.mark.django_db
def test_portal_login_locks_out_after_repeated_failures(client, carol, settings):
    url = reverse("portal:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": carol.user.username, "password": "wrong"})

    response = client.post(url, {"username": carol.user.username, "password": PASSWORD})

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_password_reset_mails_a_working_link(client, carol, mailoutbox):
    client.post(reverse("portal:password_reset"), {"email": carol.user.email})

    assert len(mailoutbox) == 1
    link = next(line for line in mailoutbox[0].body.splitlines() if "/portal/reset/" in line)
    form = client.get(link.split("testserver", 1)[1], follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "A-new-pass-4321", "new_password2": "A-new-pass-4321"},
    )
    assert done["Location"] == reverse("portal:password_reset_complete")
    carol.user.refresh_from_db()
    assert carol.user.check_password("A-new-pass-4321")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "queries"), [("portal:home", 17), ("portal:history", 8), ("portal:appeals", 6)]
)
def test_portal_pages_run_a_fixed_number_of_queries(
    client, alice, name, queries, django_assert_max_num_queries
):
    """Measured, with the session and user of every request (one query finds the customer
    with its grade row)."""
    account, change = portal_customer(code="Q1", manager=alice)
    client.force_login(account.user)
    file_appeal(account, change, files=[pdf()])
    with django_assert_max_num_queries(queries) as small:
        assert client.get(reverse(name)).status_code == 200

    # More downgrades, appeals and history rows: the same number of queries.
    for month in (1, 3, 5, 7, 9, 11):  # runs a month apart would share snapshots
        other = downgrade(account.customer, status="applied", as_of=dt.date(2025, month, 1))
        if month % 3:
            file_appeal(account, other)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(reverse(name)).status_code == 200


@pytest.mark.django_db
def test_home_lists_the_grades_benefits_with_what_is_left(client, carol):
    client.force_login(carol.user)

    page = client.get(reverse("portal:home")).content.decode()

    assert "Free shipping" in page
    assert "4 of 4 left this period" in page


@pytest.mark.django_db
def test_points_page_shows_balance_and_tasks(client, carol):
    from customers.services.points import points_credit

    points_credit(
        customer_id=carol.customer.pk,
        task_code="complete_profile",
        points=10,
        dedupe_key="complete_profile",
        reason="Profile completed",
    )
    client.force_login(carol.user)

    page = client.get(reverse("portal:points")).content.decode()

    assert "You have 10 growth points." in page
    assert "Complete the profile" in page
    assert "Profile completed" in page


@pytest.fixture
def grade_names_zh():
    """The Chinese names of the seeded grades, as grading's migration 0013 wrote them."""
    return {
        "Strategic": "战略客户",
        "Key": "重点客户",
        "Growth": "成长客户",
        "Standard": "标准客户",
        "Basic": "基础客户",
    }


@pytest.mark.django_db
def test_rfm_labels_and_grade_names_are_shown_in_chinese(client, carol, grade_names_zh):
    client.force_login(carol.user)

    home = client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    ladder = client.get(reverse("portal:grades"), HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()

    assert "需要关注" in home  # the snapshot's RFM label, needs_attention
    assert f"{grade_names_zh['Key']} → {grade_names_zh['Growth']}" in home  # the downgrade
    assert f">{grade_names_zh['Growth']}</span>" in home  # the current grade
    assert ">Growth<" not in home
    for english in ("Strategic", "Key", "Growth", "Standard", "Basic"):
        assert grade_names_zh[english] in ladder
    english_home = client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Key → Growth" in english_home


@pytest.mark.django_db
def test_a_grade_renamed_by_ops_is_shown_as_written_in_each_language(grade_names_zh):
    from django.utils import translation

    from appeals.labels import grade_label
    from tests.grading.factories import grade

    growth = grade("growth")
    with translation.override("zh-hans"):
        assert grade_label(growth) == grade_names_zh["Growth"]
    growth.name_en, growth.name_zh_hans = "Silver", ""
    growth.save()
    growth.refresh_from_db()
    with translation.override("zh-hans"):
        assert grade_label(growth) == "Silver"  # no Chinese name: the English one
    growth.name_zh_hans = "白银客户"
    growth.save()
    with translation.override("zh-hans"):
        assert grade_label(growth) == "白银客户"
        assert grade_label(None) == "—"
    with translation.override("en"):
        assert grade_label(growth) == "Silver"


@pytest.mark.django_db
def test_the_portal_is_laid_out_for_phones(client, carol):
    client.force_login(carol.user)

    page = client.get(reverse("portal:history")).content.decode()

    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<div class="table-wrap"><table>' in page  # wide tables scroll inside the page
    css = (settings_static_root() / "css" / "tierhub.css").read_text()
    assert "@media (min-width:" in css  # one column first, two on wider screens


def settings_static_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "static"


@pytest.mark.django_db
def test_history_lists_each_grade_held_and_why(client, carol, carols_change, ops):
    from appeals.services import appeal_accept

    appeal = file_appeal(carol, carols_change)
    appeal_accept(appeal_id=appeal.pk, by=ops, note="Delay on our side.")
    client.force_login(carol.user)

    page = client.get(reverse("portal:history")).content.decode()

    assert "<td>Growth</td><td>Key</td><td>Appeal</td>" in page
    assert "Key → Growth" in page  # the downgrade, no longer appealable
    assert reverse("portal:appeal_new", args=[carols_change.pk]) not in page


@pytest.mark.django_db
def test_home_shows_the_benefits_used(client, carol):
    from benefits.services.redemptions import benefit_redeem

    benefit_redeem(
        customer_id=carol.customer.pk,
        benefit_code="free-shipping",
        idempotency_key="ship-1",
        channel="admin",
    )
    client.force_login(carol.user)

    page = client.get(reverse("portal:home")).content.decode()

    assert 'data-testid="redemptions"' in page
    assert 'Free shipping <span class="muted">(Growth)</span>' in page
    assert "3 of 4 left this period" in page


@pytest.mark.django_db
def test_the_next_grade_sentence_matches_a_hand_computed_case(client, alice, scheme):
    """Key needs 55 in the scheme's ladder; one R/F/M step is worth 100/12 = 8.33 points.

    Two orders of 300 just before the June 1 run: r 5, f 2 (F 2), m 1 (M 600):
    H = 100 (4 + 1 + 0) / 12 = 41.67 -> Growth, 13.33 short of Key = two steps.
    - orders at the average 300: one more gives F 3 / M 900 (no step); two more give
      F 4 (f 3) and M 1,200 (m 2): two steps -> "2 more orders";
    - one order lifting M to 1,000 gives m 2 only (one step); to 5,000 gives m 3 and,
      with F 3 still f 2, two steps -> "4,400 more in net purchases".
    Seen on June 10, the next monthly run is July 1: "by June 30"."""
    import time_machine

    from grading.models import CustomerGrade, GradingScheme
    from grading.services.runs import grading_run_execute
    from tests.appeals.factories import CustomerAccountFactory
    from tests.customers.factories import CustomerFactory
    from tests.grading.factories import at, orders_for

    GradingScheme.objects.filter(status="active").update(status="retired")
    GradingScheme.objects.filter(pk=scheme.pk).update(status="active")
    customer = CustomerFactory(code="HAND", account_manager=alice)
    account = CustomerAccountFactory(customer=customer)
    orders_for(customer, (dt.date(2026, 5, 20), "300"), (dt.date(2026, 5, 25), "300"))
    with time_machine.travel(at(dt.date(2026, 6, 1), 9), tick=False):
        grading_run_execute(as_of=dt.date(2026, 6, 1), scheme=scheme)
    snapshot = customer.snapshots.get()
    assert (snapshot.r_score, snapshot.f_score, snapshot.m_score) == (5, 2, 1)
    assert snapshot.composite == pytest.approx(41.6667)
    assert CustomerGrade.objects.get(customer=customer).grade.code == "growth"

    client.force_login(account.user)
    with time_machine.travel(at(dt.date(2026, 6, 10)), tick=False):
        page = client.get(reverse("portal:home")).content.decode()

    assert (
        "2 more orders or ¥4,400.00 more in net purchases by June 30 would reach Key (an estimate)."
        in page
    )


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_grade_joined_to_the_customer_explains_as_the_grade_read_apart(carol, language):
    """The portal's customer comes with its grade row (customer_for_portal_user): the
    explanation reuses it, one query fewer, and says the same as one that reads it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import translation

    from customers.models import Customer
    from customers.selectors import customer_for_portal_user
    from portal.selectors import grade_explanation_for_customer

    day = dt.date(2026, 12, 4)
    joined = customer_for_portal_user(carol.user)
    assert joined is not None
    plain = Customer.objects.get(pk=carol.customer.pk)
    with translation.override(language):
        grade_explanation_for_customer(customer=plain, today=day)  # the run's cut points cached
        with CaptureQueriesContext(connection) as kept_queries:
            kept = grade_explanation_for_customer(customer=joined, today=day)
        with CaptureQueriesContext(connection) as read_queries:
            read = grade_explanation_for_customer(customer=plain, today=day)
        texts = [(e.needs_text, e.decision_text, e.provisional_text) for e in (kept, read)]

    assert kept.grade is not None
    assert kept == read
    assert texts[0] == texts[1]
    assert len(kept_queries.captured_queries) == len(read_queries.captured_queries) - 1
