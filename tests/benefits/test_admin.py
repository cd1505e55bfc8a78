"""Benefits admin: bounded changelists, scoping, redeeming through the service, rule editing."""

import pytest
from django.urls import reverse
from django.utils import timezone

from benefits.models import Benefit, NudgeEvent, NudgeRule, Recommendation, Redemption
from benefits.services.growth import growth_tasks_award
from benefits.services.nudges import nudges_run
from benefits.services.redemptions import benefit_redeem
from tests.benefits.factories import BenefitFactory, RecommendationFactory, set_grade
from tests.customers.factories import CustomerFactory, ProductReviewFactory

CHANGELISTS = [
    "admin:benefits_benefit_changelist",
    "admin:benefits_redemption_changelist",
    "admin:benefits_growthtask_changelist",
    "admin:benefits_nudgerule_changelist",
    "admin:benefits_nudgeevent_changelist",
    "admin:benefits_recommendation_changelist",
    "admin:customers_pointsentry_changelist",
]


def _populate(n, manager=None):
    for _ in range(n):
        customer = CustomerFactory(account_manager=manager, registered_at=timezone.now())
        set_grade(customer, "strategic")
        for code in ("discount-10", "free-shipping"):
            benefit_redeem(
                customer_id=customer.pk, benefit_code=code, idempotency_key=code, channel="admin"
            )
        ProductReviewFactory(customer=customer)
        RecommendationFactory(customer=customer)
        BenefitFactory(grades=["key", "growth"])
    assert growth_tasks_award() == n
    assert nudges_run()["new_customer_pack"] == n


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", CHANGELISTS)
def test_changelist_query_count_does_not_grow_with_rows(
    client, ops, url_name, django_assert_max_num_queries
):
    client.force_login(ops)
    _populate(3)
    with django_assert_max_num_queries(20) as small:
        assert client.get(reverse(url_name)).status_code == 200
    _populate(25)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(reverse(url_name)).status_code == 200


@pytest.mark.django_db
def test_a_manager_sees_only_their_customers_redemptions(client, alice, bob):
    _populate(1, manager=alice)
    _populate(1, manager=bob)
    alices = Redemption.objects.filter(customer__account_manager=alice).first()
    bobs = Redemption.objects.filter(customer__account_manager=bob).first()
    client.force_login(alice)

    page = client.get(reverse("admin:benefits_redemption_changelist")).content.decode()
    other = client.get(reverse("admin:benefits_redemption_change", args=[bobs.pk]))

    assert alices.customer.code in page
    assert bobs.customer.code not in page
    assert other.status_code == 302  # like a missing row: back to the admin index
    assert client.get(reverse("admin:benefits_redemption_add")).status_code == 403


@pytest.mark.django_db
def test_operations_redeem_in_the_admin_through_the_service(client, ops, key_customer, coupon):
    client.force_login(ops)
    form = client.get(reverse("admin:benefits_redemption_add"))
    key = form.context["adminform"].form.initial["submission_key"]
    data = {"customer": key_customer.pk, "benefit": coupon.pk, "submission_key": key}

    first = client.post(reverse("admin:benefits_redemption_add"), data)
    double_submit = client.post(reverse("admin:benefits_redemption_add"), data)

    assert first.status_code == double_submit.status_code == 302
    redemption = Redemption.objects.get()
    assert (redemption.channel, redemption.redeemed_by, redemption.grade.code) == (
        "admin",
        ops,
        "key",
    )
    assert redemption.idempotency_key == key


@pytest.mark.django_db
def test_a_refused_redemption_is_a_form_error_and_writes_nothing(client, ops, coupon):
    customer = CustomerFactory()
    set_grade(customer, "growth")
    client.force_login(ops)

    response = client.post(
        reverse("admin:benefits_redemption_add"),
        {"customer": customer.pk, "benefit": coupon.pk, "submission_key": "k"},
    )

    assert response.status_code == 200
    assert "does not include" in response.content.decode()
    assert not Redemption.objects.exists()


