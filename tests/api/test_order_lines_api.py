"""`/api/order-lines/bulk/`: sales lines through the same service, mapping by name, strict
query parameters, per-row errors with nothing written."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from customers.models import Order, ReturnDocument, SourceMapping
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
URL = "/api/order-lines/bulk/"


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_lines_and_a_return_through_a_saved_mapping(ops):
    CustomerFactory(code="17850")
    SourceMapping.objects.create(
        name="uci",
        columns={
            "InvoiceNo": "order_no",
            "CustomerID": "customer_code",
            "InvoiceDate": "placed_at",
            "Quantity": "quantity",
            "UnitPrice": "unit_price",
        },
        return_prefix="C",
        date_format="%m/%d/%Y %H:%M",
        customer_code_format=SourceMapping.CodeFormat.INTEGER,
    )
    rows = [
        {
            "InvoiceNo": "536365",
            "CustomerID": 17850.0,
            "InvoiceDate": "12/1/2010 8:26",
            "Quantity": 6,
            "UnitPrice": "2.55",
        },
        {
            "InvoiceNo": "536365",
            "CustomerID": 17850.0,
            "InvoiceDate": "12/1/2010 8:27",
            "Quantity": 8,
            "UnitPrice": "3.39",
        },
        {
            "InvoiceNo": "C536379",
            "CustomerID": 17850.0,
            "InvoiceDate": "12/1/2010 9:41",
            "Quantity": -1,
            "UnitPrice": "2.55",
        },
        {
            "InvoiceNo": "536366",
            "CustomerID": "",
            "InvoiceDate": "12/1/2010 8:28",
            "Quantity": 6,
            "UnitPrice": "1.85",
        },
    ]

    response = _client(ops).post(f"{URL}?mapping=uci", {"rows": rows}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["total"], body["created"]) == (4, 1)
    assert body["quality"]["anonymous_lines"] == "1"
    assert body["quality"]["returns_allocated_amount"] == "2.55"
    order = Order.objects.get()
    assert (order.amount, order.refunded_amount) == (Decimal("42.42"), Decimal("2.55"))
    assert ReturnDocument.objects.get().return_no == "C536379"


def test_bad_rows_are_listed_and_nothing_is_written(ops):
    CustomerFactory(code="C1")
    rows = [
        {
            "order_no": "A",
            "customer_code": "C1",
            "placed_at": "2025-01-01",
            "quantity": "x",
            "unit_price": "1",
        },
    ]
    response = _client(ops).post(URL, {"rows": rows}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["rows"] == [
        {"row": 1, "field": "quantity", "message": "'x' is not a decimal number"}
    ]
    assert not Order.objects.exists()


def test_unknown_mapping_and_unknown_parameters_are_refused(ops):
    rows = [{"order_no": "A"}]
    response = _client(ops).post(f"{URL}?mapping=nope", {"rows": rows}, format="json")
    assert response.status_code == 400
    assert "no source mapping called 'nope'" in response.json()["error"]["message"]
    response = _client(ops).post(f"{URL}?mapp=uci", {"rows": rows}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_parameter"


def test_account_managers_cannot_import(alice):
    response = _client(alice).post(URL, {"rows": [{"order_no": "A"}]}, format="json")
    assert response.status_code == 403
