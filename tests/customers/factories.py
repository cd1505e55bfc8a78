"""factory_boy factories for the customers app."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils import timezone

from customers.models import (
    Campaign,
    CampaignInvitation,
    Category,
    Complaint,
    Customer,
    Order,
    ProductReview,
    Referral,
    SalesLine,
    ServiceTicket,
)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-Word-123")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*extracted)
        if create:
            self.save()


class CategoryFactory(factory.django.DjangoModelFactory[Category]):
    class Meta:
        model = Category
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"cat-{n}")
    name = factory.LazyAttribute(lambda c: c.code.title())


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    code = factory.Sequence(lambda n: f"C{n:06d}")
    name = factory.Faker("company")
    kind = Customer.Kind.END_CUSTOMER
    industry = "retail"
    registered_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=800))
    email = factory.LazyAttribute(lambda c: f"{c.code.lower()}@example.com")


class OrderFactory(factory.django.DjangoModelFactory[Order]):
    class Meta:
        model = Order

    order_no = factory.Sequence(lambda n: f"O{n:08d}")
    customer = factory.SubFactory(CustomerFactory)
    placed_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=10))
    amount = Decimal("100.00")
    status = Order.Status.PAID


class CampaignFactory(factory.django.DjangoModelFactory[Campaign]):
    class Meta:
        model = Campaign

    code = factory.Sequence(lambda n: f"camp-{n}")
    name = factory.LazyAttribute(lambda c: c.code.title())
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=60))
    ends_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))


class CampaignInvitationFactory(factory.django.DjangoModelFactory[CampaignInvitation]):
    class Meta:
        model = CampaignInvitation

    campaign = factory.SubFactory(CampaignFactory)
    customer = factory.SubFactory(CustomerFactory)
    invited_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=50))


class ReferralFactory(factory.django.DjangoModelFactory[Referral]):
    class Meta:
        model = Referral

    referrer = factory.SubFactory(CustomerFactory)
    referred_name = factory.Faker("company")


class ComplaintFactory(factory.django.DjangoModelFactory[Complaint]):
    class Meta:
        model = Complaint

    customer = factory.SubFactory(CustomerFactory)
    description = "Late delivery"


class ProductReviewFactory(factory.django.DjangoModelFactory[ProductReview]):
    class Meta:
        model = ProductReview

    customer = factory.SubFactory(CustomerFactory)
    rating = 5


class ServiceTicketFactory(factory.django.DjangoModelFactory[ServiceTicket]):
    class Meta:
        model = ServiceTicket

    customer = factory.SubFactory(CustomerFactory)
    subject = "Question about an invoice"


class SalesLineFactory(factory.django.DjangoModelFactory[SalesLine]):
    class Meta:
        model = SalesLine

    document_no = factory.Sequence(lambda n: f"O{n:08d}")
    line_no = factory.Sequence(lambda n: n + 1)
    quantity = Decimal("1")
    unit_price = Decimal("10.00")
