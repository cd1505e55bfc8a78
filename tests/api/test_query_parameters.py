"""Query strings are strict: every list accepts exactly what its schema documents; anything
else is a 400 naming the accepted parameters, never a silently unfiltered list."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.customers.factories import CustomerFactory, OrderFactory


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def customers(alice):
    CustomerFactory(code="X-1", name="Xylo", kind="reseller", industry="energy")
    CustomerFactory(code="X-2", name="Xena", account_manager=alice, is_active=False)
    CustomerFactory(code="X-10", name="Xander")


@pytest.mark.django_db
@pytest.mark.usefixtures("customers")
@pytest.mark.parametrize(
    ("params", "codes"),
    [
        ({"code": "X-1"}, ["X-1"]),  # exact: not X-10
        ({"code": "x-1"}, []),
        ({"code": ""}, ["X-1", "X-10", "X-2"]),  # empty: no filter
        ({"kind": "reseller"}, ["X-1"]),
        ({"industry": "energy"}, ["X-1"]),
        ({"account_manager": "alice-am"}, ["X-2"]),
        ({"is_active": "false"}, ["X-2"]),
        ({"is_active": "True"}, ["X-1", "X-10"]),
        ({"q": "xan"}, ["X-10"]),  # the name contains it (3 characters or more)
        ({"q": "xa"}, []),  # shorter: codes, e-mails and phones only
        ({"q": "x-1"}, ["X-1", "X-10"]),  # a code prefix, any case
    ],
)
def test_the_customer_list_filters(ops, params, codes):
    body = _client(ops).get("/api/customers/", params).json()

    assert [row["code"] for row in body["results"]] == codes


@pytest.mark.django_db
@pytest.mark.usefixtures("customers")
def test_an_unknown_parameter_is_a_400_listing_the_accepted_ones(ops):
    response = _client(ops).get("/api/customers/", {"cod": "X-1", "sort": "name"})

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "unknown_parameter",
        "message": "Unknown query parameters cod, sort; the accepted ones are: "
        "account_manager, code, format, grade, industry, is_active, kind, page, page_size, q.",
        "field": "cod",
        "detail": {
            "unknown": ["cod", "sort"],
            "accepted": [
                "account_manager",
                "code",
                "format",
                "grade",
                "industry",
                "is_active",
                "kind",
                "page",
                "page_size",
                "q",
            ],
        },
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/customers/",
        "/api/orders/",
        "/api/events/complaints/",
        "/api/events/referrals/",
        "/api/grades/",
        "/api/schemes/",
        "/api/runs/",
        "/api/snapshots/",
        "/api/grade-changes/",
        "/api/appeals/",
        "/api/benefits/",
        "/api/benefits/redemptions/",
        "/api/benefits/customers/ALICE-1/entitlements/",
    ],
)
def test_every_list_refuses_unknown_parameters_and_accepts_format(ops, alices_customer, url):
    client = _client(ops)

    unknown = client.get(url, {"nonsense": "1"})
    fine = client.get(url, {"format": "json"})

    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "unknown_parameter"
    assert "format" in unknown.json()["error"]["detail"]["accepted"]
    assert fine.status_code == 200


@pytest.mark.django_db
def test_a_detail_accepts_only_format(ops):
    OrderFactory(order_no="O-1")
    client = _client(ops)

    filtered = client.get("/api/orders/O-1/", {"status": "paid"})

    assert filtered.status_code == 400
    assert filtered.json()["error"]["detail"] == {"unknown": ["status"], "accepted": ["format"]}
    assert client.get("/api/orders/O-1/", {"format": "json"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/customers/", {"is_active": "maybe"}, "is_active"),
        ("/api/customers/", {"page_size": "0"}, "page_size"),
        ("/api/customers/", {"page_size": "ten"}, "page_size"),
        ("/api/runs/", {"scheme": "default"}, "scheme"),
        ("/api/runs/", {"as_of": "04/01/2026"}, "as_of"),
        ("/api/benefits/redemptions/", {"redeemed_after": "2026-1-5"}, "redeemed_after"),
        ("/api/customers/", {"code": "a\x00b"}, "code"),
    ],
)
def test_a_malformed_value_is_a_400_naming_the_parameter(ops, url, params, field):
    response = _client(ops).get(url, params)

    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


@pytest.mark.django_db
def test_ids_that_do_not_exist_list_nothing_and_page_sizes_are_capped(ops):
    for i in range(3):
        OrderFactory(order_no=f"O-{i}")
    client = _client(ops)

    runs = client.get("/api/runs/", {"scheme": "987654"})
    capped = client.get("/api/orders/", {"page_size": "5000", "page": ""})
    last = client.get("/api/orders/", {"page_size": "2", "page": "last"})

    assert (runs.status_code, runs.json()["count"]) == (200, 0)
    assert capped.status_code == 200
    assert len(capped.json()["results"]) == 3
    assert len(last.json()["results"]) == 1


@pytest.mark.django_db
def test_moments_beyond_what_utc_holds_are_the_ends_of_time_not_errors(ops):
    OrderFactory(order_no="O-1")
    client = _client(ops)

    everything = client.get("/api/orders/", {"placed_after": "0001-01-01T00:00:00+08:00"})
    nothing = client.get("/api/orders/", {"placed_after": "9999-12-31T23:59:59-23:59"})

    assert everything.json()["count"] == 1
    assert nothing.json()["count"] == 0


@pytest.mark.django_db
def test_unknown_formats_are_406_and_unknown_api_urls_a_json_404(ops):
    client = _client(ops)

    xml = client.get("/api/customers/", {"format": "xml"})
    no_route = client.get("/api/no-such-thing/")
    nul_key = client.get("/api/customers/a%00b/")
    negative_id = client.get("/api/runs/-1/")

    assert xml.status_code == 406
    assert xml.json()["error"]["code"] == "not_acceptable"
    for response in (no_route, nul_key, negative_id):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_bulk_endpoints_take_json_only_and_booleans_as_json_booleans(ops):
    client = _client(ops)

    form = client.post("/api/orders/bulk/", {"rows": "x"})
    truthy = client.post(
        "/api/orders/bulk/", {"rows": [{"order_no": "1"}], "dry_run": 1}, format="json"
    )
    number = client.post("/api/customers/", {"code": 123, "name": "x"}, format="json")

    assert form.status_code == 415
    assert form.json()["error"]["code"] == "unsupported_media_type"
    assert truthy.status_code == 400
    assert truthy.json()["error"]["field"] == "dry_run"
    assert number.status_code == 400
    assert number.json()["error"]["field"] == "code"


@pytest.mark.django_db
def test_a_username_longer_than_any_account_is_a_400_not_a_server_error():
    response = APIClient().post(
        "/api/auth/token/", {"username": "u" * 300, "password": "x"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "username"
