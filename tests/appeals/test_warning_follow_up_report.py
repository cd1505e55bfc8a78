"""The reports' "Warning follow-up" table against a hand-built history of three runs: each
outcome, the SLA's boundary, the empty case, a bounded number of queries, the page and its
exports in both languages."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.utils import timezone

from appeals import reports as appeal_reports
from appeals.models import Appeal, FollowUp
from appeals.reports import WarnedCustomer, warning_outcome, warning_within_sla
from grading.models import GradeChange, GradingRun
from tests.appeals.factories import FollowUpFactory, run_for, snapshot
from tests.customers.factories import CustomerFactory
from tests.grading.factories import grade

R1, R2, R3 = dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2026, 11, 1)
FINISHED = timezone.make_aware(dt.datetime(2026, 9, 1, 6, 0))


def _run(as_of: dt.date, finished_at: dt.datetime) -> GradingRun:
    run = run_for(as_of)
    GradingRun.objects.filter(pk=run.pk).update(finished_at=finished_at)
    run.refresh_from_db()
    return run


def _follow_up(customer, run, at, *, kind=FollowUp.Kind.WARNING) -> FollowUp:
    follow_up = FollowUpFactory.create(
        customer=customer, run=run, kind=kind, next_step="Call again"
    )
    FollowUp.objects.filter(pk=follow_up.pk).update(created_at=at)  # auto_now_add otherwise
    return follow_up


def _downgrade(customer, run, *, status=GradeChange.Status.APPLIED) -> GradeChange:
    return GradeChange.objects.create(
        customer=customer,
        run=run,
        from_grade=grade("key"),
        to_grade=grade("growth"),
        direction=GradeChange.Direction.DOWN,
        status=status,
        source="run",
        rule="downgrade_after",
    )


@pytest.fixture
def history(settings):
    settings.WARNING_FOLLOW_UP_SLA_DAYS = 7
    return build_history()


def build_history() -> tuple[GradingRun, GradingRun, GradingRun]:
    """Three runs a month apart, R1 finished at FINISHED (with an SLA of 7 days):

    R1 warns A (followed up at the deadline, kept at R2: recovered), B (followed up a second
    late, downgraded by R2), C (proposed, approved, appealed), D (followed up, warned again
    at R2: pending) and F (only a plain call, upgraded at R2: recovered); E is kept (no
    warning). R2 warns D again (no run graded it since: pending); R3 warns G (no later run).
    """
    r1 = _run(R1, FINISHED)
    r2 = _run(R2, FINISHED + dt.timedelta(days=30))
    r3 = _run(R3, FINISHED + dt.timedelta(days=61))
    deadline = FINISHED + dt.timedelta(days=7)
    a, b, c, d, e, f, g = (CustomerFactory.create(code=code) for code in "ABCDEFG")
    for customer in (a, b, d, f):
        snapshot(customer, r1, grade_code="key", action="warn")
    snapshot(c, r1, grade_code="key", action="propose_downgrade")
    snapshot(e, r1, grade_code="key", action="keep")
    _follow_up(a, r1, deadline)
    snapshot(a, r2, grade_code="key", action="keep")
    _follow_up(b, r1, deadline + dt.timedelta(seconds=1))
    snapshot(b, r2, grade_code="growth", action="downgrade")
    _downgrade(b, r2)
    proposal = _downgrade(c, r1)  # approved by the reviewer
    Appeal.objects.create(customer=c, change=proposal, reason="Delayed orders")
    _follow_up(d, r1, FINISHED + dt.timedelta(days=1))
    snapshot(d, r2, grade_code="key", action="warn")
    _follow_up(f, r1, FINISHED + dt.timedelta(days=1), kind=FollowUp.Kind.CALL)
    snapshot(f, r2, grade_code="strategic", action="upgrade")
    snapshot(g, r3, grade_code="key", action="warn")
    return r1, r2, r3


@pytest.mark.django_db
def test_warning_follow_up_by_hand(history, django_assert_num_queries):
    with django_assert_num_queries(2):  # the runs, then one row per warning
        table = appeal_reports.warning_follow_up()

    # R1: 5 warnings (A, B, C, D, F); followed up A, B, D; within the SLA A (at the
    # deadline) and D; 2 of 5 = 40 %. Recovered A, F; downgraded B; appealed C; pending D.
    assert table.rows == [
        [R1, 5, 3, 2, 40.0, 2, 1, 1, 1],
        [R2, 1, 0, 0, 0.0, 0, 0, 0, 1],
        [R3, 1, 0, 0, 0.0, 0, 0, 0, 1],
        ["all", 7, 3, 2, 28.57, 2, 1, 1, 3],
    ]
    assert table.display_rows()[-1][4] == "28.57%"


@pytest.mark.django_db
def test_the_query_count_does_not_grow_with_warnings(history, django_assert_num_queries):
    r1, r2, _r3 = history
    for i in range(30):
        customer = CustomerFactory(code=f"MORE{i}")
        snapshot(customer, r1, grade_code="key", action="warn")
        snapshot(customer, r2, grade_code="key", action="keep")
        _follow_up(customer, r1, FINISHED)

    with django_assert_num_queries(2):
        table = appeal_reports.warning_follow_up()

    assert table.rows[0][:6] == [R1, 35, 33, 32, 91.43, 32]


@pytest.mark.django_db
def test_only_the_latest_runs_are_shown(history):
    table = appeal_reports.warning_follow_up(runs=2)

    # R1 is left out; R2's outcome is still judged at R3.
    assert [row[0] for row in table.rows] == [R2, R3, "all"]


@pytest.mark.django_db
def test_the_reports_page_of_an_older_run_shows_the_runs_up_to_it(
    history, django_assert_num_queries
):
    r1, r2, _r3 = history
    with django_assert_num_queries(3):  # the runs up to R2, the run after it, the warnings
        table = appeal_reports.warning_follow_up(until=r2)

    # R3 is not shown, but still judges R2's warnings (D: warned again at R2, not at R3).
    assert table.rows == [
        [R1, 5, 3, 2, 40.0, 2, 1, 1, 1],
        [R2, 1, 0, 0, 0.0, 0, 0, 0, 1],
        ["all", 6, 3, 2, 33.33, 2, 1, 1, 2],
    ]
    # R1 alone: its outcomes judged at R2, as on the latest run's page.
    assert appeal_reports.warning_follow_up(until=r1).rows[0] == [R1, 5, 3, 2, 40.0, 2, 1, 1, 1]


@pytest.mark.django_db
def test_no_runs_or_no_warnings_give_an_empty_table(db):
    assert appeal_reports.warning_follow_up().rows == []
    snapshot(CustomerFactory(code="KEPT"), run_for(R1), grade_code="key", action="keep")
    assert appeal_reports.warning_follow_up().rows == []


def _warning(**values) -> WarnedCustomer:
    fields = {
        "issued_at": FINISHED,
        "followed_up_at": None,
        "next_action": None,
        "downgraded": False,
        "appealed": False,
        **values,
    }
    return WarnedCustomer(**fields)


@pytest.mark.parametrize(
    ("values", "outcome"),
    [
        ({}, "pending"),
        ({"next_action": "keep"}, "recovered"),
        ({"next_action": "upgrade"}, "recovered"),
        ({"next_action": "locked"}, "recovered"),
        ({"next_action": "warn"}, "pending"),
        ({"next_action": "propose_downgrade"}, "pending"),
        ({"next_action": "downgrade", "downgraded": True}, "downgraded"),
        ({"downgraded": True}, "downgraded"),
        ({"downgraded": True, "appealed": True}, "appealed"),
        ({"next_action": "propose_downgrade", "appealed": True}, "appealed"),
    ],
)
def test_each_warning_has_one_outcome(values, outcome):
    assert warning_outcome(_warning(**values)) == outcome


def test_the_sla_deadline_itself_is_within():
    deadline = FINISHED + dt.timedelta(days=7)

    assert warning_within_sla(_warning(followed_up_at=deadline), sla_days=7)
    late = deadline + dt.timedelta(microseconds=1)
    assert not warning_within_sla(_warning(followed_up_at=late), sla_days=7)
    assert not warning_within_sla(_warning(), sla_days=7)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "title", "heading"),
    [
        ("en", "Warning follow-up", "followed up within SLA"),
        ("zh-Hans", "预警沟通", "时限内跟进"),
    ],
)
def test_the_table_shows_on_the_reports_page(client, ops, history, language, title, heading):
    client.force_login(ops)

    page = client.get("/reports/", HTTP_ACCEPT_LANGUAGE=language)

    body = page.content.decode()
    assert page.status_code == 200
    assert title in body
    assert heading in body


@pytest.mark.django_db
def test_the_table_exports_as_csv_and_xlsx(client, ops, history):
    client.force_login(ops)

    csv_file = client.get("/reports/", {"export": "warning_follow_up", "format": "csv"})
    xlsx_file = client.get("/reports/", {"export": "warning_follow_up", "format": "xlsx"})

    assert csv_file.status_code == 200
    lines = csv_file.content.decode("utf-8-sig").splitlines()
    assert lines[1:] == [
        "2026-09-01,5,3,2,40.00,2,1,1,1",
        "2026-10-01,1,0,0,0.00,0,0,0,1",
        "2026-11-01,1,0,0,0.00,0,0,0,1",
        "all,7,3,2,28.57,2,1,1,3",
    ]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_file.content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert rows[0] == [dt.datetime(2026, 9, 1), 5, 3, 2, 40.0, 2, 1, 1, 1]
    assert rows[-1][0] == "all"
