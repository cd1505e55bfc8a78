"""The plain-language explanation and the next-grade estimate (pure: no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from portal.explain import (
    CutPoints,
    Facts,
    Target,
    Weights,
    decision_sentence,
    dimensions,
    needs_sentence,
    next_grade_needs,
    next_run_date,
    rfm_label_name,
)

# Fixed thresholds of the default scheme (F 2/4/8/16, M 1000/5000/20000/100000).
CUTS = CutPoints(
    frequency={2: 2, 3: 4, 4: 8, 5: 16},
    monetary={2: Decimal(1000), 3: Decimal(5000), 4: Decimal(20000), 5: Decimal(100000)},
)
HISTORY_ONLY = Weights(historical=1.0, potential=0.0, cooperation=0.0)


def _facts(**values) -> Facts:
    base = {
        "as_of": dt.date(2026, 6, 1),
        "window_days": 365,
        "recency_days": 38,
        "frequency": 8,
        "monetary": Decimal("2400"),
        "r_score": 4,
        "f_score": 4,
        "m_score": 2,
        "rfm_label": "loyal",
        "lifecycle": "mature",
        "historical": 58.3333,
        "potential": 0.0,
        "cooperation": 0.0,
        "composite": 58.3333,
    }
    return Facts(**{**base, **values})


@pytest.mark.parametrize(
    ("today", "cadence", "expected"),
    [
        (dt.date(2026, 6, 15), "monthly", dt.date(2026, 7, 1)),
        (dt.date(2026, 12, 31), "monthly", dt.date(2027, 1, 1)),
        (dt.date(2026, 5, 3), "quarterly", dt.date(2026, 7, 1)),
        (dt.date(2026, 11, 23), "quarterly", dt.date(2027, 1, 1)),
        (dt.date(2026, 1, 1), "quarterly", dt.date(2026, 4, 1)),
    ],
)
def test_next_run_date(today, cadence, expected):
    assert next_run_date(today, cadence=cadence) == expected


def test_one_more_order_lifts_recency_and_reaches_the_next_grade():
    # H = 100 (r-1 + f-1 + m-1) / 12: 58.33 now; a fresh order gives r 5 -> 66.67 >= 60.
    needs = next_grade_needs(
        facts=_facts(),
        target=Target("Strategic", 60),
        weights=HISTORY_ONLY,
        cuts=CUTS,
        deadline=dt.date(2026, 7, 1),
    )

    assert (needs.orders, needs.amount, needs.qualifies_now) == (1, None, False)
    assert needs.gap == pytest.approx(1.6667)


def test_orders_or_an_amount_close_a_bigger_gap():
    # Needs 75: r 5 (+8.33) and f 5 (16 orders, +8.33) -> 75.0; or r 5 and m 3 (5,000).
    needs = next_grade_needs(
        facts=_facts(),
        target=Target("Strategic", 75),
        weights=HISTORY_ONLY,
        cuts=CUTS,
        deadline=dt.date(2026, 7, 1),
    )

    # 8 more orders at the average 300 -> F 16 (f 5); M 4,800 stays m 2.
    assert needs.orders == 8
    # One order bringing M to 5,000 -> m 3 and f stays 4: r5 f4 m3 = 75.
    assert needs.amount == Decimal("2600")


def test_hard_gates_count_too():
    needs = next_grade_needs(
        facts=_facts(),
        target=Target("Key", 50, min_frequency=10, min_monetary=Decimal("3000")),
        weights=HISTORY_ONLY,
        cuts=CUTS,
        deadline=dt.date(2026, 7, 1),
    )

    assert needs.orders == 2  # 10 orders, 3,000 at 300 each
    assert not needs.qualifies_now


def test_purchases_alone_may_not_be_enough():
    weights = Weights(historical=0.2, potential=0.4, cooperation=0.4)
    needs = next_grade_needs(
        facts=_facts(composite=30.0),
        target=Target("Key", 80),
        weights=weights,
        cuts=CUTS,
        deadline=dt.date(2026, 7, 1),
    )

    assert (needs.orders, needs.amount) == (None, None)
    assert "Purchases alone" in needs_sentence(needs)


def test_already_above_the_floor_says_the_next_run_upgrades():
    needs = next_grade_needs(
        facts=_facts(composite=61.0),
        target=Target("Strategic", 60),
        weights=HISTORY_ONLY,
        cuts=CUTS,
        deadline=dt.date(2026, 7, 1),
    )

    assert needs.qualifies_now
    assert "already reaches Strategic" in needs_sentence(needs)


def test_the_sentence_reads_like_the_issue():
    needs = next_grade_needs(
        facts=_facts(),
        target=Target("Key", 75),
        weights=HISTORY_ONLY,
        cuts=CUTS,
        deadline=dt.date(2026, 7, 1),
    )

    assert needs_sentence(needs) == (
        "8 more orders or ¥2,600.00 more in net purchases by June 30 would reach Key (an estimate)."
    )


def test_dimensions_in_plain_language():
    lines = {d.key: d for d in dimensions(_facts())}

    assert lines["recency"].value == "Your last counted order was 38 days before June 1, 2026."
    assert lines["recency"].comparison == "Better than about 60% of customers."
    assert lines["frequency"].value.startswith("8 counted orders in the 365 days before")
    assert lines["monetary"].comparison == "Better than about 20% of customers."
    assert lines["segment"].value == "Loyal"
    assert "paid or completed" in lines["frequency"].counted


def test_dimensions_of_a_prospect():
    lines = {
        d.key: d for d in dimensions(_facts(recency_days=None, r_score=1, rfm_label="prospect"))
    }

    assert lines["recency"].value == "No counted order yet."
    assert lines["recency"].comparison == "In the lowest fifth of customers."


def test_labels_are_translated():
    with translation.override("zh-hans"):
        assert rfm_label_name("champions") != "Champions"
        text = dimensions(_facts())[0].title
    assert text
    assert rfm_label_name("unknown_code") == "unknown_code"


@pytest.mark.parametrize(
    ("rule", "action", "cadence", "count", "expected"),
    [
        ("override", "pinned", "quarterly", 0, "Our team has set your grade to Key"),
        ("appeal_lock", "locked", "quarterly", 0, "After your accepted appeal, your grade Key"),
        ("first_grading", "assign", "quarterly", 0, "Your first grading placed you in Key."),
        ("score_above_grade", "upgrade", "quarterly", 0, "Your score reached Key"),
        ("same_grade", "keep", "quarterly", 0, "you met everything Key requires"),
        ("within_hysteresis", "keep", "quarterly", 0, "within its margin"),
        ("proposal_withdrawn", "keep", "monthly", 0, "the proposal to lower your grade was"),
        (
            "on_target_not_due",
            "keep",
            "quarterly",
            1,
            "You meet what Key requires. Key is reviewed once a quarter; the next review is on "
            "July 1.",
        ),
        (
            "cadence_not_due",
            "keep",
            "quarterly",
            1,
            "nothing changes before the review on July 1. After 3 reviews in a row below them,",
        ),
        ("pending_review", "keep", "quarterly", 4, "at 4 reviews in a row. A proposal to lower"),
        ("downgrade_after", "propose_downgrade", "quarterly", 3, "3 reviews in a row, so lowering"),
        ("downgrade_after", "downgrade", "monthly", 0, "3 reviews in a row, so your grade was"),
        ("warn_after", "warn", "quarterly", 2, "2 reviews in a row: your account manager will"),
        ("under_target", "under_target", "quarterly", 1, "(1 review in a row). After 3 reviews"),
        ("changed_during_run", "keep", "quarterly", 0, ""),
    ],
)
def test_the_decision_of_every_rule_in_words(rule, action, cadence, count, expected):
    sentence = decision_sentence(
        rule=rule,
        action=action,
        grade="Key",
        cadence=cadence,
        count=count,
        downgrade_after=3,
        next_review=dt.date(2026, 7, 1),
    )
    assert expected in sentence
    assert bool(sentence) == bool(expected)


def test_the_decision_in_chinese():
    with translation.override("zh-hans"):
        sentence = decision_sentence(
            rule="warn_after",
            action="warn",
            grade="重点客户",
            cadence="quarterly",
            count=2,
            downgrade_after=3,
            next_review=dt.date(2026, 7, 1),
        )
    assert "重点客户" in sentence
    assert "review" not in sentence
