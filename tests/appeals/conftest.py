"""Fixtures of the appeals tests: private storage in a temporary folder, the cast."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grading.models import Grade, GradingScheme, SchemeGrade
from tests.appeals.factories import portal_customer


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
    scheme = GradingScheme.objects.create(
        name="scenario",
        rfm_method=GradingScheme.RfmMethod.THRESHOLDS,
        r_thresholds=[30, 90, 180, 365],
        f_thresholds=[2, 4, 8, 16],
        m_thresholds=["1000", "5000", "20000", "100000"],
        weight_historical=Decimal("1"),
        weight_potential=Decimal("0"),
        weight_cooperation=Decimal("0"),
    )
    grades = {g.code: g for g in Grade.objects.filter(code__in=["key", "growth", "basic"])}
    for code, min_score in (("key", 55), ("growth", 25), ("basic", 0)):
        SchemeGrade.objects.create(
            scheme=scheme,
            grade=grades[code],
            min_score=Decimal(min_score),
            cadence="monthly",
            warn_after=1,
            downgrade_after=2,
            downgrade_needs_review=True,
        )
    return scheme
