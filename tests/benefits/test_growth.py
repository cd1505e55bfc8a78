"""Growth tasks credit the points ledger once per completion; points can lift a grade."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from benefits.models import GrowthTask
from benefits.selectors import growth_task_progress_for_customer
from benefits.services.growth import growth_tasks_award
from benefits.tasks import award_growth_tasks_task
from customers.models import PointsEntry
from customers.selectors import points_balance
from grading.models import CustomerGrade, Grade, GradingScheme, SchemeGrade
from grading.services.runs import grading_run_execute
from tests.customers.factories import (
    CampaignInvitationFactory,
    CustomerFactory,
    OrderFactory,
    ProductReviewFactory,
    ReferralFactory,
)
from tests.grading.factories import at

# Facts default to "now", so the job's day is today in the project time zone.
#: The tests run at noon of a fixed day in the project's zone: a date taken from the clock at
#: import went stale when the suite crossed local midnight (rows made "now" fell on the next
#: day, outside the award's day).
NOON = timezone.make_aware(dt.datetime(2026, 12, 4, 12, 0))
TODAY = NOON.date()


@pytest.fixture(autouse=True)
def _noon():
    with time_machine.travel(NOON, tick=True):
        yield


def _complete(customer):
    customer.phone = "+86 10 1234 5678"
    customer.contact_name = "Li Wei"
    customer.address = "1 Chang'an Ave, Beijing"
    customer.save()
    return customer


def _ledger():
    return sorted(PointsEntry.objects.values_list("customer__code", "dedupe_key", "points"))


@pytest.mark.django_db
def test_each_task_credits_its_points_and_a_rerun_credits_nothing():
    customer = _complete(CustomerFactory(code="C1"))
    first, second = ProductReviewFactory(customer=customer), ProductReviewFactory(customer=customer)
    invitation = CampaignInvitationFactory(customer=customer, joined_at=at(TODAY, 10))
    referred = CustomerFactory(code="C2")
    referral = ReferralFactory(referrer=customer, referred=referred, created_at=at(TODAY, 8))
    OrderFactory(customer=referred, placed_at=at(TODAY, 11))

    credited = growth_tasks_award(today=TODAY)

    assert credited == 5
    assert _ledger() == sorted(
        [
            ("C1", "complete_profile", 10),
            ("C1", f"review_product:{first.pk}", 5),
            ("C1", f"review_product:{second.pk}", 5),
            ("C1", f"join_campaign:{invitation.campaign_id}", 5),
            ("C1", f"refer_customer_who_orders:{referral.pk}", 30),
        ]
    )
    assert points_balance(customer) == 55

    # The job re-runs (retry, second beat, backfill): the ledger stays the same.
    assert growth_tasks_award(today=TODAY) == 0
    assert growth_tasks_award(today=TODAY + dt.timedelta(days=1)) == 0
    assert points_balance(customer) == 55


@pytest.mark.django_db
def test_a_new_completion_is_credited_by_the_next_run():
    customer = CustomerFactory()
    ProductReviewFactory(customer=customer)
    growth_tasks_award(today=TODAY)

    ProductReviewFactory(customer=customer)

    assert growth_tasks_award(today=TODAY) == 1
    assert points_balance(customer) == 10


@pytest.mark.django_db
def test_a_task_that_is_not_repeatable_credits_once_per_customer():
    GrowthTask.objects.filter(code="review_product").update(repeatable=False)
    customer = CustomerFactory()
    for _ in range(3):
        ProductReviewFactory(customer=customer)

    growth_tasks_award(today=TODAY)
    growth_tasks_award(today=TODAY)

    assert _ledger() == [(customer.code, "review_product", 5)]


@pytest.mark.django_db
def test_an_incomplete_profile_earns_nothing_until_completed():
    customer = CustomerFactory(phone="123", contact_name="Li", address="")  # no address
    assert growth_tasks_award(today=TODAY) == 0

    customer.address = "Somewhere 1"
    customer.save()

    assert growth_tasks_award(today=TODAY) == 1
    assert points_balance(customer) == 10


@pytest.mark.django_db
def test_a_referral_counts_only_once_the_referred_customer_orders_after_it():
    referrer = CustomerFactory()
    earlier_buyer, later_buyer, cancelled = CustomerFactory(), CustomerFactory(), CustomerFactory()
    OrderFactory(customer=earlier_buyer, placed_at=at(TODAY - dt.timedelta(days=30)))
    ReferralFactory(referrer=referrer, referred=earlier_buyer, created_at=at(TODAY, 8))
    OrderFactory(customer=cancelled, placed_at=at(TODAY, 11), status="cancelled")
    ReferralFactory(referrer=referrer, referred=cancelled, created_at=at(TODAY, 8))
    ReferralFactory(referrer=referrer, referred_name="Not a customer yet", created_at=at(TODAY, 8))
    good = ReferralFactory(referrer=referrer, referred=later_buyer, created_at=at(TODAY, 8))
    OrderFactory(customer=later_buyer, placed_at=at(TODAY + dt.timedelta(days=2)))

    assert growth_tasks_award(today=TODAY) == 0  # the order comes after `today`
    assert growth_tasks_award(today=TODAY + dt.timedelta(days=2)) == 1
    assert _ledger() == [(referrer.code, f"refer_customer_who_orders:{good.pk}", 30)]


@pytest.mark.django_db
def test_an_invitation_not_joined_and_a_switched_off_task_earn_nothing():
    customer = CustomerFactory()
    CampaignInvitationFactory(customer=customer)
    GrowthTask.objects.filter(code="review_product").update(is_active=False)
    ProductReviewFactory(customer=customer)

    assert growth_tasks_award(today=TODAY) == 0


@pytest.mark.django_db
def test_customers_see_tasks_with_what_they_earned(django_assert_num_queries):
    customer = _complete(CustomerFactory())
    ProductReviewFactory(customer=customer)
    growth_tasks_award(today=TODAY)

    with django_assert_num_queries(2):
        progress = {p.task.code: p for p in growth_task_progress_for_customer(customer=customer)}

    assert (progress["complete_profile"].points_earned, progress["complete_profile"].done) == (
        10,
        True,
    )
    assert (progress["review_product"].completions, progress["review_product"].done) == (1, False)
    assert progress["join_campaign"].points_earned == 0


@pytest.mark.django_db
def test_the_task_and_the_command_call_the_same_idempotent_service(capsys):
    customer = _complete(CustomerFactory())

    assert award_growth_tasks_task(TODAY.isoformat()) == {"credited": 1}
    call_command("award_growth_points", "--today", TODAY.isoformat())

    assert "0 credit(s)" in capsys.readouterr().out
    assert points_balance(customer) == 10


@pytest.fixture
def points_scheme(db):
    """Cooperation only, one cooperation point per growth point: composite = growth points
    for a customer with no other engagement."""
    scheme = GradingScheme.objects.create(
        name="points",
        weight_historical=Decimal("0"),
        weight_potential=Decimal("0"),
        weight_cooperation=Decimal("1"),
        points_rate=Decimal("1"),
        points_cap=Decimal("100"),
    )
    for code, min_score in (("growth", 10), ("basic", 0)):
        SchemeGrade.objects.create(
            scheme=scheme, grade=Grade.objects.get(code=code), min_score=Decimal(min_score)
        )
    return scheme


@pytest.mark.django_db
def test_completing_growth_tasks_lifts_the_grade_in_the_next_run(points_scheme):
    customer = CustomerFactory(code="GROWER")
    grading_run_execute(as_of=dt.date(2026, 10, 1), scheme=points_scheme)
    assert CustomerGrade.objects.get(customer=customer).grade.code == "basic"

    # In October the customer completes their profile; the nightly job credits 10 points.
    with time_machine.travel(at(dt.date(2026, 10, 15)), tick=False):
        _complete(customer)
        assert growth_tasks_award(today=dt.date(2026, 10, 15)) == 1

    grading_run_execute(as_of=dt.date(2026, 11, 1), scheme=points_scheme)

    state = CustomerGrade.objects.get(customer=customer)
    assert state.grade.code == "growth"
    snapshot = customer.snapshots.get(run__as_of=dt.date(2026, 11, 1))
    assert snapshot.growth_points == 10
    assert snapshot.action == "upgrade"


@pytest.mark.django_db
def test_points_lift_the_cooperation_score_only_up_to_the_schemes_cap(points_scheme):
    from customers.services.points import points_credit

    points_scheme.points_cap = Decimal("5")  # growth needs 10
    points_scheme.save(update_fields=["points_cap"])
    customer = CustomerFactory(code="CAPPED")
    with time_machine.travel(at(dt.date(2026, 10, 15)), tick=False):
        points_credit(
            customer_id=customer.pk,
            task_code="review_product",
            points=500,
            dedupe_key="many-reviews",
            reason="A lot of reviews",
        )

    grading_run_execute(as_of=dt.date(2026, 11, 1), scheme=points_scheme)

    snapshot = customer.snapshots.get(run__as_of=dt.date(2026, 11, 1))
    assert snapshot.growth_points == 500
    assert snapshot.cooperation == pytest.approx(5.0)
    assert CustomerGrade.objects.get(customer=customer).grade.code == "basic"
