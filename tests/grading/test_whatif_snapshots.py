"""What-if from a run's snapshots (issue #15, item 4): the draft scores the facts the run stored,
reads no order, and gives the grades, scores and movers of the full rescoring from orders."""

import datetime as dt
import random
from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from common.dates import local_midnight
from customers.models import Complaint, FactsState, Order, Referral
from grading.models import GradingScheme, SchemeGrade
from grading.pipeline import decide
from grading.pipeline.rules import scheme_rules
from grading.scoring import score_facts
from grading.scoring.compute import FIRST_ORDER_DATE, LIFECYCLE, TENURE_DAYS
from grading.services.runs import grading_run_execute
from grading.services.schemes import scheme_revise
from grading.whatif import (
    WhatIfSource,
    _score,
    scheme_what_if,
    snapshot_facts,
    what_if_source,
)
from tests.customers.factories import (
    CampaignInvitationFactory,
    CategoryFactory,
    ComplaintFactory,
    CustomerFactory,
    OrderFactory,
    ReferralFactory,
)
from tests.grading.factories import default_scheme

AS_OF = dt.date(2026, 4, 1)
#: What the snapshots do not keep (the first order date): they feed the lifecycle stage only.
NOT_KEPT = [FIRST_ORDER_DATE, TENURE_DAYS, LIFECYCLE]


def _at(day: dt.date, hour: int) -> dt.datetime:
    return local_midnight(day) + dt.timedelta(hours=hour)


def _population(n: int = 60) -> None:
    """Customers whose every fact varies: orders in and before the window in every status,
    refunds, categories, on-time flags, industries, invitations, complaints, referrals."""
    rng = random.Random(15)
    categories = [CategoryFactory() for _ in range(4)]
    statuses = list(Order.Status)
    in_window = AS_OF - dt.timedelta(days=364)
    for i in range(n):
        customer = CustomerFactory.create(
            code=f"P{i:03d}", industry=["retail", "games", "food", ""][rng.randrange(4)]
        )
        for _ in range(rng.choice([0, 1, 2, 3, 4, 6, 9])):
            day = AS_OF - dt.timedelta(days=rng.randint(1, 520))
            OrderFactory(
                customer=customer,
                placed_at=_at(day, rng.choice([0, 12, 23])),
                amount=Decimal(rng.randint(100, 900_000)) / 100,
                refunded_amount=Decimal("3.50") if rng.random() < 0.2 else Decimal(0),
                status=statuses[rng.randrange(len(statuses))]
                if rng.random() < 0.3
                else Order.Status.COMPLETED,
                category=rng.choice([None, *categories]),
                on_time=rng.choice([True, False, None]),
            )
        for _ in range(rng.randint(0, 3)):
            joined = rng.random() < 0.5
            CampaignInvitationFactory(
                customer=customer,
                invited_at=_at(in_window + dt.timedelta(days=rng.randint(0, 300)), 9),
                joined_at=_at(in_window + dt.timedelta(days=310), 9) if joined else None,
            )
        if rng.random() < 0.3:
            ComplaintFactory(customer=customer)
            Complaint.objects.filter(customer_id=customer.pk).update(created_at=_at(AS_OF, -72))
        if rng.random() < 0.3:
            ReferralFactory(referrer=customer)
            Referral.objects.filter(referrer_id=customer.pk).update(created_at=_at(AS_OF, -96))
    CustomerFactory(code="PROSPECT", industry="retail")


@pytest.fixture
def graded(db):
    scheme = default_scheme()
    _population()
    grading_run_execute(as_of=AS_OF, scheme=scheme)
    return scheme


def _draft(scheme: GradingScheme, ops, **fields) -> GradingScheme:
    draft = scheme_revise(scheme=scheme, by=ops)
    GradingScheme.objects.filter(pk=draft.pk).update(**fields)
    draft.refresh_from_db()
    return draft


DRAFTS = {
    "weights": {
        "weight_historical": Decimal("0.2"),
        "weight_potential": Decimal("0.5"),
        "weight_cooperation": Decimal("0.3"),
        "weight_r": Decimal("2"),
        "weight_breadth": Decimal("0.4"),
        "weight_review": Decimal("0.3"),
    },
    "industry priors": {"industry_priors": {"games": "0.9", "food": "0.1"}},
    "RFM thresholds": {
        "rfm_method": GradingScheme.RfmMethod.THRESHOLDS,
        "r_thresholds": [20, 60, 120, 240],
        "f_thresholds": [2, 3, 5, 8],
        "m_thresholds": ["500", "2000", "8000", "20000"],
    },
    "RFM within the pyramid": {"rfm_within_pyramid": True},
    # Lifecycle rules do not shape the grade: the snapshots need not know the tenure.
    "lifecycle": {"new_days": 400, "dormant_days": 30},
}


def _compared(scores: pd.DataFrame) -> pd.DataFrame:
    return scores.drop(columns=NOT_KEPT).sort_index()


