"""Grading read API: status codes, role scoping (404 like missing), output shape, query counts."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from grading.models import GradeChange, ScoreSnapshot
from grading.services.runs import grading_run_execute
from tests.customers.factories import CustomerFactory, UserFactory
from tests.grading.factories import orders_for

AS_OF = dt.date(2026, 4, 1)


@pytest.fixture
def graded(alices_customer, bobs_customer):
    for customer in (alices_customer, bobs_customer):
        orders_for(customer, (AS_OF - dt.timedelta(days=5), "100"))
    return grading_run_execute(as_of=AS_OF)


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_anonymous_and_portal_users_are_refused(graded):
    portal_user = UserFactory(is_staff=False)

    assert APIClient().get("/api/snapshots/").status_code == 401
    assert _client(portal_user).get("/api/snapshots/").status_code == 403


@pytest.mark.django_db
def test_manager_lists_only_their_customers_snapshots(alice, graded):
    body = _client(alice).get("/api/snapshots/").json()

    assert body["count"] == 1
    assert body["results"][0]["customer_code"] == "ALICE-1"
    assert body["results"][0]["grade_after"]


@pytest.mark.django_db
def test_other_managers_change_is_404_like_a_missing_one(alice, graded, bobs_customer):
    change = GradeChange.objects.get(customer=bobs_customer)
    client = _client(alice)

    assert client.get(f"/api/grade-changes/{change.pk}/").status_code == 404
    assert client.get("/api/grade-changes/999999/").status_code == 404


@pytest.mark.django_db
def test_operations_see_everything_and_filter(ops, graded):
    client = _client(ops)

    assert client.get("/api/snapshots/").json()["count"] == 2
    assert client.get("/api/snapshots/", {"customer_code": "BOB-1"}).json()["count"] == 1
    assert client.get("/api/runs/").json()["results"][0]["status"] == "succeeded"
    scheme = client.get("/api/schemes/", {"status": "active"}).json()["results"][0]
    assert next(rung["grade"] for rung in scheme["ladder"]) == "strategic"
    assert next(g["code"] for g in client.get("/api/grades/").json()) == "strategic"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/snapshots/", "/api/grade-changes/", "/api/runs/"])
def test_list_query_count_does_not_grow_with_rows(ops, url, django_assert_max_num_queries):
    client = _client(ops)
    for i in range(3):
        orders_for(CustomerFactory(), (AS_OF - dt.timedelta(days=5 + i), "100"))
    grading_run_execute(as_of=AS_OF)
    with django_assert_max_num_queries(10) as small:
        assert client.get(url).status_code == 200
    for i in range(20):
        orders_for(CustomerFactory(), (AS_OF - dt.timedelta(days=5 + i), "100"))
    grading_run_execute(as_of=dt.date(2026, 5, 1))

    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url).status_code == 200
    assert ScoreSnapshot.objects.count() == 3 + 23


@pytest.mark.django_db
def test_schema_and_docs_are_served_offline(ops):
    client = _client(ops)

    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert docs.status_code == 200
    assert "cdn" not in docs.content.decode().lower()
