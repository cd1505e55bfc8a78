"""Portal self-service: redeem a benefit (idempotent), the profile page and its growth
task, and when an appeal's answer is due."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from benefits.models import GrowthTask, Redemption
from customers.models import PointsEntry
from tests.appeals.factories import file_appeal
from tests.benefits.factories import BenefitFactory


def _redeem_form(client, code: str) -> dict[str, str]:
    """Return the hidden fields of `code`'s redeem form as the page rendered them."""
    page = client.get(reverse("portal:benefits")).content.decode()
    item = re.search(rf'<li data-benefit="{code}">(.*?)</li>', page, re.S)
    assert item, page
    return dict(re.findall(r'name="(benefit|key)" value="([^"]+)"', item.group(1)))


@pytest.mark.django_db
def test_posting_one_redeem_form_twice_redeems_once(client, carol):
    BenefitFactory(
        code="free-coffee", name="Free coffee", grades=["growth"], allowance=2, period="month"
    )
    client.force_login(carol.user)
    fields = _redeem_form(client, "free-coffee")

    first = client.post(reverse("portal:benefit_redeem"), fields, follow=True)
    second = client.post(reverse("portal:benefit_redeem"), fields, follow=True)

    assert Redemption.objects.filter(customer=carol.customer).count() == 1
    redemption = Redemption.objects.get()
    assert redemption.channel == Redemption.Channel.PORTAL
    assert redemption.redeemed_by == carol.user
    for response in (first, second):
        page = response.content.decode()
        assert "Redeemed: Free coffee." in page
        assert "1 of 2 left this period" in page
    # A fresh form (a new key) is a second use.
    client.post(reverse("portal:benefit_redeem"), _redeem_form(client, "free-coffee"))
    assert Redemption.objects.filter(customer=carol.customer).count() == 2


@pytest.mark.django_db
def test_a_used_up_benefit_says_so_and_offers_no_button(client, carol):
    BenefitFactory(code="one-shot", name="One shot", grades=["growth"])
    client.force_login(carol.user)
    stale = _redeem_form(client, "one-shot")
    client.post(reverse("portal:benefit_redeem"), _redeem_form(client, "one-shot"))

    page = client.post(reverse("portal:benefit_redeem"), stale, follow=True).content.decode()

    assert "“One shot” is used up: 1 of 1 use(s) in once." in page
    assert "Used up for this period" in page
    assert Redemption.objects.count() == 1
    assert 'data-testid="redemptions"' in page
    assert "One shot" in page


@pytest.mark.django_db
def test_a_benefit_of_another_grade_is_refused(client, carol):
    BenefitFactory(code="key-lounge", name="Key lounge", grades=["key"])
    client.force_login(carol.user)

    response = client.post(
        reverse("portal:benefit_redeem"), {"benefit": "key-lounge", "key": "k1"}, follow=True
    )

    assert "does not include “Key lounge”" in response.content.decode()
    assert not Redemption.objects.exists()


@pytest.mark.django_db
def test_profile_rejects_a_bad_phone_and_e_mail_naming_the_field(client, carol):
    client.force_login(carol.user)

    page = client.post(
        reverse("portal:profile"),
        {"contact_name": "Liu", "email": "not-an-address", "phone": "call me", "address": ""},
    ).content.decode()

    assert 'data-testid="error-email"' in page
    assert 'data-testid="error-phone"' in page
    assert "Enter a phone number of 6 to 20 digits" in page
    carol.customer.refresh_from_db()
    assert carol.customer.phone == ""


@pytest.mark.django_db
def test_completing_the_profile_credits_the_growth_task_once(client, carol):
    task = GrowthTask.objects.get(code=GrowthTask.Code.COMPLETE_PROFILE)
    client.force_login(carol.user)
    values = {
        "contact_name": " Liu Jing ",
        "email": "liu.jing@example.com",
        "phone": "+86 138 0013 8000",
        "address": "1 Chaoyang Road\nBeijing",
    }

    page = client.post(reverse("portal:profile"), values, follow=True).content.decode()

    assert f"Your profile is complete: {task.points} growth points were added." in page
    customer = carol.customer
    customer.refresh_from_db()
    assert (customer.contact_name, customer.address) == ("Liu Jing", "1 Chaoyang Road, Beijing")
    assert PointsEntry.objects.get(customer=customer).points == task.points
    entry = LogEntry.objects.get(object_id=str(customer.pk))
    assert entry.user == carol.user
    assert entry.get_change_message() == "Changed contact name, email, phone and address."
    # Saving again, or the daily job, credits nothing more.
    values["phone"] = "+86 139 0000 0000"
    page = client.post(reverse("portal:profile"), values, follow=True).content.decode()
    assert "Your contact details were saved." in page
    from benefits.services.growth import growth_tasks_award

    growth_tasks_award()
    assert PointsEntry.objects.filter(customer=customer).count() == 1


@pytest.mark.django_db
def test_an_open_appeal_says_when_the_answer_is_due(client, carol, carols_change, settings):
    settings.APPEAL_REVIEW_SLA_DAYS = 5
    with time_machine.travel(dt.datetime(2026, 12, 4, 9, tzinfo=dt.UTC), tick=False):
        appeal = file_appeal(carol, carols_change)
    client.force_login(carol.user)

    page = client.get(reverse("portal:appeal_detail", args=[appeal.pk])).content.decode()

    due = timezone.localtime(appeal.created_at + dt.timedelta(days=5)).date()
    assert due == dt.date(2026, 12, 9)
    assert 'data-testid="answer-due"' in page
    assert "We will answer by" in page


@pytest.mark.django_db
def test_an_accepted_appeal_shows_the_lock_and_its_expiry(client, carol, carols_change, ops):
    from appeals.services import appeal_accept
    from grading.models import GradeOverride

    appeal = file_appeal(carol, carols_change)
    appeal_accept(appeal_id=appeal.pk, by=ops, note="Confirmed.")
    lock = GradeOverride.objects.get(customer=carol.customer, ended_at__isnull=True)
    client.force_login(carol.user)

    page = client.get(reverse("portal:appeal_detail", args=[appeal.pk])).content.decode()

    assert 'data-testid="lock"' in page
    assert lock.expires_on is not None  # one review period
    assert f"Your grade is kept at Key until {date_format(lock.expires_on, 'DATE_FORMAT')}" in page
    assert 'data-testid="answer-due"' not in page  # decided: no due date any more
