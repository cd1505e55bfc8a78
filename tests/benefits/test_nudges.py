"""Automatic nudges: each fires once per trigger, can be switched off, and re-runs safely."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from benefits.models import NudgeEvent, NudgeRule, Recommendation
from benefits.nudge_parameters import nudge_parameters_clean
from benefits.selectors import recommendation_list_for_user
from benefits.services.nudges import nudges_run
from benefits.tasks import run_nudges_task
from common.models import Notification
from tests.benefits.factories import set_grade
from tests.customers.factories import CategoryFactory, CustomerFactory, OrderFactory
from tests.grading.factories import at

TODAY = dt.date(2026, 6, 15)


def _only(code):
    NudgeRule.objects.exclude(code=code).update(enabled=False)


@pytest.mark.django_db
def test_a_new_customer_is_welcomed_once_with_the_pack(alice):
    _only("new_customer_pack")
    fresh = CustomerFactory(
        code="NEW-1", account_manager=alice, registered_at=at(TODAY - dt.timedelta(days=3))
    )
    CustomerFactory(code="NEW-NO-AM", registered_at=at(TODAY))
    CustomerFactory(code="OLD-1", account_manager=alice)  # registered 800 days ago

    assert nudges_run(today=TODAY) == {"new_customer_pack": 2}
    assert nudges_run(today=TODAY) == {"new_customer_pack": 0}
    assert nudges_run(today=TODAY + dt.timedelta(days=5)) == {"new_customer_pack": 0}

    assert sorted(NudgeEvent.objects.values_list("customer__code", "trigger_key")) == [
        ("NEW-1", "welcome"),
        ("NEW-NO-AM", "welcome"),
    ]
    note = Notification.objects.get()
    assert note.recipient == alice
    assert "NEW-1" in note.title
    assert "New-customer pack" in note.body
    assert NudgeEvent.objects.get(customer=fresh).payload["benefit"] == "new-customer-pack"


@pytest.mark.django_db
def test_a_quiet_growth_customer_is_reminded_once_per_quiet_spell(alice):
    _only("growth_no_order_reminder")  # default: 45 days, grade growth, offer free shipping
    quiet = CustomerFactory(code="QUIET", account_manager=alice)
    set_grade(quiet, "growth")
    OrderFactory(customer=quiet, placed_at=at(TODAY - dt.timedelta(days=45)))
    recent = CustomerFactory(code="RECENT", account_manager=alice)
    set_grade(recent, "growth")
    OrderFactory(customer=recent, placed_at=at(TODAY - dt.timedelta(days=44)))
    key = CustomerFactory(code="KEY", account_manager=alice)
    set_grade(key, "key")
    OrderFactory(customer=key, placed_at=at(TODAY - dt.timedelta(days=100)))

    assert nudges_run(today=TODAY) == {"growth_no_order_reminder": 1}
    assert nudges_run(today=TODAY + dt.timedelta(days=10)) == {"growth_no_order_reminder": 1}

    # QUIET once (same last order); RECENT became quiet ten days later.
    assert sorted(NudgeEvent.objects.values_list("customer__code", "trigger_key")) == [
        ("QUIET", (TODAY - dt.timedelta(days=45)).isoformat()),
        ("RECENT", (TODAY - dt.timedelta(days=44)).isoformat()),
    ]
    note = Notification.objects.filter(title__contains="QUIET").get()
    assert "Free shipping" in note.body

    # QUIET orders again and goes quiet again: a new spell, a new reminder.
    OrderFactory(customer=quiet, placed_at=at(TODAY + dt.timedelta(days=1)))
    assert nudges_run(today=TODAY + dt.timedelta(days=46)) == {"growth_no_order_reminder": 1}
    assert NudgeEvent.objects.filter(customer=quiet).count() == 2


@pytest.fixture
def cards():
    games = CategoryFactory(code="games", name="Games")
    return {
        code: CategoryFactory(code=code, name=code.title(), parent=games)
        for code in ("steam", "psn", "xbox", "nintendo")
    }


@pytest.mark.django_db
def test_a_customer_buying_one_category_gets_the_most_bought_sibling_recommended(alice, cards):
    _only("category_concentration")
    focused = CustomerFactory(code="FOCUSED", account_manager=alice)
    OrderFactory(
        customer=focused,
        category=cards["steam"],
        amount="900",
        placed_at=at(TODAY - dt.timedelta(days=20)),
    )
    OrderFactory(
        customer=focused,
        category=cards["xbox"],
        amount="100",
        placed_at=at(TODAY - dt.timedelta(days=50)),
    )
    OrderFactory(
        customer=focused,
        category=cards["psn"],
        amount="5000",
        placed_at=at(TODAY - dt.timedelta(days=100)),
    )  # before the window
    balanced = CustomerFactory(code="BALANCED")
    OrderFactory(
        customer=balanced,
        category=cards["psn"],
        amount="500",
        placed_at=at(TODAY - dt.timedelta(days=5)),
    )
    OrderFactory(
        customer=balanced,
        category=cards["xbox"],
        amount="500",
        placed_at=at(TODAY - dt.timedelta(days=5)),
    )
    OrderFactory(
        customer=balanced,
        category=cards["psn"],
        amount="1",
        placed_at=at(TODAY - dt.timedelta(days=5)),
    )

    assert nudges_run(today=TODAY) == {"category_concentration": 1}
    assert nudges_run(today=TODAY + dt.timedelta(days=3)) == {"category_concentration": 0}

    recommendation = Recommendation.objects.get()
    # Steam is 90% of FOCUSED's window; PSN (2 orders) beats Nintendo (none); Xbox was bought.
    assert (recommendation.customer, recommendation.based_on, recommendation.category) == (
        focused,
        cards["steam"],
        cards["psn"],
    )
    assert "90%" in recommendation.reason
    assert NudgeEvent.objects.get().trigger_key == f"{cards['steam'].pk}:2026-06"
    assert list(recommendation_list_for_user(user=alice)) == [recommendation]

    # A new month is a new trigger.
    assert nudges_run(today=dt.date(2026, 7, 1)) == {"category_concentration": 1}


@pytest.mark.django_db
def test_a_category_without_siblings_recommends_nothing():
    _only("category_concentration")
    lonely = CategoryFactory(code="lonely")
    OrderFactory(
        customer=CustomerFactory(), category=lonely, placed_at=at(TODAY - dt.timedelta(days=1))
    )

    assert nudges_run(today=TODAY) == {"category_concentration": 0}
    assert not NudgeEvent.objects.exists()


@pytest.mark.django_db
def test_a_switched_off_rule_does_not_run():
    NudgeRule.objects.update(enabled=False)
    CustomerFactory(registered_at=at(TODAY))

    assert nudges_run(today=TODAY) == {}
    assert not NudgeEvent.objects.exists()


@pytest.mark.parametrize(
    ("code", "parameters", "problem"),
    [
        ("category_concentration", {"share": 0.4}, "share"),
        ("category_concentration", {"share": "high"}, "share"),
        ("category_concentration", {"months": 0}, "months"),
        ("growth_no_order_reminder", {"days": -1}, "days"),
        ("growth_no_order_reminder", {"offer": ""}, "offer"),
        ("new_customer_pack", {"colour": "red"}, "Unknown parameters"),
        ("new_customer_pack", ["days"], "JSON object"),
    ],
)
def test_bad_parameters_are_refused_with_a_reason(code, parameters, problem):
    with pytest.raises(ValidationError, match=problem):
        nudge_parameters_clean(code, parameters)


def test_parameters_are_merged_over_the_defaults():
    assert nudge_parameters_clean("growth_no_order_reminder", {"days": 60}) == {
        "days": 60,
        "grade": "growth",
        "offer": "free-shipping",
    }


@pytest.mark.django_db
def test_the_task_and_the_command_call_the_same_service(capsys):
    CustomerFactory(registered_at=at(TODAY))
    _only("new_customer_pack")

    assert run_nudges_task(TODAY.isoformat()) == {"new_customer_pack": 1}
    call_command("run_nudges", "--today", TODAY.isoformat())

    assert "new_customer_pack: 0" in capsys.readouterr().out


@pytest.mark.django_db
def test_the_customers_hear_the_welcome_and_the_reminder_with_its_offer_once(
    alice, django_capture_on_commit_callbacks
):
    from tests.appeals.factories import CustomerAccountFactory

    NudgeRule.objects.filter(code="category_concentration").update(enabled=False)
    newbie = CustomerFactory(
        code="NEWBIE", account_manager=alice, registered_at=at(TODAY - dt.timedelta(days=2))
    )
    newbie_login = CustomerAccountFactory(customer=newbie)
    quiet = CustomerFactory(code="QUIET", account_manager=alice)  # registered long ago
    set_grade(quiet, "growth")
    OrderFactory(customer=quiet, placed_at=at(TODAY - dt.timedelta(days=60)))
    quiet_login = CustomerAccountFactory(customer=quiet)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        fired = nudges_run(today=TODAY)
    assert fired == {"growth_no_order_reminder": 1, "new_customer_pack": 1}
    assert callbacks  # the e-mails go out on commit only
    nudges_run(today=TODAY)  # a re-run
    nudges_run(today=TODAY + dt.timedelta(days=1))  # the next day: same triggers

    welcome = Notification.objects.get(recipient=newbie_login.user)
    assert welcome.title == "Welcome: your new-customer pack"
    assert "“New-customer pack”" in welcome.body
    assert welcome.link == "/portal/"
    reminder = Notification.objects.get(recipient=quiet_login.user)
    assert reminder.title == "An offer for your next order"
    assert "“Free shipping”" in reminder.body
    assert "April 16, 2026" in reminder.body  # TODAY - 60 days, as people write it
    assert Notification.objects.filter(recipient=alice).count() == 2
