"""Words, not ids or codes: objects' names, admin messages and report labels (issue #13)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone, translation

from appeals.models import AppealEvent, FollowUp
from benefits.models import GradeBenefit
from benefits.services.redemptions import benefit_redeem
from grading import labels, reports
from grading.models import GradeAuditEntry, GradeOverride
from grading.services.overrides import grade_override_set
from tests.appeals.factories import file_appeal, portal_customer
from tests.benefits.factories import set_grade
from tests.customers.factories import CustomerFactory
from tests.grading.factories import (
    CustomerGradeFactory,
    GradingRunFactory,
    ScoreSnapshotFactory,
    grade,
)

pytestmark = pytest.mark.django_db


def test_a_run_is_its_scheme_and_period():
    run = GradingRunFactory(as_of=dt.date(2026, 12, 1))
    by_hand = GradingRunFactory(as_of=dt.date(2026, 12, 3))

    with translation.override("en"):
        assert str(run) == "default v1, November 2026"
        assert str(by_hand) == "default v1, to Dec. 3, 2026"
    with translation.override("zh-hans"):
        assert str(run) == "default v1\uff0c2026年11月"  # a Chinese comma


def test_an_override_and_a_grade_state_name_the_customer_and_the_grade(ops):
    customer = CustomerFactory(name="Liu Jing")
    override = grade_override_set(
        customer=customer, grade=grade("growth"), reason="Partner", expires_on=None, by=ops
    )

    with translation.override("en"):
        assert str(override) == "Liu Jing pinned to Growth"
        assert str(customer.grade_state) == "Liu Jing: Growth"
        audit = GradeAuditEntry.objects.get(customer=customer)
        assert str(audit) == "Liu Jing: — → Growth (Override)"
    with translation.override("zh-hans"):
        assert str(override) == "Liu Jing 指定为 成长客户"


def test_a_redemption_names_the_customer_the_benefit_and_the_month():
    customer = CustomerFactory(name="Liu Jing")
    set_grade(customer, "growth")

    redemption = benefit_redeem(
        customer_id=customer.pk,
        benefit_code="free-shipping",
        idempotency_key="k1",
        channel="portal",
        today=dt.date(2026, 12, 3),
    )

    with translation.override("en"):
        assert str(redemption) == "Liu Jing · Free shipping · December 2026"
        grade_benefit = GradeBenefit.objects.get(
            grade__code="growth", benefit__code="free-shipping"
        )
        assert str(grade_benefit) == "Growth: Free shipping"


def test_appeals_follow_ups_and_snapshots_read_in_words(alice):
    account, change = portal_customer(code="CAROL", manager=alice)
    appeal = file_appeal(account, change)
    follow_up = FollowUp.objects.create(
        customer=appeal.customer, kind=FollowUp.Kind.CALL, outcome="Called", author=alice
    )
    run = GradingRunFactory(as_of=dt.date(2026, 12, 1))
    snapshot = ScoreSnapshotFactory(run=run, customer=appeal.customer)
    name = appeal.customer.name

    with translation.override("en"):
        assert str(appeal) == f"Appeal #{appeal.pk}"
        event = AppealEvent.objects.get(appeal=appeal)
        assert str(event) == f"Appeal #{appeal.pk}: — → Submitted"
        assert str(follow_up).startswith(f"{name} · Call · ")
        assert str(snapshot) == f"{name} in default v1, November 2026"
    assert str(appeal.customer.pk) not in str(follow_up).split(" · ")[0]


def test_adding_an_override_in_the_admin_reports_names_not_ids(client, ops):
    state = CustomerGradeFactory(customer=CustomerFactory(name="Liu Jing"), grade=grade("basic"))
    client.force_login(ops)

    response = client.post(
        reverse("admin:grading_gradeoverride_add"),
        {
            "customer": state.customer.pk,
            "grade": grade("growth").pk,
            "reason": "Strategic partner",
            "expires_on": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Liu Jing pinned to Growth" in m for m in messages), messages
    override = GradeOverride.objects.get(customer=state.customer)
    assert not any(f"“{state.customer.pk} " in m or f" {override.grade_id}”" in m for m in messages)


def test_stage_tables_show_labels_not_codes():
    run = GradingRunFactory(as_of=dt.date(2026, 12, 1))
    ScoreSnapshotFactory(run=run, lifecycle="mature", pyramid="small")
    ScoreSnapshotFactory(run=run, lifecycle="growing", pyramid="top")

    with translation.override("en"):
        lifecycle, pyramid = reports.stage_distribution(run=run)
    with translation.override("zh-hans"):
        lifecycle_zh, pyramid_zh = reports.stage_distribution(run=run)

    assert lifecycle.columns[0] == "lifecycle stage"
    assert pyramid.columns[0] == "pyramid layer"
    assert {row[0] for row in lifecycle.rows} == {"Established", "Growing"}
    assert {row[0] for row in pyramid.rows} == {"Small customers", "Top customers"}
    assert {row[0] for row in pyramid_zh.rows} == {"小客户", "顶层客户"}
    assert {row[0] for row in lifecycle_zh.rows} == {"成熟", "成长中"}


def test_every_code_has_a_translated_label():
    with translation.override("zh-hans"):
        for mapping in (
            labels.LIFECYCLE_LABELS,
            labels.PYRAMID_LABELS,
            labels.RFM_LABEL_LABELS,
            labels.ACTION_LABELS,
            labels.RULE_NAMES,
        ):
            for code, label in mapping.items():
                assert str(label) != code
                assert not str(label).isascii(), (code, str(label))
    assert labels.rule_name("downgrade_after") == "Downgrade after repeated reviews under target"
    assert labels.action_label("propose_downgrade") == "Downgrade proposed for review"
    assert labels.lifecycle_label(None) == "—"
