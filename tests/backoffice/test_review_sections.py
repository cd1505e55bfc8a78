"""The follow-ups and appeals backoffice adds beside a grade change's explanation."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from appeals.models import Appeal
from tests.appeals.factories import FollowUpFactory, downgrade
from tests.customers.factories import CustomerFactory


def _page(change):
    return reverse("admin:grading_gradechange_change", args=[change.pk])


@pytest.mark.django_db
def test_the_change_page_shows_the_managers_follow_ups_and_the_appeal_history(client, ops, alice):
    customer = CustomerFactory(name="Liu Jing", account_manager=alice)
    older = downgrade(customer, from_code="strategic", to_code="key", as_of=dt.date(2026, 8, 1))
    change = downgrade(customer, status="proposed", from_code="key", to_code="growth")
    Appeal.objects.create(
        customer=customer,
        change=older,
        status=Appeal.Status.REJECTED,
        decided_at=timezone.now(),
        reason="The warehouse moved and delayed our orders.",
        ops_note="Orders resumed late.",
    )
    FollowUpFactory(customer=customer, author=alice, outcome="Called: a big order in March.")
    FollowUpFactory(customer=CustomerFactory(), author=alice, outcome="Someone else's call")
    client.force_login(ops)

    body = client.get(_page(change)).content.decode()

    assert "Account manager's follow-ups" in body
    assert "Called: a big order in March." in body
    assert "Someone else" not in body
    assert "The customer's appeals" in body
    assert "The warehouse moved and delayed our orders." in body
    assert "Strategic → Key" in body
    assert reverse("admin:appeals_followup_changelist") + f"?customer__id__exact={customer.pk}" in (
        body.replace("&amp;", "&")
    )


@pytest.mark.django_db
def test_a_customer_without_follow_ups_or_appeals_says_so(client, ops):
    change = downgrade(CustomerFactory(), status="proposed")
    client.force_login(ops)

    body = client.get(_page(change)).content.decode()

    assert "No follow-ups recorded with this customer yet." in body
    assert "No account manager is assigned." in body
    assert "The customer has not appealed a grade change." in body


@pytest.mark.django_db
def test_the_sections_cost_a_fixed_number_of_queries(client, ops, django_assert_max_num_queries):
    customer = CustomerFactory()
    change = downgrade(customer, status="proposed")
    client.force_login(ops)
    client.get(_page(change))
    for i in range(5):
        FollowUpFactory(customer=customer, outcome=f"call {i}")
        Appeal.objects.create(
            customer=customer,
            change=change,
            status=Appeal.Status.WITHDRAWN,
            decided_at=timezone.now(),
            reason=f"r{i}",
        )

    with django_assert_max_num_queries(40):
        assert client.get(_page(change)).status_code == 200
