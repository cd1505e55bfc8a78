"""seed_demo's lived-in history: a year of runs and operations through the real services."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from appeals.models import Appeal, FollowUp
from backoffice.demo import demo_periods
from benefits.models import Redemption
from common.models import Notification
from customers.models import Customer, CustomerAccount
from grading.models import GradeChange, GradeOverride, GradingRun, GradingScheme, ScoreSnapshot
from grading.services.integrity import grades_check

pytestmark = pytest.mark.django_db


def test_periods_are_the_twelve_months_up_to_todays():
    periods = demo_periods(dt.date(2026, 12, 4))

    assert periods[0] == dt.date(2026, 1, 1)
    assert periods[-1] == dt.date(2026, 12, 1)
    assert len(periods) == 12
    assert demo_periods(dt.date(2026, 2, 10), 3) == [
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
    ]


def test_seed_demo_grades_a_year_and_leaves_work_for_operations():
    # One seeding for every assertion: twelve runs are the slow part.
    out = StringIO()

    call_command("seed_demo", "--customers=200", "--if-empty", stdout=out)

    # Twelve monthly runs, grades moving over time.
    runs = list(GradingRun.objects.order_by("as_of"))
    assert [r.status for r in runs] == [GradingRun.Status.SUCCEEDED] * 12
    assert sum(r.upgraded for r in runs) > 0
    assert sum(r.downgraded + r.downgrade_proposals for r in runs) > 0
    assert sum(r.warned for r in runs) > 0
    assert "12 monthly grading runs" in out.getvalue()
    # Reviews done and still to do.
    assert GradeChange.objects.filter(status=GradeChange.Status.PROPOSED).exists()
    assert GradeChange.objects.filter(
        status=GradeChange.Status.APPLIED, decided_by__username="ops"
    ).exists()  # approved proposals
    assert GradeChange.objects.filter(status=GradeChange.Status.REJECTED).exists()
    # Appeals in every state, an accepted one locking the grade.
    assert set(Appeal.objects.values_list("status", flat=True)) == set(Appeal.Status.values)
    assert GradeOverride.objects.filter(source=GradeOverride.Source.APPEAL).exists()
    # Follow-ups on warnings, redemptions, notifications.
    assert ScoreSnapshot.objects.filter(action="warn").exists()
    assert FollowUp.objects.exists()
    assert set(FollowUp.objects.values_list("kind", flat=True)) == {FollowUp.Kind.WARNING}
    assert not FollowUp.objects.filter(next_step="").exists()
    # A portal login for the demo customer, on one of `manager`'s customers.
    account = CustomerAccount.objects.get(user__username="customer")
    assert account.user.check_password("tierhub-demo")
    assert account.customer.account_manager.username == "manager"
    assert Redemption.objects.exists()
    assert Notification.objects.exists()
    # Dated over the year, not all today, so reports have trends.
    appeal_months = {a.created_at.date().replace(day=1) for a in Appeal.objects.all()}
    redemption_months = {r.redeemed_at.date().replace(day=1) for r in Redemption.objects.all()}
    assert len(appeal_months) > 3
    assert len(redemption_months) > 6
    assert min(redemption_months) >= runs[0].as_of
    # The history holds the invariants a real one does.
    assert grades_check() == []
    # From now on, orders that earn a higher grade upgrade at once (issue #15).
    assert GradingScheme.objects.get(status=GradingScheme.Status.ACTIVE).provisional_upgrades
    assert all(run.population_cuts for run in runs)

    # --if-empty: a second `make run` adds nothing.
    before = (Customer.objects.count(), GradingRun.objects.count(), Appeal.objects.count())
    again = StringIO()
    call_command("seed_demo", "--customers=200", "--if-empty", stdout=again)
    assert "already exist" in again.getvalue()
    after = (Customer.objects.count(), GradingRun.objects.count(), Appeal.objects.count())
    assert after == before


def test_months_zero_seeds_customers_only():
    call_command("seed_demo", "--customers=20", "--months=0", stdout=StringIO())

    assert Customer.objects.count() == 20
    assert not GradingRun.objects.exists()
