"""factory_boy factories and small helpers for the grading app."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from grading.models import (
    ChangeSource,
    CustomerGrade,
    Grade,
    GradeChange,
    GradeOverride,
    GradingRun,
    GradingScheme,
    SchemeGrade,
    ScoreSnapshot,
)
from grading.pipeline import partitions
from tests.customers.factories import CustomerFactory, OrderFactory


def default_scheme() -> GradingScheme:
    return GradingScheme.objects.get(name="default", version=1)


def grade(code: str) -> Grade:
    return Grade.objects.get(code=code)


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    """An aware datetime on `day` in the project time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def orders_for(customer, *days_and_amounts: tuple[dt.date, str]) -> None:
    for day, amount in days_and_amounts:
        OrderFactory(customer=customer, placed_at=at(day), amount=Decimal(amount))


def buyer(code: str, *amounts: str, as_of: dt.date, days_ago: int = 5, profit: str | None = None):
    """A customer with one order per amount, on consecutive days from `days_ago` before `as_of`
    back, each with `profit` (None: not recorded)."""
    customer = CustomerFactory(code=code)
    for i, amount in enumerate(amounts):
        OrderFactory(
            customer=customer,
            placed_at=at(as_of - dt.timedelta(days=days_ago + i)),
            amount=Decimal(amount),
            profit=None if profit is None else Decimal(profit),
        )
    return customer


def threshold_scheme(name: str, *, downgrade_needs_review: bool = True) -> GradingScheme:
    """Historical value only, fixed thresholds, monthly: every composite is computable by hand.

    Ladder key >= 55, growth >= 25, basic >= 0; warn after 1 period, downgrade after 2.
    """
    scheme = GradingScheme.objects.create(
        name=name,
        rfm_method=GradingScheme.RfmMethod.THRESHOLDS,
        r_thresholds=[30, 90, 180, 365],
        f_thresholds=[2, 4, 8, 16],
        m_thresholds=["1000", "5000", "20000", "100000"],
        weight_historical=Decimal("1"),
        weight_potential=Decimal("0"),
        weight_cooperation=Decimal("0"),
    )
    for code, min_score in (("key", 55), ("growth", 25), ("basic", 0)):
        SchemeGrade.objects.create(
            scheme=scheme,
            grade=grade(code),
            min_score=Decimal(min_score),
            cadence="monthly",
            warn_after=1,
            downgrade_after=2,
            downgrade_needs_review=downgrade_needs_review,
        )
    return scheme


class GradeOverrideFactory(factory.django.DjangoModelFactory[GradeOverride]):
    class Meta:
        model = GradeOverride

    grade = factory.LazyFunction(lambda: Grade.objects.get(code="key"))
    reason = "Strategic partner"


class GradingRunFactory(factory.django.DjangoModelFactory[GradingRun]):
    """A finished run of the default scheme (no snapshots: add them with ScoreSnapshotFactory)."""

    class Meta:
        model = GradingRun

    scheme = factory.LazyFunction(default_scheme)
    as_of = factory.Sequence(lambda n: dt.date(2020, 1, 1) + dt.timedelta(days=n))
    status = GradingRun.Status.SUCCEEDED


class CustomerGradeFactory(factory.django.DjangoModelFactory[CustomerGrade]):
    class Meta:
        model = CustomerGrade

    customer = factory.SubFactory(CustomerFactory)
    grade = factory.LazyFunction(lambda: grade("key"))
    since = factory.LazyFunction(timezone.now)


class ScoreSnapshotFactory(factory.django.DjangoModelFactory[ScoreSnapshot]):
    """A snapshot with distinct, recognisable numbers (a customer just under Key)."""

    class Meta:
        model = ScoreSnapshot

    run = factory.SubFactory(GradingRunFactory)

    @classmethod
    def _create(cls, model_class: type[ScoreSnapshot], *args: Any, **kwargs: Any) -> ScoreSnapshot:
        # On PostgreSQL a run's snapshots live in its partition, which a run makes as it writes.
        partitions.partition_ensure(kwargs["run"].pk)
        return super()._create(model_class, *args, **kwargs)

    customer = factory.SubFactory(CustomerFactory)
    recency_days = 95
    frequency = 8
    monetary = Decimal("2400.00")
    categories = 3
    first_half_amount = Decimal("1500.00")
    second_half_amount = Decimal("900.00")
    gap_cv = 0.4321
    campaign_invitations = 4
    campaign_joins = 1
    referrals = 2
    complaints = 1
    reviews = 3
    on_time_orders = 7
    rated_orders = 8
    growth_points = 40
    r_score = 3
    f_score = 4
    m_score = 2
    rfm_segment = "important_develop"
    rfm_label = "needs_attention"
    lifecycle = "mature"
    pyramid = "medium"
    breadth = 0.61
    stability = 0.5679
    growth = 0.3
    industry_prior = 0.5
    campaign_rate = 0.25
    referral_score = 0.6667
    complaint_score = 0.8
    on_time_rate = 0.875
    review_score = 0.6
    points_bonus = 4.0
    historical = 50.0
    potential = 49.87
    cooperation = 61.23
    composite = 51.2345
    computed_grade = factory.LazyFunction(lambda: grade("growth"))
    grade_before = factory.LazyFunction(lambda: grade("key"))
    grade_after = factory.LazyFunction(lambda: grade("key"))
    action = "propose_downgrade"
    rule = "downgrade_after"
    periods_under = 2


class GradeChangeFactory(factory.django.DjangoModelFactory[GradeChange]):
    """A downgrade proposal Key -> Growth waiting for review (no run unless given)."""

    class Meta:
        model = GradeChange

    customer = factory.SubFactory(CustomerFactory)
    from_grade = factory.LazyFunction(lambda: grade("key"))
    to_grade = factory.LazyFunction(lambda: grade("growth"))
    direction = GradeChange.Direction.DOWN
    status = GradeChange.Status.PROPOSED
    source = ChangeSource.RUN
    rule = "downgrade_after"
    reason = "Grading run 2026-04-01 (default v1)"


def proposal_for(customer, *, from_code: str = "key", to_code: str = "growth") -> GradeChange:
    """A customer holding `from_code` with a run's proposal to move to `to_code`, snapshot
    included, as a grading run leaves it."""
    CustomerGrade.objects.update_or_create(
        customer=customer,
        defaults={"grade": grade(from_code), "since": timezone.now(), "periods_under": 2},
    )
    snapshot = ScoreSnapshotFactory.create(
        customer=customer,
        grade_before=grade(from_code),
        grade_after=grade(from_code),
    )
    return GradeChangeFactory.create(
        customer=customer,
        run=snapshot.run,
        from_grade=grade(from_code),
        to_grade=grade(to_code),
    )
