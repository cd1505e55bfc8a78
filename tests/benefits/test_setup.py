"""What the benefits migrations set up: catalog, tasks, rules, roles and the beat schedule."""

import pytest
from django.contrib.auth.models import Group
from django_celery_beat.models import PeriodicTask

from benefits.models import Benefit, GrowthTask, NudgeRule
from benefits.nudge_parameters import nudge_parameters_clean
from common.roles import ACCOUNT_MANAGERS, OPERATIONS


@pytest.mark.django_db
def test_every_grade_carries_a_default_catalog():
    carried = {
        code: set(Benefit.objects.filter(grades__code=code).values_list("code", flat=True))
        for code in ("strategic", "key", "growth", "standard", "basic")
    }

    assert {"dedicated-manager", "priority-support", "discount-10"} <= carried["strategic"]
    assert {"priority-support", "discount-5", "free-shipping"} <= carried["key"]
    assert "free-shipping" in carried["growth"]
    assert "coupon-2" in carried["standard"]
    assert all({"new-customer-pack", "birthday-gift"} <= codes for codes in carried.values())
    for benefit in Benefit.objects.all():
        benefit.full_clean()  # the seeds pass the admin's validation


@pytest.mark.django_db
def test_growth_tasks_and_valid_nudge_rules_are_seeded():
    assert dict(GrowthTask.objects.values_list("code", "points")) == {
        "complete_profile": 10,
        "review_product": 5,
        "refer_customer_who_orders": 30,
        "join_campaign": 5,
    }
    for rule in NudgeRule.objects.all():
        assert rule.enabled
        assert nudge_parameters_clean(rule.code, rule.parameters) == rule.parameters


@pytest.mark.django_db
def test_roles_get_their_benefits_permissions():
    def codenames(group):
        return set(
            Group.objects.get(name=group)
            .permissions.filter(content_type__app_label__in=["benefits", "customers"])
            .values_list("codename", flat=True)
        )

    ops, managers = codenames(OPERATIONS), codenames(ACCOUNT_MANAGERS)

    assert {"add_benefit", "change_benefit", "add_redemption", "view_redemption"} <= ops
    assert {"change_redemption", "delete_redemption"}.isdisjoint(ops)
    assert {"view_nudgeevent", "view_pointsentry", "change_nudgerule"} <= ops
    assert {
        "view_benefit",
        "view_gradebenefit",
        "view_redemption",
        "view_recommendation",
        "change_recommendation",
    } <= managers
    assert {"add_redemption", "change_benefit"}.isdisjoint(managers)


@pytest.mark.django_db
def test_the_daily_jobs_are_in_the_beat_schedule():
    tasks = {
        t.task: (t.crontab.hour, t.crontab.minute)
        for t in PeriodicTask.objects.filter(task__startswith="benefits.").select_related("crontab")
    }

    assert tasks == {"benefits.award_growth_tasks": ("3", "0"), "benefits.run_nudges": ("3", "30")}


def test_the_tasks_are_registered_under_their_stable_names():
    import benefits.tasks  # noqa: F401
    from tierhub.celery import app

    assert {"benefits.award_growth_tasks", "benefits.run_nudges"} <= set(app.tasks)


@pytest.mark.django_db
def test_the_api_schema_documents_the_benefits_endpoints(client, ops):
    client.force_login(ops)

    schema = client.get("/api/schema/", {"format": "json"}).json()

    assert {"/api/benefits/", "/api/benefits/redeem/", "/api/benefits/redemptions/"} <= set(
        schema["paths"]
    )
