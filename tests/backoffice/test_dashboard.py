"""The admin's dashboard (backoffice/dashboard.py): each figure right, scoped, linked to its
filtered list, and the page's cost fixed whatever the number of rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from django_celery_results.models import TaskResult

from appeals.models import Appeal
from backoffice.dashboard import PENDING_SHOWN, dashboard_get
from grading.models import GradeChange, GradingRun
from grading.services.report_cache import previous_run, report_tables
from tests.appeals.factories import downgrade, run_for
from tests.customers.factories import CustomerFactory
from tests.grading.factories import GradeChangeFactory

NOW = timezone.now()
#: The admin index with the dashboard: session and user, their permissions, the sections'
#: counts and lists (one query each), the last run and the previous one (the reports' key).
QUERIES = 11


def _appeal(customer, *, days_old: float, status=Appeal.Status.SUBMITTED) -> Appeal:
    change = downgrade(customer)
    decided_at = None if status in Appeal.OPEN_STATUSES else NOW
    appeal = Appeal.objects.create(
        customer=customer, change=change, status=status, reason="x", decided_at=decided_at
    )
    Appeal.objects.filter(pk=appeal.pk).update(created_at=NOW - dt.timedelta(days=days_old))
    return appeal


def _proposals(count: int, **fields) -> list[GradeChange]:
    changes = GradeChangeFactory.create_batch(count, **fields)
    for days, change in enumerate(reversed(changes), start=1):
        GradeChange.objects.filter(pk=change.pk).update(created_at=NOW - dt.timedelta(days=days))
    return changes


@pytest.mark.django_db
def test_pending_proposals_are_counted_and_the_oldest_listed_first(ops):
    changes = _proposals(PENDING_SHOWN + 2)
    GradeChangeFactory(status=GradeChange.Status.APPLIED)  # decided: not pending

    pending = dashboard_get(user=ops, now=NOW).pending

    assert pending is not None
    assert pending.count == PENDING_SHOWN + 2
    assert [change.pk for change in pending.oldest] == [c.pk for c in changes[:PENDING_SHOWN]]
    assert pending.url == reverse("admin:grading_gradechange_changelist") + "?status=proposed"


@pytest.mark.django_db
def test_an_account_manager_sees_only_their_customers(alice, alices_customer, bobs_customer):
    GradeChangeFactory(customer=alices_customer)
    GradeChangeFactory(customer=bobs_customer)
    _appeal(bobs_customer, days_old=30)

    board = dashboard_get(user=alice, now=NOW)

    assert board.pending is not None
    assert board.pending.count == 1
    assert board.appeals is not None
    assert board.appeals.sla.open == 0


@pytest.mark.django_db
def test_appeals_by_sla(ops, settings):
    settings.APPEAL_REVIEW_SLA_DAYS = 5
    _appeal(CustomerFactory(), days_old=9)  # overdue
    _appeal(CustomerFactory(), days_old=6)  # overdue
    _appeal(CustomerFactory(), days_old=4)  # due within 2 days
    _appeal(CustomerFactory(), days_old=1)  # open, not due soon
    _appeal(CustomerFactory(), days_old=20, status=Appeal.Status.REJECTED)  # decided

    appeals = dashboard_get(user=ops, now=NOW).appeals

    assert appeals is not None
    assert (appeals.sla.open, appeals.sla.overdue, appeals.sla.due_soon) == (4, 2, 1)
    assert appeals.overdue_url.endswith("?sla=overdue")
    assert appeals.due_soon_url.endswith("?sla=due_soon")


@pytest.mark.django_db
def test_the_appeals_list_filters_agree_with_the_counts(client, ops, settings):
    settings.APPEAL_REVIEW_SLA_DAYS = 5
    overdue = _appeal(CustomerFactory(name="Late Ltd"), days_old=9)
    due_soon = _appeal(CustomerFactory(name="Soon Ltd"), days_old=4)
    client.force_login(ops)
    appeals = dashboard_get(user=ops, now=timezone.now()).appeals
    assert appeals is not None

    overdue_page = client.get(appeals.overdue_url).content.decode()
    due_soon_page = client.get(appeals.due_soon_url).content.decode()

    assert reverse("admin:appeals_appeal_change", args=[overdue.pk]) in overdue_page
    assert reverse("admin:appeals_appeal_change", args=[due_soon.pk]) not in overdue_page
    assert reverse("admin:appeals_appeal_change", args=[due_soon.pk]) in due_soon_page
    assert reverse("admin:appeals_appeal_change", args=[overdue.pk]) not in due_soon_page


@pytest.mark.django_db
def test_the_last_run_and_failed_jobs(ops):
    run_for(dt.date(2026, 10, 1))
    failed = GradingRun.objects.create(
        scheme=run_for(dt.date(2026, 10, 1)).scheme,
        as_of=dt.date(2026, 11, 1),
        status=GradingRun.Status.FAILED,
        started_at=NOW - dt.timedelta(hours=1),
        error="disk full",
    )
    TaskResult.objects.create(task_id="a", status="FAILURE", date_done=NOW)
    TaskResult.objects.create(task_id="b", status="SUCCESS", date_done=NOW)
    old = TaskResult.objects.create(task_id="c", status="FAILURE")
    TaskResult.objects.filter(pk=old.pk).update(date_done=NOW - dt.timedelta(days=30))

    board = dashboard_get(user=ops, now=NOW)

    assert board.last_run is not None
    assert board.last_run.run == failed
    assert board.last_run.url == reverse("admin:grading_gradingrun_change", args=[failed.pk])
    assert board.failures is not None
    assert (board.failures.runs, board.failures.tasks) == (1, 1)
    assert "status__exact=failed" in board.failures.runs_url
    assert "status__exact=FAILURE" in board.failures.tasks_url


@pytest.mark.django_db
def test_the_failed_task_link_lists_what_it_counts(client, ops):
    TaskResult.objects.create(task_id="failed-now", status="FAILURE", date_done=timezone.now())
    old = TaskResult.objects.create(task_id="failed-long-ago", status="FAILURE")
    TaskResult.objects.filter(pk=old.pk).update(date_done=timezone.now() - dt.timedelta(days=30))
    client.force_login(ops)
    failures = dashboard_get(user=ops, now=timezone.now()).failures
    assert failures is not None

    page = client.get(failures.tasks_url)

    assert page.status_code == 200
    assert "failed-now" in page.content.decode()
    assert "failed-long-ago" not in page.content.decode()


@pytest.mark.django_db
def test_alarms_come_from_the_reports_cache_and_are_never_computed_here(ops):
    run = run_for(dt.date(2026, 11, 1))

    before = dashboard_get(user=ops, now=NOW).alarms
    report_tables(run=run, before=previous_run(run), keys=["repurchase", "cost_to_serve"])
    after = dashboard_get(user=ops, now=NOW).alarms

    assert before is not None
    assert before.computed is False
    assert after is not None
    assert after.computed is True
    assert after.url == reverse("reports:index") + f"?run={run.pk}"


@pytest.mark.django_db
def test_a_user_without_permissions_gets_no_sections(db):
    from tests.customers.factories import UserFactory

    board = dashboard_get(user=UserFactory(is_staff=True), now=NOW)

    assert (board.pending, board.appeals, board.last_run, board.alarms, board.failures) == (
        None,
        None,
        None,
        None,
        None,
    )


@pytest.mark.django_db
def test_the_page_shows_every_section_with_links(client, ops):
    change = _proposals(1)[0]
    run = run_for(dt.date(2026, 11, 1))
    client.force_login(ops)

    body = client.get(reverse("admin:index")).content.decode()

    for section in ("pending-count", "appeals-overdue", "appeals-due-soon", "failed-runs"):
        assert f'data-testid="{section}"' in body
    assert reverse("admin:grading_gradechange_change", args=[change.pk]) in body
    assert reverse("admin:grading_gradingrun_change", args=[run.pk]) in body
    assert "Dashboard" in body


@pytest.mark.django_db
def test_the_page_costs_the_same_with_many_rows(client, ops, django_assert_max_num_queries):
    client.force_login(ops)
    run_for(dt.date(2026, 11, 1))
    _proposals(2)
    with django_assert_max_num_queries(QUERIES):
        assert client.get(reverse("admin:index")).status_code == 200

    _proposals(30)
    for days in range(10):
        _appeal(CustomerFactory(), days_old=days)
    with django_assert_max_num_queries(QUERIES):
        assert client.get(reverse("admin:index")).status_code == 200
