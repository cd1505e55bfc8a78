"""Customers, orders and events API: writes through the import services, atomic bulk with
per-row errors, role scoping, query counts."""

import pytest
from rest_framework.test import APIClient

from customers.models import Complaint, Customer, Order, ServiceTicket
from tests.customers.factories import CustomerFactory, OrderFactory


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _order(i, customer="C1", **extra):
    return {
        "order_no": f"API-{i}",
        "customer_code": customer,
        "placed_at": "2026-03-01 10:00",
        "amount": "120.50",
        **extra,
    }


@pytest.mark.django_db
def test_bulk_orders_are_created_atomically(ops):
    CustomerFactory(code="C1")
    rows = [_order(i) for i in range(500)]

    response = _client(ops).post("/api/orders/bulk/", {"rows": rows}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json() == {"total": 500, "created": 500, "updated": 0, "dry_run": False}
    assert Order.objects.count() == 500


@pytest.mark.django_db
def test_bulk_with_bad_rows_writes_nothing_and_names_each_row(ops):
    CustomerFactory(code="C1")
    rows = [
        _order(1),
        _order(2, amount="abc"),
        _order(3, customer="NOPE"),
        _order(4, refunded_amount="500"),
    ]

    response = _client(ops).post("/api/orders/bulk/", {"rows": rows}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "import_rejected"
    assert error["message"] == "3 bad rows; nothing was imported"
    assert [(r["row"], r["field"]) for r in error["rows"]] == [
        (2, "amount"),
        (3, "customer_code"),
        (4, "refunded_amount"),
    ]
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_single_order_and_customer_create(ops):
    client = _client(ops)

    customer = client.post("/api/customers/", {"code": "NEW", "name": "New Co"}, format="json")
    order = client.post("/api/orders/", _order(1, customer="NEW"), format="json")

    assert customer.status_code == 201
    assert customer.json()["code"] == "NEW"
    assert order.status_code == 201
    assert order.json()["amount"] == "120.50"
    assert client.get("/api/orders/API-1/").json()["customer_code"] == "NEW"


@pytest.mark.django_db
def test_managers_read_only_their_customers_and_cannot_write(alice, alices_customer, bobs_customer):
    OrderFactory(customer=bobs_customer, order_no="BOBS")
    client = _client(alice)

    listing = client.get("/api/customers/").json()
    assert [c["code"] for c in listing["results"]] == ["ALICE-1"]
    assert client.get(f"/api/customers/{bobs_customer.code}/").status_code == 404
    assert client.get("/api/orders/BOBS/").status_code == 404
    assert client.get("/api/orders/", {"customer_code": "BOB-1"}).json()["count"] == 0
    assert client.post("/api/orders/", _order(1, customer="ALICE-1")).status_code == 403


@pytest.mark.django_db
def test_bulk_events_with_per_row_errors(ops):
    CustomerFactory(code="C1")
    client = _client(ops)
    good = [
        {"customer_code": "C1", "subject": f"Q{i}", "opened_at": "2026-03-01"} for i in range(3)
    ]

    created = client.post("/api/events/tickets/bulk/", {"rows": good}, format="json")
    bad = client.post(
        "/api/events/complaints/bulk/",
        {"rows": [{"customer_code": "C1"}, {"customer_code": "X", "severity": "awful"}]},
        format="json",
    )

    assert created.status_code == 201
    assert ServiceTicket.objects.count() == 3
    assert bad.status_code == 400
    assert {(r["row"], r["field"]) for r in bad.json()["error"]["rows"]} == {
        (2, "severity"),
        (2, "customer_code"),
    }
    assert Complaint.objects.count() == 0
    assert client.get("/api/events/tickets/").json()["count"] == 3
    assert client.get("/api/events/nonsense/").status_code == 404


@pytest.mark.django_db
def test_bulk_of_ten_thousand_orders_in_one_request(ops, django_assert_max_num_queries):
    CustomerFactory(code="C1")
    rows = [_order(i) for i in range(10_000)]

    from django.db import connection

    # Never one query per row: SQLite caps a statement at 999 variables, so its batches are
    # smaller, but still far fewer statements than rows.
    with django_assert_max_num_queries(40 if connection.vendor == "postgresql" else 400):
        response = _client(ops).post("/api/orders/bulk/", {"rows": rows}, format="json")

    assert response.status_code == 201
    assert Order.objects.count() == 10_000


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/customers/", "/api/orders/", "/api/events/complaints/"])
def test_list_query_count_is_fixed(ops, url, django_assert_max_num_queries):
    client = _client(ops)
    for _ in range(3):
        OrderFactory()
    with django_assert_max_num_queries(10) as small:
        client.get(url)
    for _ in range(25):
        OrderFactory()
    assert Customer.objects.count() == 28

    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url).status_code == 200


# --- dates in the future (issue 11, item 7) -------------------------------------------------


@pytest.mark.django_db
def test_an_order_dated_in_the_future_is_refused_by_the_single_create(ops):
    CustomerFactory(code="C1")

    response = _client(ops).post("/api/orders/", _order(1, placed_at="2099-01-01"), format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "import_rejected"
    assert error["rows"] == [
        {
            "row": 1,
            "field": "placed_at",
            "message": "'2099-01-01' is in the future (more than 24 hours after now)",
        }
    ]
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_bulk_with_one_future_order_writes_nothing_and_names_the_row(ops):
    CustomerFactory(code="C1")
    rows = [_order(1), _order(2, placed_at="2099-01-01T00:00:00+08:00"), _order(3)]

    response = _client(ops).post("/api/orders/bulk/", {"rows": rows}, format="json")
    dry_run = _client(ops).post("/api/orders/bulk/", {"rows": rows, "dry_run": True}, format="json")

    assert response.status_code == dry_run.status_code == 400
    assert [(r["row"], r["field"]) for r in response.json()["error"]["rows"]] == [(2, "placed_at")]
    assert dry_run.json() == response.json()
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_bulk_events_dated_in_the_future_are_row_errors(ops):
    CustomerFactory(code="C1")
    rows = [
        {"customer_code": "C1", "subject": "fine", "opened_at": "2026-03-01"},
        {"customer_code": "C1", "subject": "typo", "opened_at": "2099-03-01"},
    ]

    response = _client(ops).post("/api/events/tickets/bulk/", {"rows": rows}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["rows"] == [
        {
            "row": 2,
            "field": "opened_at",
            "message": "'2099-03-01' is in the future (more than 24 hours after now)",
        }
    ]
    assert not ServiceTicket.objects.exists()
