"""factory_boy factories and small helpers for the grading app."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from grading.models import Grade, GradeOverride, GradingScheme
from tests.customers.factories import OrderFactory


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


class GradeOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GradeOverride

    grade = factory.LazyFunction(lambda: Grade.objects.get(code="key"))
    reason = "Strategic partner"
