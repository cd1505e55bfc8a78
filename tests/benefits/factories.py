"""factory_boy factories and small helpers for the benefits app."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from benefits.models import Benefit, GradeBenefit, Recommendation
from grading.models import CustomerGrade, Grade
from tests.customers.factories import CategoryFactory, CustomerFactory


class BenefitFactory(factory.django.DjangoModelFactory[Benefit]):
    """A single-use fixed coupon unless told otherwise; attach grades with `grades=[...]`."""

    class Meta:
        model = Benefit
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"benefit-{n}")
    name = factory.LazyAttribute(lambda b: b.code.replace("-", " ").title())
    kind = Benefit.Kind.FIXED_COUPON
    value = Decimal("20.00")
    allowance = 1
    period = "once"
    cost_per_use = Decimal("20.00")

    @factory.post_generation
    def grades(self, create, extracted, **kwargs):
        for code in extracted or ():
            GradeBenefit.objects.create(grade=Grade.objects.get(code=code), benefit=self)


class RecommendationFactory(factory.django.DjangoModelFactory[Recommendation]):
    class Meta:
        model = Recommendation

    customer = factory.SubFactory(CustomerFactory)
    category = factory.SubFactory(CategoryFactory)
    reason = "Buys one category only"


def set_grade(customer, code: str) -> CustomerGrade:
    """Give `customer` the grade `code` now (creating or changing their grade row)."""
    state, _ = CustomerGrade.objects.update_or_create(
        customer=customer,
        defaults={"grade": Grade.objects.get(code=code), "since": timezone.now()},
    )
    return state
