"""Fixtures of the benefits tests."""

import pytest

from tests.benefits.factories import BenefitFactory, set_grade
from tests.customers.factories import CustomerFactory


@pytest.fixture
def key_customer(db):
    customer = CustomerFactory(code="KEY-1")
    set_grade(customer, "key")
    return customer


@pytest.fixture
def coupon(db):
    """A single-use coupon carried by the key grade only."""
    return BenefitFactory(code="welcome-coupon", name="Welcome coupon", grades=["key"])
