"""Fixtures of the grading tests."""

from decimal import Decimal

import pytest

from grading.models import Grade, GradingScheme, SchemeGrade


@pytest.fixture
def scheme(db):
    """Historical value only, fixed thresholds: every composite is computable by hand."""
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
