"""Issue #19: list pages that do not scan, and the one customer search.

Every list page's SQL is captured: no `SELECT DISTINCT` (a list filter over a plain field),
no `DATE_TRUNC` (date_hierarchy), and a `LIKE '%…%'` only where a trigram index serves it
(the customers' name). On PostgreSQL the search's plans are checked to use the indexes.
"""

from __future__ import annotations

import re

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common import listing
from common.listing import EstimatedCountPaginator
from customers.models import Customer
from customers.search import customer_search
from tests.customers.factories import (
    CategoryFactory,
    ComplaintFactory,
    CustomerFactory,
    OrderFactory,
    ServiceTicketFactory,
)

LIST_PAGES = [
    ("admin:customers_customer_changelist", {}),
    ("admin:customers_customer_changelist", {"q": "B00"}),
    ("admin:customers_customer_changelist", {"q": "someone@example.com"}),
    ("admin:customers_customer_changelist", {"q": "+86 10"}),
    ("admin:customers_customer_changelist", {"q": "trading"}),
    ("admin:customers_customer_changelist", {"p": "2"}),
    ("admin:customers_customer_changelist", {"kind": "reseller", "industry": "retail"}),
    ("admin:customers_customer_changelist", {"registered_at_within": "30"}),
    ("admin:customers_order_changelist", {}),
    ("admin:customers_order_changelist", {"q": "B00"}),
    ("admin:customers_complaint_changelist", {}),
    ("admin:customers_serviceticket_changelist", {"q": "B00"}),
    ("admin:customers_productreview_changelist", {}),
    ("admin:customers_campaigninvitation_changelist", {}),
    ("admin:grading_scoresnapshot_changelist", {}),
    ("admin:grading_scoresnapshot_changelist", {"action": "warn", "q": "B00"}),
    ("manager:queue", {}),
    ("manager:queue", {"q": "B00"}),
    ("manager:queue", {"q": "trading", "page": "2"}),
]

#: LIKE '%…' is only allowed on the trigram-indexed customer name.
_LEADING_WILDCARD = re.compile(r"(\S+)\s+LIKE\s+(?:UPPER\()?'%", re.IGNORECASE)
_TRIGRAM_SERVED = '"customers_customer"."name"'


def _populate(n, manager=None):
    category = CategoryFactory()
    for i in range(n):
        customer = CustomerFactory(
            code=f"B{i:05d}",
            name=f"Trading house {i}",
            email=f"c{i}@example.com",
            phone=f"+86 10 {i:04d}",
            account_manager=manager,
            industry="retail",
        )
        OrderFactory(customer=customer, category=category)
        ComplaintFactory(customer=customer)
        ServiceTicketFactory(customer=customer)


def _assert_no_scans(queries):
    for query in queries:
        sql = query["sql"]
        assert "SELECT DISTINCT" not in sql.upper(), sql
        assert "DATE_TRUNC" not in sql.upper(), sql
        for match in _LEADING_WILDCARD.finditer(sql):
            assert match.group(1).startswith((_TRIGRAM_SERVED, f"UPPER({_TRIGRAM_SERVED}")), sql


@pytest.mark.django_db
@pytest.mark.parametrize(("url_name", "params"), LIST_PAGES)
def test_list_pages_do_not_scan(client, ops, url_name, params, django_assert_max_num_queries):
    client.force_login(ops)
    _populate(30)
    # Ops sees every customer: the manager queue serves them too.
    with django_assert_max_num_queries(14) as captured:
        response = client.get(reverse(url_name), params)
    assert response.status_code == 200
    _assert_no_scans(captured.captured_queries)


@pytest.mark.django_db
def test_an_account_managers_queue_pages_in_a_fixed_number_of_queries(
    client, alice, django_assert_max_num_queries
):
    _populate(60, manager=alice)
    client.force_login(alice)
    with django_assert_max_num_queries(14) as first:
        assert client.get(reverse("manager:queue")).status_code == 200
    # A deep page reads its keys first, then the rows (one query more, never more).
    with django_assert_max_num_queries(len(first.captured_queries) + 1) as deep:
        assert client.get(reverse("manager:queue"), {"page": "3"}).status_code == 200
    _assert_no_scans(deep.captured_queries)


@pytest.mark.django_db
def test_the_customer_filters_take_their_choices_without_reading_customers(client, ops):
    client.force_login(ops)
    _populate(3)
    with CaptureQueriesContext(connection) as captured:
        page = client.get(reverse("admin:customers_customer_changelist"))
    assert page.status_code == 200
    industry_reads = [
        q["sql"] for q in captured if '"industry"' in q["sql"] and "GROUP" in q["sql"]
    ]
    assert industry_reads == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("term", "codes"),
    [
        ("b0001", ["B00010", "B00011"]),  # code prefix, any case
        ("B00010", ["B00010"]),  # a whole code
        ("c11@EXAMPLE", ["B00011"]),  # e-mail prefix, any case
        ("+86 10 0010", ["B00010"]),  # phone prefix
        ("house 11", ["B00011"]),  # inside the name, 3 characters or more
        ("11", []),  # too short for names; no code, e-mail or phone starts with it
        ("   ", None),  # empty: no filter
    ],
)
def test_the_customer_search(term, codes):
    _populate(12)
    found = list(
        customer_search(Customer.objects.order_by("code"), term=term).values_list("code", flat=True)
    )
    assert found == (codes if codes is not None else [f"B{i:05d}" for i in range(12)])


@pytest.mark.django_db
def test_the_paginator_estimates_large_counts_and_reads_deep_pages_by_key(monkeypatch):
    _populate(25)
    queryset = Customer.objects.order_by("code")
    monkeypatch.setattr(listing, "EXACT_COUNT_BELOW", 1)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_customer")  # a fresh table has no estimate yet
    paginator = EstimatedCountPaginator(queryset, 10)
    expected = [c.code for c in Paginator(queryset, 10).page(2)]

    assert [c.code for c in paginator.page(2)] == expected
    if connection.vendor == "postgresql":
        assert paginator.count_is_estimate
        assert paginator.count >= 0
        assert list(paginator.page(9).object_list) == []  # past an estimate: empty, no error
    else:
        assert not paginator.count_is_estimate
        assert paginator.count == 25


@pytest.mark.django_db
def test_small_filtered_counts_are_exact():
    _populate(5)
    paginator = EstimatedCountPaginator(
        Customer.objects.filter(code__startswith="B").order_by("code"), 2
    )

    assert paginator.count == 5
    assert not paginator.count_is_estimate


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL indexes")
@pytest.mark.parametrize(
    ("term", "index"),
    [
        ("B0001", "customer_code_upper_like"),
        ("c11@example.com", "customer_email_upper_like"),
        ("+86 10 0011", "customer_phone_like"),
        ("trading", "customer_name_upper_trgm"),
    ],
)
def test_each_kind_of_search_is_served_by_an_index(term, index):
    _populate(3)
    queryset = customer_search(Customer.objects.order_by(), term=term)
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.django_db
def test_the_manager_filter_lists_account_managers_not_every_user(alice, ops):
    from customers.admin import manager_choices
    from tests.customers.factories import UserFactory

    UserFactory(username="portal-login")  # a customer's portal login is a user too

    assert [name for _, name in manager_choices()] == ["alice-am"]
