"""Fixtures of the appeals tests: private storage in a temporary folder, the cast."""

from __future__ import annotations

import pytest

from tests.appeals.factories import portal_customer
from tests.grading.factories import threshold_scheme


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    """Evidence goes to a fresh folder per test, so "nothing stored" can be checked."""
    root = tmp_path / "private"
    settings.PRIVATE_MEDIA_ROOT = str(root)
    return root


def stored_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def carol(alice):
    """A portal customer of Alice's with an applied downgrade Key -> Growth."""
    account, _change = portal_customer(code="CAROL", manager=alice)
    return account


@pytest.fixture
def carols_change(carol):
    return carol.customer.grade_changes.get()


@pytest.fixture
def dave(bob):
    """A portal customer of Bob's with an applied downgrade Key -> Growth."""
    account, _ = portal_customer(code="DAVE", manager=bob)
    return account


@pytest.fixture
def scheme(db):
    """Historical value only, fixed thresholds (as in tests/grading/conftest.py)."""
    return threshold_scheme("scenario")
