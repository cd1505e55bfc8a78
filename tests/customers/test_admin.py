"""Admin changelists: bounded query counts and account-manager scoping (invariant 5)."""

import pytest
from django.urls import reverse

from tests.customers.factories import (
    CategoryFactory,
    ComplaintFactory,
    CustomerFactory,
    OrderFactory,
    ServiceTicketFactory,
)

CHANGELISTS = [
    "admin:customers_customer_changelist",
    "admin:customers_order_changelist",
    "admin:customers_complaint_changelist",
    "admin:customers_serviceticket_changelist",
    "admin:grading_gradechange_changelist",
    "admin:grading_scoresnapshot_changelist",
    "admin:grading_gradingrun_changelist",
]


def _populate(n, manager=None):
    category = CategoryFactory()
    for _ in range(n):
        customer = CustomerFactory(account_manager=manager)
        OrderFactory(customer=customer, category=category)
        ComplaintFactory(customer=customer)
        ServiceTicketFactory(customer=customer)


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", CHANGELISTS)
def test_changelist_query_count_does_not_grow_with_rows(
    client, ops, url_name, django_assert_max_num_queries
):
    client.force_login(ops)
    _populate(3)
    with django_assert_max_num_queries(15) as small:
        assert client.get(reverse(url_name)).status_code == 200
    _populate(30)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(reverse(url_name)).status_code == 200


@pytest.mark.django_db
def test_account_manager_sees_only_their_customers(client, alice, alices_customer, bobs_customer):
    client.force_login(alice)

    page = client.get(reverse("admin:customers_customer_changelist"))

    assert page.status_code == 200
    assert alices_customer.code in page.content.decode()
    assert bobs_customer.code not in page.content.decode()


@pytest.mark.django_db
def test_other_managers_customer_is_unreachable_by_url(client, alice, bobs_customer):
    client.force_login(alice)

    page = client.get(reverse("admin:customers_customer_change", args=[bobs_customer.pk]))

    # Same answer as a missing customer: the admin redirects to its index with a message.
    missing = client.get(reverse("admin:customers_customer_change", args=[999_999]))
    assert page.status_code == missing.status_code == 302


@pytest.mark.django_db
def test_other_managers_orders_and_search_are_hidden(client, alice, alices_customer, bobs_customer):
    OrderFactory(customer=alices_customer, order_no="A-ORDER")
    OrderFactory(customer=bobs_customer, order_no="B-ORDER")
    client.force_login(alice)

    orders = client.get(reverse("admin:customers_order_changelist")).content.decode()
    search = client.get(
        reverse("admin:customers_customer_changelist"), {"q": bobs_customer.code}
    ).content.decode()
    autocomplete = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "customers", "model_name": "order", "field_name": "customer", "term": "BOB"},
    )

    assert "A-ORDER" in orders
    assert "B-ORDER" not in orders
    assert bobs_customer.name not in search
    assert bobs_customer.code not in autocomplete.content.decode()


@pytest.mark.django_db
def test_operations_see_every_customer(client, ops, alices_customer, bobs_customer):
    client.force_login(ops)

    page = client.get(reverse("admin:customers_customer_changelist")).content.decode()

    assert alices_customer.code in page
    assert bobs_customer.code in page


@pytest.mark.django_db
def test_customer_page_shows_recent_orders_and_events(client, ops):
    customer = CustomerFactory()
    OrderFactory(customer=customer, order_no="RECENT-1")
    ComplaintFactory(customer=customer, description="Parcel arrived damaged")
    client.force_login(ops)

    page = client.get(reverse("admin:customers_customer_change", args=[customer.pk]))

    body = page.content.decode()
    assert "RECENT-1" in body
    assert "Parcel arrived damaged" in body


@pytest.mark.django_db
def test_account_manager_cannot_edit_customers(client, alice, alices_customer):
    client.force_login(alice)

    response = client.post(
        reverse("admin:customers_customer_change", args=[alices_customer.pk]),
        {"code": alices_customer.code, "name": "Renamed"},
    )

    alices_customer.refresh_from_db()
    assert response.status_code == 403
    assert alices_customer.name != "Renamed"
