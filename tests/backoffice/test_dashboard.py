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
from grading.models import GradeChange, GradingRun, SchemeGrade
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

    assert (
        board.pending,
        board.appeals,
        board.needs,
        board.last_run,
        board.alarms,
        board.failures,
    ) == (None, None, None, None, None, None)


@pytest.mark.django_db
def test_the_page_shows_every_section_with_links(client, ops):
    change = _proposals(1)[0]
    run = run_for(dt.date(2026, 11, 1))
    client.force_login(ops)

    body = client.get(reverse("admin:index")).content.decode()

    for section in (
        "pending-count",
        "appeals-overdue",
        "appeals-due-soon",
        "failed-runs",
        "needs",
    ):
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


def _recomputed(now: dt.datetime, **scope) -> tuple[dict[str, int], int]:
    """The needs counted from the source tables (`needs_compute`, the old way)."""
    from appeals.selectors import QUEUE_NEED_CODES
    from manager.needs import needs_compute

    rows = list(
        needs_compute(now=now).filter(**scope).values(*(f"flag_{c}" for c in QUEUE_NEED_CODES))
    )
    by_need = {code: sum(1 for row in rows if row[f"flag_{code}"]) for code in QUEUE_NEED_CODES}
    return by_need, sum(1 for row in rows if any(row.values()))


def _needs_population(alice, bob):
    """Customers of both managers with every need, some twice, some none; two tickets whose
    SLA and one upgrade whose "recent" run out in the next days."""
    from appeals.services import follow_up_create
    from benefits.models import Recommendation
    from tests.appeals.factories import snapshot
    from tests.benefits.factories import RecommendationFactory, set_grade
    from tests.customers.factories import ServiceTicketFactory

    run = run_for(dt.date(2026, 11, 1))
    customers = []
    for i, manager in enumerate([alice, bob, alice, bob, alice, None, alice, bob]):
        customer = CustomerFactory(code=f"N{i}", account_manager=manager)
        set_grade(customer, ("basic", "growth", "key", "strategic")[i % 4])
        customers.append(customer)
    now = timezone.now()
    ServiceTicketFactory(
        customer=customers[0], priority="urgent", opened_at=now - dt.timedelta(days=5)
    )
    ServiceTicketFactory(
        customer=customers[1], priority="normal", opened_at=now - dt.timedelta(hours=1)
    )
    ServiceTicketFactory(
        customer=customers[2], priority="urgent", opened_at=now - dt.timedelta(minutes=5)
    )
    GradeChangeFactory(customer=customers[1])
    GradeChangeFactory(customer=customers[3])
    # N4 (basic) one point below the next grade's floor (standard): close to it.
    standard = SchemeGrade.objects.get(scheme__status="active", grade__code="standard")
    for customer, action in zip(
        customers[2:6], ("warn", "propose_downgrade", "keep", "warn"), strict=True
    ):
        composite = float(standard.min_score) - 1 if customer.code == "N4" else 48.0
        snapshot(customer, run, grade_code="growth", composite=composite, action=action)
    run.save()
    follow_up_create(
        customer=customers[5], kind="warning", outcome="Spoke.", next_step="Visit.", by=None
    )
    _appeal(customers[6], days_old=2)
    upgrade = GradeChangeFactory(
        customer=customers[7], direction=GradeChange.Direction.UP, status=GradeChange.Status.APPLIED
    )
    GradeChange.objects.filter(pk=upgrade.pk).update(created_at=now - dt.timedelta(days=29))
    GradeChangeFactory(
        customer=customers[0], direction=GradeChange.Direction.UP, status=GradeChange.Status.APPLIED
    )
    RecommendationFactory(customer=customers[4])
    RecommendationFactory(customer=customers[6], status=Recommendation.Status.DISMISSED)
    old = GradeChangeFactory(
        customer=customers[5], direction=GradeChange.Direction.UP, status=GradeChange.Status.APPLIED
    )
    GradeChange.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=31))
    # Nothing to do yet, but a ticket whose first-response target runs out within two days.
    quiet = CustomerFactory(code="QUIET", account_manager=alice)
    set_grade(quiet, "growth")
    ServiceTicketFactory(customer=quiet, priority="normal", opened_at=now)
    inactive = CustomerFactory(code="GONE", account_manager=alice, is_active=False)
    GradeChangeFactory(customer=inactive)
    from manager.needs import queue_needs_refresh

    queue_needs_refresh()  # the upgrade's date and the run were written without a refresh
    return customers


@pytest.mark.django_db
@pytest.mark.parametrize(
    "later",
    # Now, later (without a refresh in between), and earlier than the table was written (a
    # web server whose clock lags the worker's: the 31-day-old upgrade is recent again).
    [dt.timedelta(0), dt.timedelta(hours=3), dt.timedelta(days=2), -dt.timedelta(days=2)],
)
def test_the_needs_counts_equal_a_recomputation_for_each_reader(ops, alice, bob, later):
    """Read from the needs table; the same numbers as counting from the source tables, for
    Operations (everyone) and a manager (their customers), also once the clock has moved
    on (tickets past their SLA, an upgrade no longer recent) without any refresh."""
    _needs_population(alice, bob)
    now = timezone.now() + later

    counted = {}
    for user, scope in ((ops, {}), (alice, {"account_manager": alice})):
        needs = dashboard_get(user=user, now=now).needs
        assert needs is not None
        by_need, customers = _recomputed(now, **scope)
        counted[user.username] = {n.url.rsplit("=", 1)[1]: n.count for n in needs.needs}
        assert counted[user.username] == by_need
        assert needs.customers == customers
    assert all(counted["olivia-ops"].values())  # a mixed population: every need somewhere
    assert counted["olivia-ops"] != counted["alice-am"]


@pytest.mark.django_db
def test_the_needs_section_links_to_the_filtered_queue(client, ops, alice, bob):
    _needs_population(alice, bob)
    client.force_login(ops)
    needs = dashboard_get(user=ops, now=timezone.now()).needs
    assert needs is not None
    sla = needs.needs[0]

    assert sla.url == reverse("manager:queue") + "?flag=sla"
    page = client.get(sla.url).content.decode()
    assert page.count("<tr data-code=") == sla.count


@pytest.mark.django_db
def test_the_needs_counts_are_kept_a_minute_per_person(
    ops, alice, django_assert_num_queries, django_assert_max_num_queries
):
    """The aggregate over every customer with a need runs once a minute per person, not
    on every view (about 110 ms at a million customers); each person keeps their own."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backoffice.dashboard import NEEDS_CACHE_SECONDS, _needs_counts

    now = timezone.now()
    with django_assert_max_num_queries(3):
        first = _needs_counts(ops, now)
    with django_assert_num_queries(0):
        assert _needs_counts(ops, now) == first
    with CaptureQueriesContext(connection) as alices:
        _needs_counts(alice, now)
    assert len(alices) >= 1  # counted for her, not Operations' counts
    assert NEEDS_CACHE_SECONDS == 60
    cache.clear()  # the minute is over
    with CaptureQueriesContext(connection) as again:
        _needs_counts(ops, now)
    assert len(again) >= 1
