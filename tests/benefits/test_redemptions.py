"""benefit_redeem: entitlement by current grade, allowance per period, validity, idempotency."""

import datetime as dt
from decimal import Decimal

import pytest

from benefits.exceptions import (
    AllowanceExhausted,
    BenefitNotEntitled,
    BenefitNotFound,
    BenefitUnavailable,
    IdempotencyKeyReused,
)
from benefits.models import Redemption
from benefits.periods import months_before, period_key
from benefits.selectors import entitlement_list_for_customer
from benefits.services.redemptions import benefit_redeem
from common.exceptions import DomainError
from tests.benefits.factories import BenefitFactory, set_grade
from tests.customers.factories import CustomerFactory, UserFactory

TODAY = dt.date(2026, 11, 23)


def _redeem(customer, code, key, *, today=TODAY, **kwargs):
    return benefit_redeem(
        customer_id=customer.pk,
        benefit_code=code,
        idempotency_key=key,
        channel="api",
        today=today,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("period", "day", "expected"),
    [
        ("once", dt.date(2026, 11, 23), "once"),
        ("month", dt.date(2026, 1, 31), "2026-01"),
        ("quarter", dt.date(2026, 3, 31), "2026-Q1"),
        ("quarter", dt.date(2026, 10, 1), "2026-Q4"),
        ("year", dt.date(2026, 12, 31), "2026"),
    ],
)
def test_period_key_names_the_period_a_day_falls_in(period, day, expected):
    assert period_key(period, day) == expected


def test_months_before_clamps_to_the_end_of_a_short_month():
    assert months_before(dt.date(2026, 5, 31), 3) == dt.date(2026, 2, 28)
    assert months_before(dt.date(2026, 1, 15), 1) == dt.date(2025, 12, 15)


@pytest.mark.django_db
def test_an_entitled_customer_redeems_and_the_row_records_grade_cost_and_actor(
    key_customer, coupon
):
    user = UserFactory()

    redemption = _redeem(key_customer, "welcome-coupon", "k-1", by=user)

    assert redemption.grade.code == "key"
    assert (redemption.period_key, redemption.slot, redemption.channel) == ("once", 1, "api")
    assert redemption.cost == Decimal("20.00")
    assert redemption.redeemed_by == user


@pytest.mark.django_db
def test_a_grade_without_the_benefit_is_refused_naming_benefit_and_grade(coupon):
    customer = CustomerFactory()
    set_grade(customer, "growth")

    with pytest.raises(BenefitNotEntitled) as refused:
        _redeem(customer, "welcome-coupon", "k-1")

    assert refused.value.status_code == 403
    assert "Growth" in refused.value.message
    assert "Welcome coupon" in refused.value.message
    assert not Redemption.objects.exists()


@pytest.mark.django_db
def test_an_ungraded_customer_is_not_entitled(coupon):
    with pytest.raises(BenefitNotEntitled):
        _redeem(CustomerFactory(), "welcome-coupon", "k-1")


@pytest.mark.django_db
def test_an_unknown_benefit_is_404(key_customer):
    with pytest.raises(BenefitNotFound) as missing:
        _redeem(key_customer, "no-such-benefit", "k-1")
    assert missing.value.status_code == 404


@pytest.mark.django_db
def test_a_single_use_benefit_is_redeemed_once(key_customer, coupon):
    _redeem(key_customer, "welcome-coupon", "k-1")

    with pytest.raises(AllowanceExhausted) as exhausted:
        _redeem(key_customer, "welcome-coupon", "k-2", today=TODAY + dt.timedelta(days=400))

    assert exhausted.value.status_code == 409
    assert Redemption.objects.count() == 1


@pytest.mark.django_db
def test_a_monthly_allowance_resets_next_month(key_customer):
    # Seeded catalog: the key grade carries a 5% discount, twice a month.
    for key in ("a", "b"):
        _redeem(key_customer, "discount-5", key)
    with pytest.raises(AllowanceExhausted):
        _redeem(key_customer, "discount-5", "c")

    december = _redeem(key_customer, "discount-5", "d", today=dt.date(2026, 12, 1))

    assert (december.period_key, december.slot) == ("2026-12", 1)
    assert list(Redemption.objects.order_by("id").values_list("period_key", "slot")) == [
        ("2026-11", 1),
        ("2026-11", 2),
        ("2026-12", 1),
    ]


@pytest.mark.django_db
def test_a_benefit_outside_its_validity_or_switched_off_is_unavailable(key_customer):
    BenefitFactory(code="future", valid_from=TODAY + dt.timedelta(days=1), grades=["key"])
    BenefitFactory(code="expired", valid_until=TODAY - dt.timedelta(days=1), grades=["key"])
    BenefitFactory(code="off", is_active=False, grades=["key"])
    BenefitFactory(code="last-day", valid_until=TODAY, grades=["key"])

    for code in ("future", "expired", "off"):
        with pytest.raises(BenefitUnavailable):
            _redeem(key_customer, code, f"k-{code}")
    assert _redeem(key_customer, "last-day", "k-last").slot == 1