@pytest.mark.django_db
def test_nudge_rule_parameters_are_validated_and_rules_can_be_switched_off(client, ops):
    rule = NudgeRule.objects.get(code="category_concentration")
    client.force_login(ops)
    url = reverse("admin:benefits_nudgerule_change", args=[rule.pk])

    bad = client.post(url, {"enabled": "on", "parameters": '{"share": 2}', "description": ""})
    good = client.post(url, {"parameters": '{"share": 0.9}', "description": "tuned"})

    assert bad.status_code == 200
    assert "share" in bad.content.decode()
    assert good.status_code == 302
    rule.refresh_from_db()
    assert (rule.enabled, rule.parameters) == (False, {"share": 0.9, "months": 3})

    client.post(
        reverse("admin:benefits_nudgerule_changelist"),
        {"action": "enable_rules", "_selected_action": [rule.pk]},
    )
    rule.refresh_from_db()
    assert rule.enabled


@pytest.mark.django_db
def test_a_manager_marks_a_recommendation_done(client, alice, bob):
    mine = RecommendationFactory(customer=CustomerFactory(account_manager=alice))
    theirs = RecommendationFactory(customer=CustomerFactory(account_manager=bob))
    client.force_login(alice)

    client.post(
        reverse("admin:benefits_recommendation_changelist"),
        {"action": "mark_done", "_selected_action": [mine.pk, theirs.pk]},
    )

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, mine.decided_by) == (Recommendation.Status.DONE, alice)
    assert theirs.status == Recommendation.Status.OPEN


@pytest.mark.django_db
def test_the_points_ledger_and_nudge_events_are_read_only(client, ops):
    _populate(1)
    client.force_login(ops)
    event = NudgeEvent.objects.first()

    assert client.get(reverse("admin:customers_pointsentry_add")).status_code == 403
    assert (
        client.get(reverse("admin:benefits_nudgeevent_change", args=[event.pk])).status_code == 200
    )
    response = client.post(
        reverse("admin:benefits_nudgeevent_delete", args=[event.pk]), {"post": "yes"}
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_operations_define_a_benefit_with_its_grades_and_the_value_is_checked(client, ops):
    from grading.models import Grade

    client.force_login(ops)
    url = reverse("admin:benefits_benefit_add")
    data = {
        "code": "vip-discount",
        "name_en": "VIP discount",
        "name_zh_hans": "贵宾折扣",
        "kind": "percentage_discount",
        "value": "150",
        "is_active": "on",
        "description_en": "",
        "description_zh_hans": "",
        "allowance": "2",
        "period": "month",
        "cost_per_use": "12.50",
        "valid_from": "",
        "valid_until": "",
        "grade_links-TOTAL_FORMS": "1",
        "grade_links-INITIAL_FORMS": "0",
        "grade_links-MIN_NUM_FORMS": "0",
        "grade_links-MAX_NUM_FORMS": "1000",
        "grade_links-0-grade": Grade.objects.get(code="key").pk,
    }

    assert client.get(url).status_code == 200
    too_much = client.post(url, data)
    created = client.post(url, {**data, "value": "15"})

    assert too_much.status_code == 200
    assert "at most 100" in too_much.content.decode()
    assert created.status_code == 302
    benefit = Benefit.objects.get(code="vip-discount")
    assert list(benefit.grades.values_list("code", flat=True)) == ["key"]
    assert (benefit.name_en, benefit.name_zh_hans) == ("VIP discount", "贵宾折扣")
    change = client.get(reverse("admin:benefits_benefit_change", args=[benefit.pk]))
    assert change.status_code == 200
    assert 'name="name_zh_hans"' in change.content.decode()  # both languages are editable


@pytest.mark.django_db
def test_a_redemption_page_is_read_only(client, ops, key_customer, coupon):
    redemption = benefit_redeem(
        customer_id=key_customer.pk, benefit_code=coupon.code, idempotency_key="k", channel="api"
    )
    client.force_login(ops)

    page = client.get(reverse("admin:benefits_redemption_change", args=[redemption.pk]))

    assert page.status_code == 200
    assert "Welcome coupon" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
