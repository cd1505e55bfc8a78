"""Bulk writes that send no `post_save` still keep the manager queue's needs table exact.

Every path that writes an input of the needs in bulk (imports creating or reassigning
customers, ticket imports, the nudges' recommendations, an override's grade) sends
`customers.signals.customers_written_in_bulk` in its transaction; after each, the table
equals a recomputation (`queue_needs_diff`, what `manage.py queue_needs_check` runs).
Removing a path's send makes its test fail: the rows would be missing or stale.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from appeals.models import QueueNeeds
from benefits.models import NudgeRule
from benefits.services.nudges import nudges_run
from customers.models import Customer
from customers.services.events import events_import
from customers.services.imports import customer_import, order_import
from customers.services.lines import order_lines_import
from grading.models import Grade
from grading.services.overrides import grade_override_set
from manager.needs import queue_needs_diff
from tests.benefits.factories import set_grade
from tests.customers.factories import CategoryFactory, CustomerFactory, OrderFactory
from tests.grading.factories import at

pytestmark = pytest.mark.django_db


def _csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(rows)
    return path


def _differences() -> list[str]:
    """What `queue_needs_check` would print: the rows differing from a recomputation."""
    count, examples = queue_needs_diff(now=timezone.now())
    return examples if count == 0 or examples else [f"{count} rows differ"]


def test_a_customer_import_creating_and_reassigning_customers(tmp_path, alice, bob):
    moved = CustomerFactory(code="MOVED", account_manager=alice)
    path = _csv(
        tmp_path / "customers.csv",
        [
            ["code", "name", "account_manager"],
            ["NEW-1", "New One", "alice-am"],
            ["MOVED", moved.name, "bob-am"],
        ],
    )

    report = customer_import(source=path, filename=path.name)

    assert (report.created, report.updated) == (1, 1)
    assert _differences() == []
    assert QueueNeeds.objects.get(customer__code="NEW-1").account_manager == alice
    assert QueueNeeds.objects.get(customer=moved).account_manager == bob


def test_an_order_import_creating_missing_customers(tmp_path):
    path = _csv(
        tmp_path / "orders.csv",
        [["order_no", "customer_code", "placed_at", "amount"], ["O1", "NEW-2", "2026-05-01", "5"]],
    )

    order_import(source=path, filename=path.name, create_missing_customers=True)

    assert _differences() == []
    assert QueueNeeds.objects.filter(customer__code="NEW-2").exists()


def test_a_sales_line_import_creating_missing_customers(tmp_path):
    path = _csv(
        tmp_path / "lines.csv",
        [
            ["order_no", "customer_code", "placed_at", "quantity", "unit_price"],
            ["INV1", "NEW-3", "2026-03-01", "1", "5"],
        ],
    )

    order_lines_import(source=path, filename=path.name, create_missing_customers=True)

    assert Customer.objects.filter(code="NEW-3").exists()
    assert _differences() == []


def test_a_ticket_import_past_its_sla(tmp_path, alices_customer):
    set_grade(alices_customer, "key")
    opened = timezone.localtime() - dt.timedelta(days=3)
    path = _csv(
        tmp_path / "tickets.csv",
        [
            ["customer_code", "subject", "opened_at"],
            [alices_customer.code, "Card not delivered", opened.strftime("%Y-%m-%d %H:%M")],
        ],
    )

    events_import(kind="tickets", source=path, filename=path.name)

    assert _differences() == []
    assert QueueNeeds.objects.get(customer=alices_customer).flag_sla


def test_the_nudges_recommending_a_category(alice):
    NudgeRule.objects.exclude(code="category_concentration").update(enabled=False)
    games = CategoryFactory(code="games", name="Games")
    steam, _psn = (
        CategoryFactory(code=code, name=code.title(), parent=games) for code in ("steam", "psn")
    )
    focused = CustomerFactory(code="FOCUSED", account_manager=alice)
    today = timezone.localdate()
    OrderFactory(
        customer=focused, category=steam, amount="900", placed_at=at(today - dt.timedelta(days=20))
    )

    assert nudges_run(today=today) == {"category_concentration": 1}

    assert _differences() == []
    assert QueueNeeds.objects.get(customer=focused).flag_recommend


def test_an_override_changing_the_grade_without_a_proposal(ops, alices_customer):
    set_grade(alices_customer, "growth")
    key = Grade.objects.get(code="key")

    grade_override_set(
        customer=alices_customer, grade=key, reason="Strategic account.", expires_on=None, by=ops
    )

    assert _differences() == []
    assert QueueNeeds.objects.get(customer=alices_customer).grade == key
