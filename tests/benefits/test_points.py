"""The append-only points ledger (customers.PointsEntry) and its services."""

import pytest

from customers.models import AppendOnlyLedgerError, PointsEntry
from customers.selectors import points_balance
from customers.services.points import PointsCredit, points_credit, points_credit_many
from tests.customers.factories import CustomerFactory


@pytest.mark.django_db
def test_a_credit_counts_once_per_dedupe_key():
    customer = CustomerFactory()

    first = points_credit(
        customer_id=customer.pk, task_code="review_product", points=5, dedupe_key="review:1"
    )
    again = points_credit(
        customer_id=customer.pk, task_code="review_product", points=50, dedupe_key="review:1"
    )

    assert (first, again) == (True, False)
    assert points_balance(customer) == 5


@pytest.mark.django_db
def test_bulk_credits_skip_keys_already_in_the_ledger_and_count_exactly():
    alice, bob = CustomerFactory(), CustomerFactory()
    points_credit(customer_id=alice.pk, task_code="t", points=1, dedupe_key="a")
    credits = [
        PointsCredit(alice.pk, "t", 1, "a"),  # already there
        PointsCredit(alice.pk, "t", 2, "b"),
        PointsCredit(bob.pk, "t", 3, "a"),  # same key, another customer
    ]

    assert points_credit_many(credits) == 2
    assert points_credit_many(credits) == 0
    assert (points_balance(alice), points_balance(bob.pk)) == (3, 3)


@pytest.mark.django_db
def test_bulk_credits_handle_more_than_one_batch():
    customer = CustomerFactory()
    credits = [PointsCredit(customer.pk, "t", 1, f"k{i}") for i in range(1203)]

    assert points_credit_many(credits) == 1203
    assert points_balance(customer) == 1203


@pytest.mark.django_db
def test_the_balance_of_a_customer_without_entries_is_zero():
    assert points_balance(CustomerFactory()) == 0


@pytest.mark.django_db
def test_points_must_be_positive():
    customer = CustomerFactory()
    with pytest.raises(ValueError, match="positive"):
        points_credit(customer_id=customer.pk, task_code="t", points=0, dedupe_key="k")
    with pytest.raises(ValueError, match="positive"):
        points_credit_many([PointsCredit(customer.pk, "t", -1, "k")])


@pytest.mark.django_db
def test_ledger_entries_are_never_updated_or_deleted():
    customer = CustomerFactory()
    points_credit(customer_id=customer.pk, task_code="t", points=5, dedupe_key="k")
    entry = PointsEntry.objects.get()

    entry.points = 500
    with pytest.raises(AppendOnlyLedgerError):
        entry.save()
    with pytest.raises(AppendOnlyLedgerError):
        entry.delete()
    assert points_balance(customer) == 5