@pytest.mark.django_db
def test_a_draft_scores_the_runs_facts_as_the_full_rescoring_from_orders(graded, ops):
    """Drafts changing weights, industry priors, the RFM method, the pyramid, the lifecycle
    rules, the ladder: the same scores, grades, per-grade sums and movers either way."""
    for change in [*DRAFTS, "ladder"]:
        draft = _draft(graded, ops, **DRAFTS.get(change, {}))
        if change == "ladder":
            SchemeGrade.objects.filter(scheme=draft, grade__code="key").update(min_score=40)
            SchemeGrade.objects.filter(scheme=draft, grade__code="growth").update(min_score=12)
        rules = scheme_rules(draft)
        run, source = what_if_source(as_of=AS_OF, window_days=rules.params.window_days)
        assert run is not None, change
        assert source == WhatIfSource(run_id=run.pk), change

        facts = snapshot_facts(run=run)
        from_snapshots = score_facts(facts, params=rules.params, ladder=rules.ladder)
        from_orders = decide.score_period(rules=rules, as_of=AS_OF)

        pd.testing.assert_frame_equal(_compared(from_snapshots), _compared(from_orders))
        assert from_orders["grade"].nunique() >= 2, change
        figures = _score(scheme=draft, rules=rules, as_of=AS_OF, facts=facts, source=source)
        expected = _score(scheme=draft, rules=rules, as_of=AS_OF, facts=None, source=source)
        pd.testing.assert_frame_equal(figures.pairs, expected.pairs)
        pd.testing.assert_frame_equal(figures.movers, expected.movers)
        assert not figures.movers.empty or change == "lifecycle", change


#: Every fact the scores read, each varying across the population.
FACTS = [
    "recency_days",
    "frequency",
    "monetary_cents",
    "categories",
    "first_half_cents",
    "second_half_cents",
    "gap_cv",
    "industry",
    "campaign_invitations",
    "campaign_joins",
    "referrals",
    "complaints",
    "on_time_orders",
    "rated_orders",
]


@pytest.mark.django_db
def test_a_fact_left_out_of_the_snapshot_read_changes_the_scores(graded):
    """The mutants: one fact read as a constant; the comparison above catches each."""
    rules = scheme_rules(graded)
    run, _source = what_if_source(as_of=AS_OF, window_days=rules.params.window_days)
    facts = snapshot_facts(run=run)
    expected = _compared(decide.score_period(rules=rules, as_of=AS_OF))
    pd.testing.assert_frame_equal(
        _compared(score_facts(facts, params=rules.params, ladder=rules.ladder)), expected
    )
    for fact in FACTS:
        mutant = facts.copy()
        mutant[fact] = mutant[fact].iloc[0] if fact == "industry" else 0 * mutant[fact]
        if fact == "rated_orders":
            mutant["on_time_orders"] = 0 * mutant["on_time_orders"]
        got = _compared(score_facts(mutant, params=rules.params, ladder=rules.ladder))
        with pytest.raises(AssertionError):
            pd.testing.assert_frame_equal(got, expected)


@pytest.mark.django_db
def test_the_what_if_reads_no_order_when_the_run_holds_the_facts(graded, ops):
    draft = _draft(graded, ops, **DRAFTS["weights"])

    with CaptureQueriesContext(connection) as queries:
        result = scheme_what_if(scheme=draft, as_of=AS_OF)

    order_table = Order._meta.db_table
    reads = [q["sql"] for q in queries.captured_queries if order_table in q["sql"]]
    # No order read, nor the customer facts: the window's profit (not a scoring fact) comes
    # with the snapshots the run wrote.
    assert reads == []
    state = FactsState._meta.db_table
    assert not [q for q in queries.captured_queries if state in q["sql"]]
    # The snapshot read and the current grades are one statement each; on PostgreSQL each is
    # a binary COPY on the raw connection, which the capture does not see.
    assert len(queries.captured_queries) == (11 if connection.vendor == "sqlite" else 9)
    assert result.source is not None
    assert result.source.run_id is not None
    assert result.scored == 61


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "reason"),
    [("window", "window"), ("late customer", "customers"), ("other date", "no_run")],
)
def test_otherwise_the_draft_is_scored_from_the_orders_and_says_why(graded, ops, case, reason):
    draft = _draft(graded, ops, window_days=200 if case == "window" else 365)
    if case == "late customer":
        CustomerFactory(code="LATE")
    as_of = AS_OF - dt.timedelta(days=31) if case == "other date" else AS_OF

    result = scheme_what_if(scheme=draft, as_of=as_of)

    assert result.source is not None
    assert (result.source.run_id, result.source.reason) == (None, reason)
    assert result.source_note().startswith("Scored from the orders: ")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "from_run", "from_orders"),
    [
        ("en", "Scored from the facts stored by the run", "the draft's window (200 days)"),
        ("zh-hans", "根据评级批次", "草案的统计窗口（200 天）"),  # noqa: RUF001
    ],
)
def test_the_page_says_where_the_facts_came_from(
    client, ops, graded, language, from_run, from_orders
):
    client.force_login(ops)
    same = _draft(graded, ops, **DRAFTS["weights"])
    other = _draft(graded, ops, window_days=200)
    with translation.override(language):
        url_same = reverse("reports:what-if", args=[same.pk])
        url_other = reverse("reports:what-if", args=[other.pk])
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    query = {"as_of": AS_OF.isoformat()}

    page_same = client.get(url_same, query, **headers).content.decode()
    page_other = client.get(url_other, query, **headers).content.decode()

    assert from_run in page_same
    assert from_orders in page_other.replace("&#x27;", "'")
