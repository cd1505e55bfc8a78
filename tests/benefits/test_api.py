"""Benefits API: role scoping (404 like missing), redeem status codes, shapes, query counts."""

import pytest
from rest_framework.test import APIClient

from benefits.models import Redemption
from benefits.services.redemptions import benefit_redeem
from tests.benefits.factories import BenefitFactory, set_grade
from tests.customers.factories import CustomerFactory, UserFactory


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _redeem(client, customer_code, benefit_code, key="key-1"):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        "/api/benefits/redeem/",
        {"customer_code": customer_code, "benefit_code": benefit_code},
        format="json",
        headers=headers,
    )


@pytest.fixture
def graded(alices_customer, bobs_customer):
    set_grade(alices_customer, "key")
    set_grade(bobs_customer, "key")
    return alices_customer, bobs_customer


@pytest.mark.django_db
def test_anonymous_and_portal_users_are_refused(graded):
    portal_user = UserFactory(is_staff=False)

    assert APIClient().get("/api/benefits/").status_code == 401
    assert (
        _client(portal_user).get("/api/benefits/customers/ALICE-1/entitlements/").status_code == 403
    )
    assert _redeem(_client(portal_user), "ALICE-1", "discount-5").status_code == 403


@pytest.mark.django_db
def test_the_catalog_lists_benefits_with_their_grades(alice):
    body = _client(alice).get("/api/benefits/", {"kind": "free_shipping"}).json()

    assert body["count"] == 1
    assert body["results"][0]["code"] == "free-shipping"
    assert sorted(body["results"][0]["grades"]) == ["growth", "key", "strategic"]


@pytest.mark.django_db
def test_a_manager_reads_their_customers_entitlements_and_gets_404_for_others(alice, graded):
    client = _client(alice)

    own = client.get("/api/benefits/customers/ALICE-1/entitlements/")
    other = client.get("/api/benefits/customers/BOB-1/entitlements/")
    missing = client.get("/api/benefits/customers/NOBODY/entitlements/")

    assert own.status_code == 200
    assert own.json()["grade"] == "key"
    discount = next(e for e in own.json()["entitlements"] if e["benefit"] == "discount-5")
    assert (discount["allowance"], discount["used"], discount["remaining"]) == (2, 0, 2)
    assert other.status_code == missing.status_code == 404


@pytest.mark.django_db
def test_an_ungraded_customer_has_no_entitlements(ops):
    CustomerFactory(code="FRESH")

    body = _client(ops).get("/api/benefits/customers/FRESH/entitlements/").json()

    assert body == {"customer_code": "FRESH", "grade": None, "entitlements": []}


@pytest.mark.django_db
def test_operations_redeem_and_a_retry_returns_the_first_result(ops, graded):
    client = _client(ops)

    first = _redeem(client, "ALICE-1", "discount-5", key="order-77")
    retry = _redeem(client, "ALICE-1", "discount-5", key="order-77")

    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert first.json()["grade"] == "key"
    assert first.json()["channel"] == "api"
    assert first.json()["redeemed_by"] == ops.username
    assert Redemption.objects.count() == 1


@pytest.mark.django_db
def test_a_missing_idempotency_key_is_400(ops, graded):
    response = _redeem(_client(ops), "ALICE-1", "discount-5", key=None)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["detail"]
    assert not Redemption.objects.exists()


@pytest.mark.django_db
def test_an_exhausted_allowance_is_409_and_a_missing_entitlement_403(ops, graded):
    client = _client(ops)
    BenefitFactory(code="growth-only", grades=["growth"])
    for key in ("a", "b"):
        assert _redeem(client, "ALICE-1", "discount-5", key=key).status_code == 201

    exhausted = _redeem(client, "ALICE-1", "discount-5", key="c")
    not_entitled = _redeem(client, "ALICE-1", "growth-only", key="d")
    unknown = _redeem(client, "ALICE-1", "no-such-benefit", key="e")

    assert exhausted.status_code == 409
    assert exhausted.json()["error"]["code"] == "allowance_exhausted"
    assert not_entitled.status_code == 403
    assert not_entitled.json()["error"]["code"] == "benefit_not_entitled"
    assert unknown.status_code == 404


@pytest.mark.django_db
def test_a_manager_may_not_redeem(alice, graded):
    # Account managers read benefits and redemptions; redeeming needs benefits.add_redemption.
    assert _redeem(_client(alice), "ALICE-1", "discount-5").status_code == 403


@pytest.mark.django_db
def test_redeeming_for_an_out_of_scope_customer_is_404(graded, bob):
    scoped_redeemer = UserFactory(is_staff=True)
    from django.contrib.auth.models import Permission

    scoped_redeemer.user_permissions.add(Permission.objects.get(codename="add_redemption"))
    graded[1].account_manager = scoped_redeemer
    graded[1].save()

    client = _client(scoped_redeemer)
    assert _redeem(client, "ALICE-1", "discount-5").status_code == 404
    assert _redeem(client, "BOB-1", "discount-5").status_code == 201


@pytest.mark.django_db
def test_redemptions_are_scoped_and_filtered(alice, ops, graded):
    for customer in graded:
        for code, key in (("discount-5", "1"), ("free-shipping", "2")):
            benefit_redeem(
                customer_id=customer.pk, benefit_code=code, idempotency_key=key, channel="admin"
            )

    mine = _client(alice).get("/api/benefits/redemptions/").json()
    filtered = (
        _client(ops)
        .get(
            "/api/benefits/redemptions/",
            {"customer_code": "BOB-1", "benefit_code": "free-shipping"},
        )
        .json()
    )

    assert mine["count"] == 2
    assert {r["customer_code"] for r in mine["results"]} == {"ALICE-1"}
    assert filtered["count"] == 1
    assert filtered["results"][0]["benefit_name"] == "Free shipping"


@pytest.mark.django_db
def test_list_query_counts_do_not_grow_with_rows(ops, django_assert_max_num_queries):
    client = _client(ops)

    def populate(n):
        for _ in range(n):
            customer = CustomerFactory()
            set_grade(customer, "strategic")
            for code in ("discount-10", "free-shipping"):
                benefit_redeem(
                    customer_id=customer.pk, benefit_code=code, idempotency_key=code, channel="api"
                )
            BenefitFactory(grades=["key", "growth"])

    populate(2)
    counts = {}
    for url in ("/api/benefits/redemptions/", "/api/benefits/"):
        with django_assert_max_num_queries(10) as small:
            assert client.get(url).status_code == 200
        counts[url] = len(small.captured_queries)
    populate(15)
    for url, n in counts.items():
        with django_assert_max_num_queries(n):
            assert client.get(url).status_code == 200
