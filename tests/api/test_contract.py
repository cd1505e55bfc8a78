"""The API contract per role, for every resource: who may read what, the pagination shape,
the filters and the error body.

- Operations read every row;
- an account manager (alice) reads only her customers' rows; bob's are 404, like missing;
- anonymous callers are 401; a customer's portal login is 403 (customers use the portal).
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from appeals.models import Appeal
from benefits.services.redemptions import benefit_redeem
from tests.appeals.factories import CustomerAccountFactory, downgrade
from tests.benefits.factories import set_grade
from tests.customers.factories import (
    ComplaintFactory,
    OrderFactory,
    ReferralFactory,
    ServiceTicketFactory,
)

#: Every list endpoint: (url, whether its rows belong to customers, so managers are scoped).
LISTS = [
    ("/api/customers/", True),
    ("/api/orders/", True),
    ("/api/events/complaints/", True),
    ("/api/events/tickets/", True),
    ("/api/events/referrals/", True),
    ("/api/snapshots/", True),
    ("/api/grade-changes/", True),
    ("/api/appeals/", True),
    ("/api/benefits/redemptions/", True),
    ("/api/runs/", False),
    ("/api/schemes/", False),
    ("/api/benefits/", False),
]
#: Endpoints that return one customer's row: url template filled with the world's keys.
DETAILS = [
    "/api/customers/{code}/",
    "/api/orders/{order_no}/",
    "/api/grade-changes/{change}/",
    "/api/appeals/{appeal}/",
    "/api/benefits/customers/{code}/entitlements/",
]


def _client(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _world_for(customer, suffix):
    """One row of every customer-owned resource for `customer`; return their keys."""
    order = OrderFactory(customer=customer, order_no=f"ORD-{suffix}")
    ComplaintFactory(customer=customer)
    ServiceTicketFactory(customer=customer)
    ReferralFactory(referrer=customer)
    change = downgrade(customer)
    appeal = Appeal.objects.create(customer=customer, change=change, reason="Delayed orders")
    set_grade(customer, "key")
    benefit_redeem(
        customer_id=customer.pk, benefit_code="discount-5", idempotency_key="k", channel="api"
    )
    return {
        "code": customer.code,
        "order_no": order.order_no,
        "change": change.pk,
        "appeal": appeal.pk,
    }


@pytest.fixture
def world(alices_customer, bobs_customer):
    return {"alice": _world_for(alices_customer, "A"), "bob": _world_for(bobs_customer, "B")}


def _customer_codes(row):
    """The customer codes a list row refers to (one for most resources)."""
    for key in ("customer_code", "referrer_code", "code"):
        if key in row:
            return row[key]
    raise AssertionError(f"no customer in {row}")


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "_scoped"), LISTS)
def test_anonymous_is_401_and_a_portal_customer_is_403(url, _scoped, world, alices_customer):
    portal = CustomerAccountFactory(customer=alices_customer).user

    anonymous = _client().get(url)
    customer = _client(portal).get(url)

    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    assert customer.status_code == 403
    assert customer.json()["error"] == {
        "code": "permission_denied",
        "message": "Staff only: customers use the portal.",
        "detail": "Staff only: customers use the portal.",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "scoped"), LISTS)
def test_operations_see_every_row_and_a_manager_only_their_customers(
    url, scoped, ops, alice, world
):
    everything = _client(ops).get(url).json()
    mine = _client(alice).get(url).json()

    assert set(everything) == {"count", "next", "previous", "results"}
    assert set(mine) == {"count", "next", "previous", "results"}
    assert everything["count"] == len(everything["results"]) > 0
    if scoped:
        assert {_customer_codes(row) for row in everything["results"]} == {"ALICE-1", "BOB-1"}
        assert {_customer_codes(row) for row in mine["results"]} == {"ALICE-1"}
    else:
        assert mine["count"] == everything["count"]


@pytest.mark.django_db
@pytest.mark.parametrize("template", DETAILS)
def test_a_manager_gets_404_for_another_managers_row_like_a_missing_one(
    template, ops, alice, world
):
    own = _client(alice).get(template.format(**world["alice"]))
    others = _client(alice).get(template.format(**world["bob"]))
    ops_view = _client(ops).get(template.format(**world["bob"]))
    missing = _client(ops).get(template.format(code="NOPE", order_no="NOPE", change=0, appeal=0))

    assert own.status_code == 200
    assert ops_view.status_code == 200
    assert others.status_code == missing.status_code == 404
    assert others.json() == missing.json()
    assert others.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_pagination_pages_and_caps_the_page_size(ops):
    for i in range(5):
        OrderFactory(order_no=f"P-{i}")
    client = _client(ops)

    first = client.get("/api/orders/", {"page_size": 2}).json()
    last = client.get("/api/orders/", {"page_size": 2, "page": 3}).json()
    beyond = client.get("/api/orders/", {"page_size": 2, "page": 4})

    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert first["previous"] is None
    assert "page=2" in first["next"]
    assert len(last["results"]) == 1
    assert last["next"] is None
    assert beyond.status_code == 404
    assert beyond.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "params", "expected"),
    [
        ("/api/customers/", {"q": "alice"}, 1),
        ("/api/customers/", {"account_manager": "bob-am"}, 1),
        ("/api/orders/", {"customer_code": "BOB-1"}, 1),
        ("/api/orders/", {"placed_after": "2999-01-01T00:00:00+08:00"}, 0),
        ("/api/events/complaints/", {"customer_code": "ALICE-1"}, 1),
        ("/api/events/tickets/", {"before": "2000-01-01"}, 0),
        ("/api/grade-changes/", {"customer_code": "BOB-1", "direction": "down"}, 1),
        ("/api/appeals/", {"customer_code": "ALICE-1", "status": "submitted"}, 1),
        ("/api/appeals/", {"status": "accepted"}, 0),
        ("/api/appeals/", {"filed_after": "2999-01-01"}, 0),
        ("/api/benefits/redemptions/", {"customer_code": "BOB-1"}, 1),
        ("/api/snapshots/", {"customer_code": "ALICE-1"}, 2),
    ],
)
def test_list_filters(url, params, expected, ops, world):
    body = _client(ops).get(url, params).json()

    assert body["count"] == expected, body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/orders/", {"placed_after": "yesterday"}, "placed_after"),
        ("/api/appeals/", {"status": "pending"}, "status"),
        ("/api/runs/", {"as_of_after": "2026-13-01"}, "as_of_after"),
    ],
)
def test_a_bad_filter_value_is_400_naming_the_parameter(url, params, field, ops):
    response = _client(ops).get(url, params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["field"] == field
    assert error["message"].startswith(f"{field}: ")
    assert field in error["detail"]


@pytest.mark.django_db
def test_an_appeal_shows_its_change_and_history(ops, world):
    appeal = _client(ops).get(f"/api/appeals/{world['alice']['appeal']}/").json()

    assert appeal["customer_code"] == "ALICE-1"
    assert (appeal["from_grade"], appeal["to_grade"]) == ("key", "growth")
    assert appeal["status"] == "submitted"
    assert appeal["evidence_count"] == 0
    assert appeal["events"] == []


@pytest.mark.django_db
def test_appeals_are_read_only(ops, world):
    response = _client(ops).post("/api/appeals/", {"reason": "x"}, format="json")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.django_db
def test_appeal_list_query_count_does_not_grow_with_rows(
    ops, alices_customer, django_assert_max_num_queries
):
    from tests.customers.factories import CustomerFactory

    client = _client(ops)
    Appeal.objects.create(
        customer=alices_customer, change=downgrade(alices_customer), reason="first"
    )
    with django_assert_max_num_queries(10) as small:
        assert client.get("/api/appeals/").status_code == 200
    for _ in range(10):
        customer = CustomerFactory()
        Appeal.objects.create(customer=customer, change=downgrade(customer), reason="more")

    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get("/api/appeals/").json()["count"] == 11


@pytest.mark.django_db
def test_a_malformed_body_is_a_400_parse_error(ops):
    client = _client(ops)

    broken = client.post("/api/orders/bulk/", b'{"rows": [', content_type="application/json")
    nul = client.post(
        "/api/orders/bulk/",
        b'{"rows": [{"order_no": "A\\u0000"}]}',
        content_type="application/json",
    )
    surrogate = client.post(
        "/api/customers/", b'{"code": "\\ud800", "name": "x"}', content_type="application/json"
    )

    for response in (broken, nul, surrogate):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "parse_error"
