"""Provisional upgrades between runs (issue #15, docs/grading-policy.md "Provisional upgrades").

The scheme is `threshold_scheme` (historical value only, fixed thresholds, monthly rungs key
>= 55, growth >= 25, basic >= 0), so every composite is computed by hand:
H = 100 * (r + f + m - 3) / 12. Thresholds: R <= 30 days -> 5, <= 90 -> 4, <= 180 -> 3;
F >= 2 -> 2; M >= 1,000 -> 2, >= 5,000 -> 3.

- "Fast": one order of 6,000 on 2026-11-20. Run of 2026-12-01: R = 11 (5), F = 1 (1),
  M = 6,000 (3): H = 100 * 6 / 12 = 50 -> growth. A second order of 1,000 on 2026-12-10
  makes F = 2 (2), M = 7,000 (3), R = 1 (5): H = 100 * 7 / 12 = 58.33 -> key.
- "Slow": one order of 1,000 on 2026-11-20: r 5, f 1, m 2, H = 41.67 -> growth. A second
  order of 100 makes F = 2 (2), M = 1,100 (2): H = 50, still growth.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from common.models import Notification
from customers.services.imports import order_import
from customers.tabular import Records
from grading import tasks
from grading.models import (
    ChangeSource,
    CustomerGrade,
    GradeAuditEntry,
    GradeChange,
    GradingRun,
    SchemeGrade,
)
from grading.selectors import provisional_upgrade_latest
from grading.services.overrides import grade_override_set
from grading.services.provisional import (
    grade_provisional_upgrade_check,
    provisional_upgrade_enqueue,
)
from grading.services.runs import grading_run_execute
from grading.services.schemes import (
    scheme_activate,
    scheme_provisional_upgrades_set,
    scheme_revise,
)
from portal.selectors import grade_explanation_for_customer
from tests.appeals.factories import CustomerAccountFactory
from tests.customers.factories import CustomerFactory, UserFactory
from tests.grading.factories import at, default_scheme, grade, orders_for, proposal_for

RUN_AS_OF = dt.date(2026, 12, 1)
ORDER_DAY = dt.date(2026, 12, 10)


@pytest.fixture
def active(scheme):
    """The hand-computable scheme, active, with provisional upgrades on, graded at Dec 1."""
    with time_machine.travel(at(dt.date(2026, 12, 2)), tick=False):
        scheme = scheme_activate(scheme=scheme, by=None)
        return scheme_provisional_upgrades_set(scheme=scheme, enabled=True, by=None)


def _graded(*customers):
    with time_machine.travel(at(dt.date(2026, 12, 2)), tick=False):
        run = grading_run_execute(as_of=RUN_AS_OF)
    assert run.status == GradingRun.Status.SUCCEEDED
    return run


def _fast(manager=None):
    customer = CustomerFactory(code="FAST", name="Fast Buyer", account_manager=manager)
    orders_for(customer, (dt.date(2026, 11, 20), "6000"))
    return customer


def _slow():
    customer = CustomerFactory(code="SLOW", name="Slow Buyer")
    orders_for(customer, (dt.date(2026, 11, 20), "1000"))
    return customer


def _check(*customers, day=ORDER_DAY):
    with time_machine.travel(at(day, 15), tick=False):
        return grade_provisional_upgrade_check(customer_ids=[c.pk for c in customers])


def _grade_of(customer):
    return CustomerGrade.objects.get(customer=customer).grade.code


@pytest.mark.django_db
def test_a_run_keeps_its_cut_points(active):
    _fast()
    run = _graded()

    assert run.population_cuts["population"] == 1
    assert GradingRun.objects.get(pk=run.pk).population_cuts == run.population_cuts


@pytest.mark.django_db
def test_an_order_over_the_next_threshold_upgrades_at_once_with_audit_and_messages(active, alice):
    fast = _fast(manager=alice)
    login = CustomerAccountFactory(user=UserFactory(username="fast@example.com"), customer=fast)
    _graded()
    assert _grade_of(fast) == "growth"  # H = 50

    orders_for(fast, (ORDER_DAY, "1000"))
    result = _check(fast)

    assert (result.scored, result.upgraded) == (1, 1)
    assert _grade_of(fast) == "key"  # H = 58.33
    change = GradeChange.objects.get(customer=fast, source=ChangeSource.PROVISIONAL)
    assert (change.from_grade.code, change.to_grade.code) == ("growth", "key")
    assert (change.status, change.direction, change.run) == ("applied", "up", None)
    audit = GradeAuditEntry.objects.filter(customer=fast).latest("created_at")
    assert (audit.source, audit.new_grade.code, audit.change) == ("provisional", "key", change)
    assert audit.get_source_display() == "Provisional upgrade"
    staff = Notification.objects.get(recipient=alice, kind="grade_provisional_upgrade")
    assert staff.text.title == "Provisional upgrade: FAST Fast Buyer is now Key"
    assert "58.3" in staff.text.body
    mine = Notification.objects.get(recipient=login.user, kind="grade_provisional_upgrade")
    assert mine.text.title == "Congratulations: your recent orders made you Key"
    with translation.override("zh-hans"):
        chinese = Notification.objects.get(pk=mine.pk).text
    assert chinese.title == "恭喜：您近期的订单让您升为重点客户"  # noqa: RUF001


@pytest.mark.django_db
def test_an_order_that_does_not_lift_changes_nothing(active):
    slow = _slow()
    _graded()

    orders_for(slow, (ORDER_DAY, "100"))
    result = _check(slow)

    assert (result.scored, result.upgraded) == (1, 0)
    assert _grade_of(slow) == "growth"  # H = 50 < 55
    assert not GradeChange.objects.filter(source=ChangeSource.PROVISIONAL).exists()


@pytest.mark.django_db
def test_a_lower_score_never_downgrades(active):
    slow = _slow()
    _graded()
    CustomerGrade.objects.filter(customer=slow).update(grade=grade("key"))

    result = _check(slow)  # computes growth (H = 41.67) under key

    assert result.upgraded == 0
    assert _grade_of(slow) == "key"
    assert not GradeChange.objects.filter(source=ChangeSource.PROVISIONAL).exists()


@pytest.mark.django_db
def test_nothing_happens_with_the_setting_off(active):
    fast = _fast()
    _graded()
    scheme_provisional_upgrades_set(scheme=active, enabled=False, by=None)

    orders_for(fast, (ORDER_DAY, "1000"))
    result = _check(fast)

    assert (result.scored, result.upgraded) == (0, 0)
    assert _grade_of(fast) == "growth"


@pytest.mark.django_db
def test_a_pinned_customer_keeps_the_pin(active):
    fast = _fast()
    _graded()
    grade_override_set(
        customer=fast, grade=grade("growth"), reason="Held", expires_on=None, by=None
    )

    orders_for(fast, (ORDER_DAY, "1000"))
    result = _check(fast)

    assert result.upgraded == 0
    assert _grade_of(fast) == "growth"
    assert not GradeChange.objects.filter(source=ChangeSource.PROVISIONAL).exists()


@pytest.mark.django_db
def test_a_second_check_does_nothing_and_a_pending_proposal_is_superseded(active):
    fast = _fast()
    _graded()
    proposal = proposal_for(fast, from_code="growth", to_code="basic")
    orders_for(fast, (ORDER_DAY, "1000"))

    first = _check(fast)
    second = _check(fast)

    assert (first.upgraded, second.upgraded) == (1, 0)
    assert GradeChange.objects.filter(source=ChangeSource.PROVISIONAL).count() == 1
    assert GradeAuditEntry.objects.filter(source=ChangeSource.PROVISIONAL).count() == 1
    proposal.refresh_from_db()
    assert proposal.status == GradeChange.Status.SUPERSEDED
    assert proposal.decision_note == "Superseded: a provisional upgrade on 2026-12-10."


@pytest.mark.django_db
def test_no_run_yet_means_nothing_to_score_against(active):
    fast = _fast()
    CustomerGrade.objects.create(customer=fast, grade=grade("basic"), since=at(RUN_AS_OF))

    assert _check(fast).run_id is None
    assert _grade_of(fast) == "basic"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_imported_order_enqueues_one_check_that_upgrades(active, monkeypatch):
    fast = _fast()
    _graded()
    sent = []
    monkeypatch.setattr(
        tasks.provisional_upgrade_check_task,
        "delay",
        lambda ids: sent.append(ids) or tasks.provisional_upgrade_check_task.apply(args=(ids,)),
    )

    with time_machine.travel(at(ORDER_DAY, 15), tick=False):
        order_import(
            source=Records(
                [
                    {
                        "order_no": f"N{i}",
                        "customer_code": "FAST",
                        "placed_at": "2026-12-10 10:00",
                        "amount": "500",
                    }
                    for i in range(2)
                ]
            ),
            filename="api",
        )

    assert sent == [[fast.pk]]  # one task for the customer, not one per order
    assert _grade_of(fast) == "key"  # F = 3 (2), M = 7,000 (3), R = 0 (5): H = 58.33


@pytest.mark.django_db
def test_enqueue_sends_nothing_with_the_setting_off(
    scheme, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.provisional_upgrade_check_task, "delay", sent.append)

    with django_capture_on_commit_callbacks(execute=True):
        provisional_upgrade_enqueue(customer_ids=[1, 2])

    assert sent == []


@pytest.mark.django_db
def test_enqueue_chunks_the_customers(active, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(tasks.provisional_upgrade_check_task, "delay", sent.append)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        provisional_upgrade_enqueue(customer_ids=range(1, 1202))

    assert len(callbacks) == 1
    assert [len(chunk) for chunk in sent] == [500, 500, 201]


def _upgraded_fast(hysteresis="0"):
    fast = _fast()
    CustomerAccountFactory(user=UserFactory(username="fast@example.com"), customer=fast)
    _graded()
    SchemeGrade.objects.filter(grade__code="key").update(hysteresis=Decimal(hysteresis))
    orders_for(fast, (ORDER_DAY, "1000"))
    assert _check(fast).upgraded == 1
    return fast


def _explained(customer, day):
    with time_machine.travel(at(day, 15), tick=False):
        return grade_explanation_for_customer(customer=customer, today=day).provisional_text


@pytest.mark.django_db
def test_before_the_next_run_the_upgrade_is_pending(active):
    fast = _upgraded_fast()

    assert provisional_upgrade_latest(customer_id=fast.pk).verdict == "pending"
    assert _explained(fast, ORDER_DAY) == (
        "Upgraded provisionally to Key on Dec. 10, 2026, as soon as your orders earned "
        "it; the next grading confirms it."
    )


@pytest.mark.django_db
def test_the_next_run_confirms_it(active):
    fast = _upgraded_fast()

    # Jan 1: R = 22 (5), F = 2 (2), M = 7,000 (3): H = 58.33, key again.
    with time_machine.travel(at(dt.date(2027, 1, 1), 3), tick=False):
        run = grading_run_execute(as_of=dt.date(2027, 1, 1))

    upgrade = provisional_upgrade_latest(customer_id=fast.pk)
    assert (upgrade.verdict, upgrade.run) == ("confirmed", run)
    assert _grade_of(fast) == "key"
    assert _explained(fast, dt.date(2027, 1, 2)) == (
        "Upgraded provisionally to Key on Dec. 10, 2026; confirmed by the run of December 2026."
    )
    # The run changed nothing: no second change, no audit row of its own for the customer.
    assert GradeChange.objects.filter(customer=fast, run=run).count() == 0


@pytest.mark.django_db
def test_the_next_run_holds_it_by_hysteresis(active):
    fast = _upgraded_fast(hysteresis="5")

    # Mar 1: R = 81 (4), F = 2 (2), M = 7,000 (3): H = 50, computed growth; key's floor is
    # 55 - 5 = 50, so within the margin.
    with time_machine.travel(at(dt.date(2027, 3, 1), 3), tick=False):
        run = grading_run_execute(as_of=dt.date(2027, 3, 1))

    snapshot = run.snapshots.get(customer=fast)
    assert (snapshot.computed_grade.code, snapshot.rule) == ("growth", "within_hysteresis")
    assert _grade_of(fast) == "key"
    assert provisional_upgrade_latest(customer_id=fast.pk).verdict == "held"
    assert _explained(fast, dt.date(2027, 3, 2)) == (
        "Upgraded provisionally to Key on Dec. 10, 2026; held by hysteresis in the run "
        "of February 2027: your score is just below Key, within its margin."
    )


@pytest.mark.django_db
def test_the_next_run_may_find_it_below(active):
    fast = _upgraded_fast()

    # Jun 1: R = 173 (3), F = 2 (2), M = 7,000 (3): H = 41.67 < 55 with no margin.
    with time_machine.travel(at(dt.date(2027, 6, 1), 3), tick=False):
        grading_run_execute(as_of=dt.date(2027, 6, 1))

    assert provisional_upgrade_latest(customer_id=fast.pk).verdict == "below"
    with translation.override("zh-hans"):
        text = _explained(fast, dt.date(2027, 6, 2))
    assert text.startswith("于 2026年12月10日 临时升为重点客户")
    assert "Upgraded" not in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ("Provisional upgrade", "Orders earned the grade between runs")),
        ("zh-hans", ("临时升级", "两次评级之间订单已达到该等级")),
    ],
)
def test_the_admin_shows_a_provisional_change_in_words(active, client, ops, language, words):
    fast = _upgraded_fast()
    change = GradeChange.objects.get(customer=fast, source=ChangeSource.PROVISIONAL)
    client.force_login(ops)
    client.cookies["django_language"] = language

    page = client.get(reverse("admin:grading_gradechange_change", args=[change.pk]))
    listing = client.get(reverse("admin:grading_gradechange_changelist"))

    assert page.status_code == listing.status_code == 200
    for word in words:
        assert word in page.content.decode()
    assert words[0] in listing.content.decode()


@pytest.mark.django_db
def test_the_account_managers_customer_page_says_it_too(active, client, alice):
    fast = _upgraded_fast()
    fast.account_manager = alice
    fast.save(update_fields=["account_manager"])
    client.force_login(alice)

    page = client.get(reverse("manager:customer", args=[fast.pk])).content.decode()

    assert "Upgraded provisionally to Key on" in page


@pytest.mark.django_db
def test_the_sales_line_import_and_an_admin_save_enqueue_the_check(
    active, monkeypatch, django_capture_on_commit_callbacks
):
    """Every order write path hands its customers to the check (one task per write)."""
    from customers.services.lines import order_lines_import
    from tests.customers.factories import OrderFactory

    fast, slow = _fast(), _slow()
    sent: list[list[int]] = []
    monkeypatch.setattr(tasks.provisional_upgrade_check_task, "delay", sent.append)
    lines = Records(
        [
            {
                "order_no": f"L{i}",
                "customer_code": code,
                "placed_at": "2026-12-03 09:00",
                "quantity": "1",
                "unit_price": "10",
            }
            for i, code in enumerate(["FAST", "SLOW", "FAST"])
        ]
    )

    with django_capture_on_commit_callbacks(execute=True):
        order_lines_import(source=lines, filename="lines.csv")
    with django_capture_on_commit_callbacks(execute=True):
        order = OrderFactory(customer=slow)
    with django_capture_on_commit_callbacks(execute=True):
        order.status = "refunded"
        order.save(update_fields=["status"])

    assert sent == [sorted([fast.pk, slow.pk]), [slow.pk], [slow.pk]]


@pytest.mark.django_db
def test_a_draft_scheme_turns_it_on_in_its_form(client, ops):
    from tests.grading.test_scheme_admin import scheme_post

    draft = scheme_revise(scheme=default_scheme(), by=ops)
    assert draft.provisional_upgrades is False  # off by default, copied as it was
    client.force_login(ops)
    url = reverse("admin:grading_gradingscheme_change", args=[draft.pk])
    assert "Upgrade as soon as an order qualifies" in client.get(url).content.decode()

    response = client.post(url, scheme_post(draft, provisional_upgrades="on"))

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.provisional_upgrades is True
