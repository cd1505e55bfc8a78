"""Integrity conflicts are 409 with the error body, never 500, on every create endpoint.

Two ways to conflict: a create that names an existing key (refused by the service), and a
concurrent writer that inserts the same key between our check and our write (the database's
unique constraint decides; simulated here by blinding the service's existence check).
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from benefits.models import Redemption
from customers.models import CampaignInvitation, Customer, Order
from customers.services import events as events_service
from customers.services import imports
from tests.benefits.factories import set_grade
from tests.customers.factories import (
    CampaignFactory,
    CampaignInvitationFactory,
    CustomerFactory,
    OrderFactory,
)


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _order(order_no, customer="C1"):
    return {
        "order_no": order_no,
        "customer_code": customer,
        "placed_at": "2026-03-01 10:00",
        "amount": "10.00",
    }


def _assert_conflict(response, *, code="conflict", field=None):
    assert response.status_code == 409, response.json()
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if field is not None:
        assert error["field"] == field


@pytest.mark.django_db
def test_creating_an_existing_customer_code_is_409_and_changes_nothing(ops):
    CustomerFactory(code="C1", name="Original")

    response = _client(ops).post("/api/customers/", {"code": "C1", "name": "New"}, format="json")

    _assert_conflict(response, field="code")
    assert "C1" in response.json()["error"]["message"]
    assert Customer.objects.get(code="C1").name == "Original"


@pytest.mark.django_db
def test_creating_an_existing_order_number_is_409_and_changes_nothing(ops):
    OrderFactory(order_no="O-1", customer=CustomerFactory(code="C1"), amount="99.00")

    response = _client(ops).post("/api/orders/", _order("O-1"), format="json")

    _assert_conflict(response, field="order_no")
    assert str(Order.objects.get(order_no="O-1").amount) == "99.00"


@pytest.mark.django_db
def test_reusing_an_idempotency_key_for_another_benefit_is_409(ops, alices_customer):
    set_grade(alices_customer, "key")
    client = _client(ops)

    def redeem(benefit):
        return client.post(
            "/api/benefits/redeem/",
            {"customer_code": "ALICE-1", "benefit_code": benefit},
            format="json",
            headers={"Idempotency-Key": "same-key"},
        )

    assert redeem("discount-5").status_code == 201
    _assert_conflict(redeem("free-shipping"), code="idempotency_key_reused")
    assert Redemption.objects.count() == 1


@pytest.mark.django_db
def test_a_customer_inserted_concurrently_is_409_not_500(ops, monkeypatch):
    CustomerFactory(code="C1")
    # As if another request created C1 after this one looked: the insert hits the constraint.
    monkeypatch.setattr(imports, "ids_by_key", lambda *args, **kwargs: {})

    single = _client(ops).post("/api/customers/", {"code": "C1", "name": "x"}, format="json")
    bulk = _client(ops).post(
        "/api/customers/bulk/",
        {"rows": [{"code": "C2", "name": "ok"}, {"code": "C1", "name": "x"}]},
        format="json",
    )

    _assert_conflict(single)
    _assert_conflict(bulk)
    assert sorted(Customer.objects.values_list("code", flat=True)) == ["C1"]


@pytest.mark.django_db
def test_an_order_inserted_concurrently_is_409_and_the_batch_writes_nothing(ops, monkeypatch):
    OrderFactory(order_no="O-1", customer=CustomerFactory(code="C1"))
    monkeypatch.setattr(imports, "_existing_orders", lambda order_nos: {})

    single = _client(ops).post("/api/orders/", _order("O-1"), format="json")
    bulk = _client(ops).post(
        "/api/orders/bulk/",
        {"rows": [_order(f"NEW-{i}") for i in range(50)] + [_order("O-1")]},
        format="json",
    )

    _assert_conflict(single)
    _assert_conflict(bulk)
    assert list(Order.objects.values_list("order_no", flat=True)) == ["O-1"]


@pytest.mark.django_db
def test_an_event_inserted_concurrently_is_409(ops, monkeypatch):
    customer = CustomerFactory(code="C1")
    campaign = CampaignFactory(code="SPRING")
    CampaignInvitationFactory(campaign=campaign, customer=customer)
    monkeypatch.setattr(events_service, "_check_unique_pairs", lambda *args: None)

    response = _client(ops).post(
        "/api/events/invitations/bulk/",
        {"rows": [{"customer_code": "C1", "campaign": "SPRING", "invited_at": "2026-03-01"}]},
        format="json",
    )

    _assert_conflict(response)
    assert CampaignInvitation.objects.count() == 1


@pytest.mark.django_db
def test_a_duplicate_inside_one_bulk_request_is_a_400_naming_the_rows(ops):
    CustomerFactory(code="C1")

    response = _client(ops).post(
        "/api/orders/bulk/", {"rows": [_order("D-1"), _order("D-1")]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["rows"] == [
        {"row": 2, "field": "order_no", "message": "'D-1' is a duplicate of line 1"}
    ]
