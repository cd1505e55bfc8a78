"""A year of monthly grading runs through the engine, with a quarterly rung, a pin, an
approval and a rejection: the grade policy of docs/grading-policy.md end to end.

Historical value only, fixed thresholds, so every composite is computable by hand:
H = 100 (r-1 + f-1 + m-1) / 12. Key (quarterly, min 55, margin 2, gate of 6 orders, warn
after 2, downgrade after 3) is reviewed only by the runs of 1 April, July, October and
January; Growth (monthly, min 25, warn after 1, downgrade after 2) by every run.
"""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from grading.models import CustomerGrade, GradeChange, GradingScheme, SchemeGrade, ScoreSnapshot
from grading.services.overrides import grade_override_end, grade_override_set
from grading.services.reviews import grade_change_approve, grade_change_reject
from grading.services.runs import grading_run_execute
from tests.customers.factories import CustomerFactory
from tests.grading.factories import at, grade, orders_for

#: Monthly runs, each dated the first day after its month: January 2026 .. December 2026.
RUNS = [dt.date(2026, m, 1) for m in range(2, 13)] + [dt.date(2027, 1, 1)]


def quarterly_scheme() -> GradingScheme:
    scheme = GradingScheme.objects.create(
        name="policy-year",
        rfm_method=GradingScheme.RfmMethod.THRESHOLDS,
        r_thresholds=[30, 90, 180, 365],
        f_thresholds=[2, 4, 8, 16],
        m_thresholds=["1000", "5000", "20000", "100000"],
        weight_historical=Decimal("1"),
        weight_potential=Decimal("0"),
        weight_cooperation=Decimal("0"),
    )
    rungs = (
        ("key", 55, 2, "quarterly", 6, 2, 3),
        ("growth", 25, 0, "monthly", 0, 1, 2),
        ("basic", 0, 0, "monthly", 0, 1, 2),
    )
    for code, min_score, margin, cadence, orders, warn_after, downgrade_after in rungs:
        SchemeGrade.objects.create(
            scheme=scheme,
            grade=grade(code),
            min_score=Decimal(min_score),
            hysteresis=Decimal(margin),
            cadence=cadence,
            min_frequency=orders,
            warn_after=warn_after,
            downgrade_after=downgrade_after,
        )
    return scheme


def history(customer) -> list[tuple[str, str, int, str]]:
    """(run month, rule, count, grade after) of each of the customer's snapshots."""
    return [
        (f"{as_of:%b}", rule, count, code)
        for as_of, rule, count, code in ScoreSnapshot.objects.filter(customer=customer)
        .order_by("run__as_of")
        .values_list("run__as_of", "rule", "periods_under", "grade_after__code")
    ]


def fading_key(code: str):
    """Eight orders of 300 on 10..24 January 2026: F = 8 (f 4), M = 2,400 (m 2); R grows."""
    customer = CustomerFactory(code=code)
    orders_for(customer, *[(dt.date(2026, 1, 10 + 2 * i), "300") for i in range(8)])
    return customer


def fading_growth(code: str):
    """Two orders of 300 on 20 and 21 January 2026: F = 2 (f 2), M = 600 (m 1)."""
    customer = CustomerFactory(code=code)
    orders_for(customer, (dt.date(2026, 1, 20), "300"), (dt.date(2026, 1, 21), "300"))
    return customer


def proposal_of(customer) -> GradeChange:
    return GradeChange.objects.get(customer=customer, status=GradeChange.Status.PROPOSED)


