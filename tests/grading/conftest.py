"""Fixtures of the grading tests."""

import pytest

from tests.grading.factories import threshold_scheme


@pytest.fixture
def scheme(db):
    """Historical value only, fixed thresholds: every composite is computable by hand."""
    return threshold_scheme("scenario")
