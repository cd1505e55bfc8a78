"""The scheme service's checks of thresholds and ladder minimums (grading/services/schemes.py):
what the admin form reports field by field and what activation refuses."""

from decimal import Decimal

import pytest

from grading.exceptions import InvalidSchemeLadder
from grading.models import GradingScheme, SchemeGrade
from grading.services.schemes import (
    scheme_activate,
    scheme_ladder_problems,
    scheme_revise,
    scheme_threshold_problems,
)
from tests.grading.factories import default_scheme, grade

GOOD = {
    "r_thresholds": [30, 90, 180, 365],
    "f_thresholds": [2, 4, 8, 16],
    "m_thresholds": ["1000", "5000", "20000", "100000"],
}


def _messages(problems):
    return [(p.field, p.position, p.message) for p in problems]


def test_rising_thresholds_and_the_defaults_pass():
    assert scheme_threshold_problems(thresholds=GOOD) == []
    assert scheme_threshold_problems(thresholds={"r_thresholds": [], "f_thresholds": []}) == []


def test_a_threshold_not_above_the_previous_one_is_named_with_both_values():
    problems = scheme_threshold_problems(
        thresholds={**GOOD, "f_thresholds": [2, 4, 4, 16], "m_thresholds": [1000, 500, 20000, 1e5]}
    )

    assert _messages(problems) == [
        (
            "f_thresholds",
            2,
            "Frequency (orders in the window): the threshold for score 4 (4) must be higher "
            "than the one for score 3 (4).",
        ),
        (
            "m_thresholds",
            1,
            "Monetary (net purchases in the window): the threshold for score 3 (500) must be "
            "higher than the one for score 2 (1,000).",
        ),
    ]


def test_missing_negative_and_fractional_thresholds_are_named_by_score():
    problems = scheme_threshold_problems(
        thresholds={
            "r_thresholds": [30, None, 180, 365],
            "f_thresholds": [2, 4.5, 8, 16],
            "m_thresholds": ["-1", "5000", "20000"],
        }
    )

    assert [m for _f, _p, m in _messages(problems)] == [
        "Recency (days since the last order): enter the threshold for score 4.",
        "Frequency (orders in the window): the threshold for score 3 (4.5) must be a whole "
        "number of 0 or more.",
        "Monetary (net purchases in the window): the threshold for score 2 (-1) must be 0 or more.",
        "Monetary (net purchases in the window): enter the threshold for score 5.",
    ]


@pytest.mark.django_db
def test_a_ladder_whose_lower_grade_asks_as_much_is_named_with_the_grade_and_the_value():
    rungs = [
        (grade("key"), Decimal("55")),
        (grade("strategic"), Decimal("70")),
        (grade("growth"), Decimal("55.00")),
        (grade("basic"), None),
    ]

    problems = scheme_ladder_problems(rungs=rungs)

    assert _messages(problems) == [
        ("min_score", 3, "Basic: enter a minimum score."),
        (
            "min_score",
            2,
            "Growth: the minimum score (55) must be lower than that of the higher grade Key (55).",
        ),
    ]


@pytest.mark.django_db
def test_activation_refuses_a_draft_whose_thresholds_or_ladder_do_not_rise(ops):
    active = default_scheme()
    draft = scheme_revise(scheme=active, by=ops)
    GradingScheme.objects.filter(pk=draft.pk).update(f_thresholds=[2, 8, 4, 16])
    SchemeGrade.objects.filter(scheme=draft, grade__code="growth").update(min_score=80)

    with pytest.raises(InvalidSchemeLadder) as error:
        scheme_activate(scheme=draft, by=ops)

    message = error.value.message
    assert "the threshold for score 4 (4) must be higher than the one for score 3 (8)" in message
    assert "Growth: the minimum score (80) must be lower than that of the higher grade Key" in (
        message
    )
    draft.refresh_from_db()
    active.refresh_from_db()
    assert (draft.status, active.status) == ("draft", "active")