@pytest.mark.django_db
def test_a_year_of_monthly_runs_follows_the_policy(ops):
    scheme = quarterly_scheme()
    seed = fading_key("SEED")  # the seed rule: two quarters short warn, a third proposes
    rejected = CustomerFactory(code="REJECTED")  # the same, a quarter earlier; rejected
    orders_for(rejected, *[(dt.date(2025, 11, 10 + 2 * i), "300") for i in range(8)])
    pinned = fading_key("PINNED")  # as SEED, but pinned to Key from July to October
    approved = fading_growth("APPROVED")  # monthly Growth: proposal approved
    waiting = fading_growth("WAITING")  # monthly Growth: proposal nobody decides
    recovered = fading_growth("RECOVERED")  # monthly Growth: back on target at a review
    orders_for(recovered, (dt.date(2026, 9, 20), "300"))

    for as_of in RUNS:
        # Each run on its own date, as the beat would start it (a run refuses a future as-of).
        with time_machine.travel(at(as_of, hour=2), tick=False):
            grading_run_execute(as_of=as_of, scheme=scheme)
        if as_of == dt.date(2026, 6, 1):
            override = grade_override_set(
                customer=pinned, grade=grade("key"), reason="Key account", expires_on=None, by=ops
            )
        if as_of == dt.date(2026, 9, 1):
            grade_change_approve(change_ids=[proposal_of(approved).pk], by=ops)
        if as_of == dt.date(2026, 10, 1):
            grade_change_reject(change_ids=[proposal_of(rejected).pk], by=ops, reason="Talked")
            grade_override_end(override=override, by=ops, reason="Review done")

    # R from 24 January: r 5 (Feb), 4 (Mar, Apr) -> 58.33 Key; r 3 (May-Jul) -> 50 and
    # r 2 (Aug-Jan) -> 41.67, under Key's 53 (55 - 2). Only quarter starts count.
    assert history(seed) == [
        ("Feb", "first_grading", 0, "key"),
        ("Mar", "on_target_not_due", 0, "key"),
        ("Apr", "same_grade", 0, "key"),
        ("May", "cadence_not_due", 0, "key"),
        ("Jun", "cadence_not_due", 0, "key"),
        ("Jul", "under_target", 1, "key"),
        ("Aug", "cadence_not_due", 1, "key"),
        ("Sep", "cadence_not_due", 1, "key"),
        ("Oct", "warn_after", 2, "key"),  # two quarters short: the warning talk
        ("Nov", "cadence_not_due", 2, "key"),
        ("Dec", "cadence_not_due", 2, "key"),
        ("Jan", "downgrade_after", 3, "key"),  # still no improvement: proposed
    ]
    proposal = proposal_of(seed)
    assert (proposal.from_grade.code, proposal.to_grade.code) == ("key", "growth")
    assert proposal.run.as_of == dt.date(2027, 1, 1)

    # From 24 November 2025: 58.33 in February, then short from March. The October proposal
    # is rejected; the January 2027 review counts from 0 again (the orders left the window
    # in December: F = 0, H = 0, and the gate fails too).
    assert history(rejected) == [
        ("Feb", "first_grading", 0, "key"),
        ("Mar", "cadence_not_due", 0, "key"),
        ("Apr", "under_target", 1, "key"),
        ("May", "cadence_not_due", 1, "key"),
        ("Jun", "cadence_not_due", 1, "key"),
        ("Jul", "warn_after", 2, "key"),
        ("Aug", "cadence_not_due", 2, "key"),
        ("Sep", "cadence_not_due", 2, "key"),
        ("Oct", "downgrade_after", 3, "key"),
        ("Nov", "cadence_not_due", 0, "key"),  # rejected: the count restarted
        ("Dec", "cadence_not_due", 0, "key"),
        ("Jan", "under_target", 1, "key"),
    ]
    change = GradeChange.objects.get(customer=rejected, run__as_of=dt.date(2026, 10, 1))
    assert change.status == GradeChange.Status.REJECTED
    assert CustomerGrade.objects.get(customer=rejected).grade.code == "key"

    # Pinned July to October: the runs keep scoring but hold the grade and the count at 0.
    assert history(pinned)[4:] == [
        ("Jun", "cadence_not_due", 0, "key"),
        ("Jul", "override", 0, "key"),
        ("Aug", "override", 0, "key"),
        ("Sep", "override", 0, "key"),
        ("Oct", "override", 0, "key"),
        ("Nov", "cadence_not_due", 0, "key"),
        ("Dec", "cadence_not_due", 0, "key"),
        ("Jan", "under_target", 1, "key"),
    ]
    assert not GradeChange.objects.filter(customer=pinned, run__isnull=False).exclude(
        direction=GradeChange.Direction.ASSIGN
    )

    # R from 21 January: 41.67 (Feb), 33.33 (Mar, Apr), 25 (May-Jul) keep Growth; 16.67
    # from August: warned, then proposed. Approved: Basic from September's decision on.
    assert history(approved) == [
        ("Feb", "first_grading", 0, "growth"),
        ("Mar", "same_grade", 0, "growth"),
        ("Apr", "same_grade", 0, "growth"),
        ("May", "same_grade", 0, "growth"),
        ("Jun", "same_grade", 0, "growth"),
        ("Jul", "same_grade", 0, "growth"),
        ("Aug", "warn_after", 1, "growth"),
        ("Sep", "downgrade_after", 2, "growth"),
        ("Oct", "same_grade", 0, "basic"),  # approved: applied, the count reset
        ("Nov", "same_grade", 0, "basic"),
        ("Dec", "same_grade", 0, "basic"),
        ("Jan", "same_grade", 0, "basic"),
    ]
    assert CustomerGrade.objects.get(customer=approved).grade.code == "basic"

    # Nobody decides: the count goes on, and there is never a second proposal.
    assert [(m, rule, n) for m, rule, n, _ in history(waiting)[6:]] == [
        ("Aug", "warn_after", 1),
        ("Sep", "downgrade_after", 2),
        ("Oct", "pending_review", 3),
        ("Nov", "pending_review", 4),
        ("Dec", "pending_review", 5),
        ("Jan", "pending_review", 6),
    ]
    assert GradeChange.objects.filter(customer=waiting, direction="down").count() == 1

    # An order on 20 September: back to 41.67 at October's review, which withdraws the
    # proposal (the write step's part is checked below).
    assert history(recovered)[6:9] == [
        ("Aug", "warn_after", 1, "growth"),
        ("Sep", "downgrade_after", 2, "growth"),
        ("Oct", "proposal_withdrawn", 0, "growth"),
    ]


@pytest.mark.django_db
def test_a_review_on_target_supersedes_the_pending_proposal_with_the_reason():
    scheme = quarterly_scheme()
    recovered = fading_growth("RECOVERED")
    orders_for(recovered, (dt.date(2026, 9, 20), "300"))
    for as_of in RUNS[:10]:  # January .. October
        grading_run_execute(as_of=as_of, scheme=scheme)

    change = GradeChange.objects.get(customer=recovered, run__as_of=dt.date(2026, 9, 1))
    assert change.status == GradeChange.Status.SUPERSEDED
    assert change.decision_note
    assert change.decided_at is not None
    # Nothing is pending any more: November's review on target is a plain one.
    assert history(recovered)[-2:] == [
        ("Oct", "proposal_withdrawn", 0, "growth"),
        ("Nov", "same_grade", 0, "growth"),
    ]