@pytest.mark.django_db
def test_a_retry_with_the_same_idempotency_key_returns_the_first_result(key_customer, coupon):
    first = _redeem(key_customer, "welcome-coupon", "retry-me")

    again = _redeem(key_customer, "welcome-coupon", "retry-me")

    assert again.pk == first.pk
    assert Redemption.objects.count() == 1


@pytest.mark.django_db
def test_a_retry_returns_the_first_result_even_after_a_downgrade(key_customer, coupon):
    first = _redeem(key_customer, "welcome-coupon", "retry-me")
    set_grade(key_customer, "basic")

    assert _redeem(key_customer, "welcome-coupon", "retry-me").pk == first.pk


@pytest.mark.django_db
def test_reusing_a_key_for_another_benefit_is_a_conflict(key_customer, coupon):
    _redeem(key_customer, "welcome-coupon", "same-key")

    with pytest.raises(IdempotencyKeyReused) as conflict:
        _redeem(key_customer, "discount-5", "same-key")
    assert conflict.value.status_code == 409


@pytest.mark.django_db
def test_an_idempotency_key_is_required(key_customer, coupon):
    with pytest.raises(DomainError):
        _redeem(key_customer, "welcome-coupon", "  ")
    with pytest.raises(DomainError):
        _redeem(key_customer, "welcome-coupon", "x" * 101)


@pytest.mark.django_db
def test_a_downgrade_removes_the_entitlements_not_yet_used(key_customer, coupon):
    _redeem(key_customer, "discount-5", "used-once")
    before = {
        e.benefit.code: e.remaining
        for e in entitlement_list_for_customer(customer=key_customer, today=TODAY)
    }
    assert before["welcome-coupon"] == 1
    assert before["discount-5"] == 1

    set_grade(key_customer, "growth")

    after = {
        e.benefit.code for e in entitlement_list_for_customer(customer=key_customer, today=TODAY)
    }
    assert "welcome-coupon" not in after
    assert "discount-5" not in after
    assert "free-shipping" in after  # growth still carries free shipping
    with pytest.raises(BenefitNotEntitled):
        _redeem(key_customer, "welcome-coupon", "after-downgrade")
    # What was used stays in the history.
    assert Redemption.objects.get().grade.code == "key"


@pytest.mark.django_db
def test_an_upgrade_grants_the_new_grades_benefits_at_once(coupon):
    customer = CustomerFactory()
    set_grade(customer, "growth")
    with pytest.raises(BenefitNotEntitled):
        _redeem(customer, "welcome-coupon", "k-1")

    # Runs, reviews, overrides and appeals all change the customer's grade row.
    set_grade(customer, "key")

    assert _redeem(customer, "welcome-coupon", "k-2").grade.code == "key"


@pytest.mark.django_db
def test_entitlements_show_period_use_and_need_three_queries(
    key_customer, django_assert_num_queries
):
    _redeem(key_customer, "discount-5", "k-1")

    with django_assert_num_queries(3):
        entitlements = entitlement_list_for_customer(customer=key_customer, today=TODAY)

    discount = next(e for e in entitlements if e.benefit.code == "discount-5")
    assert (discount.period_key, discount.used, discount.remaining) == ("2026-11", 1, 1)
    assert {e.benefit.code for e in entitlements} == {
        "priority-support",
        "discount-5",
        "free-shipping",
        "new-customer-pack",
        "birthday-gift",
    }


@pytest.mark.django_db
def test_two_per_month_never_exceeded_and_the_month_turns_at_local_midnight(key_customer, settings):
    import time_machine

    settings.TIME_ZONE = "Asia/Shanghai"  # UTC+8: 16:00 UTC is local midnight

    def redeem(key, *when):
        with time_machine.travel(dt.datetime(*when, tzinfo=dt.UTC), tick=False):
            return benefit_redeem(
                customer_id=key_customer.pk,
                benefit_code="discount-5",  # seeded on the key grade: 2 per month
                idempotency_key=key,
                channel="api",
            )

    assert redeem("nov-1", 2026, 11, 1, 0, 0).period_key == "2026-11"  # Nov 1, 08:00 local
    assert redeem("nov-2", 2026, 11, 30, 15, 58).slot == 2  # Nov 30, 23:58 local
    with pytest.raises(AllowanceExhausted):
        redeem("nov-3", 2026, 11, 30, 15, 59)  # 23:59 local: still November
    december = redeem("dec-1", 2026, 11, 30, 16, 1)  # Dec 1, 00:01 local
    assert (december.period_key, december.slot) == ("2026-12", 1)
    redeem("dec-2", 2026, 12, 15, 4, 0)
    with pytest.raises(AllowanceExhausted):
        redeem("dec-3", 2026, 12, 31, 15, 0)  # Dec 31, 23:00 local
    assert redeem("jan-1", 2026, 12, 31, 16, 30).period_key == "2027-01"

    keys = set(Redemption.objects.values_list("period_key", flat=True))
    assert keys == {"2026-11", "2026-12", "2027-01"}
    for key in ("2026-11", "2026-12"):
        assert Redemption.objects.filter(period_key=key).count() == 2
