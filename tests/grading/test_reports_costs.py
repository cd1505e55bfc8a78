"""Cost to serve, benefit usage and appeal outcomes against hand-computed populations; their
exports, who may see them, and a report page whose query count does not grow with customers."""

import datetime as dt
import io
from decimal import Decimal
from functools import partial

import openpyxl
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appeals import reports as appeal_reports
from appeals.models import Appeal
from benefits import reports as benefit_reports
from benefits.models import Benefit, Redemption
from grading.models import Grade
from grading.services.runs import grading_run_execute
from tests.benefits.factories import BenefitFactory
from tests.customers.factories import (
    CustomerFactory,
    OrderFactory,
    ServiceTicketFactory,
    UserFactory,
)
from tests.grading.factories import (
    GradeChangeFactory,
    GradingRunFactory,
    ScoreSnapshotFactory,
    at,
    buyer,
)

AS_OF = dt.date(2026, 4, 1)
IN_WINDOW = AS_OF - dt.timedelta(days=20)
AFTER_WINDOW = AS_OF + dt.timedelta(days=3)
NOW = timezone.make_aware(dt.datetime(2026, 4, 10, 12, 0))


_buy = partial(buyer, as_of=AS_OF)


def _redeem(customer, benefit, day, *, grade_code, slot=1):
    return Redemption.objects.create(
        customer=customer,
        benefit=benefit,
        grade=Grade.objects.get(code=grade_code),
        period_key=f"p{slot}",
        slot=slot,
        idempotency_key=f"{customer.code}-{benefit.code}-{day}-{slot}",
        channel=Redemption.Channel.ADMIN,
        cost=benefit.cost_per_use,
        redeemed_at=at(day),
    )


def _tickets(customer, day, count):
    for _ in range(count):
        ServiceTicketFactory(customer=customer, opened_at=at(day))


@pytest.fixture
def service_cost(settings):
    settings.TIERHUB_SERVICE_HOURS_PER_TICKET = "1.5"
    settings.TIERHUB_SERVICE_HOUR_COST = "40"


@pytest.fixture
def served(scheme, service_cost):
    """Key: K1 (profit 1,000), K2 (profit unknown); Growth: G1 (3 orders, profit 30 each);
    Basic: NEVER. Benefits: a 20.00 coupon for Key, 15.00 free shipping for Growth; the seeded
    catalog is switched off, Basic's own benefit expired before the window."""
    k1 = _buy("K1", "150000", profit="1000")
    k2 = _buy("K2", "150000", profit=None)
    g1 = _buy("G1", "100", "100", "100", profit="30")
    never = CustomerFactory(code="NEVER")
    Benefit.objects.update(is_active=False)
    coupon = BenefitFactory(code="coupon", cost_per_use=Decimal("20.00"), grades=["key"])
    shipping = BenefitFactory(
        code="shipping",
        kind=Benefit.Kind.FREE_SHIPPING,
        value=Decimal("0"),
        cost_per_use=Decimal("15.00"),
        grades=["growth"],
    )
    BenefitFactory(code="expired", valid_until=AS_OF - dt.timedelta(days=400), grades=["basic"])
    _redeem(k1, coupon, IN_WINDOW, grade_code="key", slot=1)
    _redeem(k1, coupon, IN_WINDOW, grade_code="key", slot=2)
    _redeem(k1, coupon, AFTER_WINDOW, grade_code="key", slot=3)  # after as_of: left out
    _redeem(g1, shipping, IN_WINDOW, grade_code="growth")
    _tickets(k1, IN_WINDOW, 3)
    _tickets(k1, AFTER_WINDOW, 1)  # left out
    _tickets(g1, IN_WINDOW, 2)
    _tickets(never, IN_WINDOW, 1)
    _tickets(k2, AS_OF - dt.timedelta(days=400), 1)  # before the window: left out
    return grading_run_execute(as_of=AS_OF, scheme=scheme)


@pytest.mark.django_db
def test_cost_to_serve_by_hand(served):
    table = benefit_reports.cost_to_serve(run=served)

    # Service: 1.5 h per ticket at 40 = 60.00 a ticket.
    # Key: profit 1,000 (K2's order has none); coupons 2 x 20 = 40; 3 tickets = 180.
    # Growth: profit 90; shipping 15; 2 tickets = 120 -> 135 > 90.
    # Basic: no profit; 1 ticket = 60 > 0.
    assert table.rows == [
        [
            "Key",
            2,
            Decimal("1000.00"),
            2,
            Decimal("40.00"),
            3,
            Decimal("4.5"),
            Decimal("180.00"),
            Decimal("220.00"),
            Decimal("110.00"),
            Decimal("780.00"),
            22.0,
        ],
        [
            "Growth",
            1,
            Decimal("90.00"),
            1,
            Decimal("15.00"),
            2,
            Decimal("3.0"),
            Decimal("120.00"),
            Decimal("135.00"),
            Decimal("135.00"),
            Decimal("-45.00"),
            150.0,
        ],
        [
            "Basic",
            1,
            Decimal("0.00"),
            0,
            Decimal("0.00"),
            1,
            Decimal("1.5"),
            Decimal("60.00"),
            Decimal("60.00"),
            Decimal("60.00"),
            Decimal("-60.00"),
            None,
        ],
    ]
    assert len(table.notes) == 2
    assert table.notes[0].startswith("Growth costs more to serve than it earns: cost ¥135.00")
    assert table.notes[1].startswith("Basic costs more to serve than it earns")
    assert "1.5 h per ticket at ¥40.00 per hour" in table.remarks[0]
    assert table.remarks[1] == "1 orders in the window have no recorded profit; they count as 0."


@pytest.mark.django_db
def test_cost_to_serve_is_silent_when_every_grade_earns_its_cost(scheme, service_cost):
    _buy("RICH", "150000", profit="5000")
    run = grading_run_execute(as_of=AS_OF, scheme=scheme)

    table = benefit_reports.cost_to_serve(run=run)

    assert table.notes == []
    assert len(table.remarks) == 1


@pytest.mark.django_db
def test_benefit_usage_by_hand(served):
    table = benefit_reports.benefit_usage(run=served)

    assert table.columns[-2:] == ["Fixed-amount coupon", "Free shipping"]
    # grade, customers, entitled, redemptions, redeemers, usage %, coupons, free shipping.
    assert table.rows == [
        ["Key", 2, 2, 2, 1, 50.0, 2, 0],
        ["Growth", 1, 1, 1, 1, 100.0, 0, 1],
        ["Basic", 1, 0, 0, 0, None, 0, 0],  # its only benefit expired before the window
    ]


def _appeal(status, filed, decided=None):
    change = GradeChangeFactory(customer=CustomerFactory())
    appeal = Appeal.objects.create(
        customer=change.customer,
        change=change,
        status=status,
        reason="Delayed orders",
        decided_at=decided,
    )
    Appeal.objects.filter(pk=appeal.pk).update(created_at=filed)  # auto_now_add otherwise
    return appeal


def _local(*args):
    return timezone.make_aware(dt.datetime(*args))


@pytest.fixture
def appeals(settings):
    settings.APPEAL_REVIEW_SLA_DAYS = 5
    S = Appeal.Status
    _appeal(S.ACCEPTED, _local(2026, 2, 20, 9), _local(2026, 2, 21, 9))  # before `since`
    _appeal(S.ACCEPTED, _local(2026, 3, 2, 10), _local(2026, 3, 3, 10))  # 24 h
    _appeal(S.REJECTED, _local(2026, 3, 5, 0), _local(2026, 3, 5, 12))  # 12 h
    _appeal(S.WITHDRAWN, _local(2026, 3, 10, 8), _local(2026, 3, 11, 8))  # no turnaround
    _appeal(S.SUBMITTED, _local(2026, 3, 20, 8))  # open 21 days at NOW: past the SLA
    # 01:00 local on 1 April is still 31 March in UTC: it belongs to April.
    _appeal(S.ACCEPTED, _local(2026, 4, 1, 1), _local(2026, 4, 4, 1))  # 72 h
    _appeal(S.UNDER_REVIEW, _local(2026, 4, 8, 8))  # open 2 days: within the SLA


@pytest.mark.django_db
def test_appeal_outcomes_by_hand(appeals):
    table = appeal_reports.appeal_outcomes(since=dt.date(2026, 3, 1), now=NOW)

    # March: turnarounds 12 and 24 h -> median 18, p90 12 + 0.9 * 12 = 22.8.
    # All: 12, 24, 72 -> median 24, p90 24 + 0.8 * 48 = 62.4.
    assert table.rows == [
        [dt.date(2026, 3, 1), 4, 1, 1, 1, 1, 50.0, 18.0, 22.8, 1],
        [dt.date(2026, 4, 1), 2, 1, 0, 0, 1, 100.0, 72.0, 72.0, 0],
        ["all", 6, 2, 1, 1, 2, 66.67, 24.0, 62.4, 1],
    ]
    assert table.display_rows()[0][:2] == ["March 2026", "4"]


@pytest.mark.django_db
def test_appeal_outcomes_leave_rates_empty_without_decisions(db):
    _appeal(Appeal.Status.SUBMITTED, _local(2026, 4, 8, 8))

    table = appeal_reports.appeal_outcomes(now=NOW)

    assert table.rows[0] == [dt.date(2026, 4, 1), 1, 0, 0, 0, 1, None, None, None, 0]
    assert appeal_reports.appeal_outcomes(since=dt.date(2026, 5, 1), now=NOW).rows == []


# ------------------------------------------------------------------------- page and exports


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "first_row", "first_cells"),
    [
        (
            "cost_to_serve",
            ["Key", "2", "1000.00", "2", "40.00", "3", "4.50", "180.00", "220.00", "110.00"],
            ["Key", 2, 1000, 2, 40, 3, 4.5, 180, 220, 110, 780, 22],
        ),
        (
            "benefit_usage",
            ["Key", "2", "2", "2", "1", "50.00", "2", "0"],
            ["Key", 2, 2, 2, 1, 50, 2, 0],
        ),
    ],
)
def test_new_tables_export_as_csv_and_xlsx(client, ops, served, key, first_row, first_cells):
    client.force_login(ops)

    csv_file = client.get("/reports/", {"export": key, "format": "csv"})
    xlsx_file = client.get("/reports/", {"export": key, "format": "xlsx"})

    assert csv_file.status_code == 200
    assert csv_file["Content-Type"].startswith("text/csv")
    assert f'filename="{key}-2026-04-01.csv"' in csv_file["Content-Disposition"]
    lines = csv_file.content.decode().splitlines()
    assert lines[1].split(",")[: len(first_row)] == first_row
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_file.content)).active
    values = [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2))]
    assert values == first_cells


@pytest.mark.django_db
def test_appeals_table_exports_and_shows_on_the_page(client, ops, served, appeals):
    with time_machine.travel(NOW, tick=False):
        client.force_login(ops)
        page = client.get("/reports/")
        csv_file = client.get("/reports/", {"export": "appeals", "format": "csv"})
        xlsx_file = client.get("/reports/", {"export": "appeals", "format": "xlsx"})

    body = page.content.decode()
    assert "Appeals: volume, outcome and turnaround" in body
    assert "Cost to serve and profit per grade" in body
    assert "Benefit usage per grade" in body
    assert "Growth costs more to serve than it earns" in body
    assert "Profit and cost to serve per grade" in body  # the chart
    # The page shows the twelve months up to NOW: February's appeal is in.
    assert csv_file.content.decode().splitlines()[1:] == [
        "2026-02,1,1,0,0,0,100.00,24.00,24.00,0",
        "2026-03,4,1,1,1,1,50.00,18.00,22.80,1",
        "2026-04,2,1,0,0,1,100.00,72.00,72.00,0",
        "all,7,3,1,1,2,75.00,24.00,57.60,1",  # 12, 24, 24, 72: 24 + 0.7 * 48
    ]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_file.content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert rows[1] == [dt.datetime(2026, 3, 1), 4, 1, 1, 1, 1, 50.0, 18.0, 22.8, 1]
    assert rows[-1][0] == "all"


@pytest.mark.django_db
def test_unknown_report_or_format_is_404(client, ops, served):
    client.force_login(ops)

    assert client.get("/reports/", {"export": "nope"}).status_code == 404
    assert client.get("/reports/", {"export": "appeals", "format": "pdf"}).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{}, {"export": "cost_to_serve", "format": "csv"}])
def test_reports_refuse_everyone_but_operations(client, alice, served, query):
    # Anonymous and non-staff users go to the admin login; a manager lacks the permission.
    anonymous = client.get("/reports/", query)
    client.force_login(UserFactory(username="not-staff"))
    not_staff = client.get("/reports/", query)
    client.force_login(alice)
    manager = client.get("/reports/", query)

    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous["Location"]
    assert not_staff.status_code == 302
    assert "/admin/login/" in not_staff["Location"]
    assert manager.status_code == 403


def _population(run, n, *, benefit):
    """`n` customers in `run`, alternately Key and Growth, each with an order, a redemption,
    a ticket and an appeal in the run's window."""
    for i in range(n):
        customer = CustomerFactory()
        code = "key" if i % 2 == 0 else "growth"
        grade = Grade.objects.get(code=code)
        ScoreSnapshotFactory(run=run, customer=customer, grade_after=grade, frequency=1 + i % 3)
        day = run.as_of - dt.timedelta(days=10)
        OrderFactory(customer=customer, placed_at=at(day), amount=Decimal("100"), profit=1)
        _redeem(customer, benefit, day, grade_code=code)
        _tickets(customer, day, 1)
        change = GradeChangeFactory(customer=customer, run=run)
        Appeal.objects.create(customer=customer, change=change, reason="Please review")


@pytest.mark.django_db
def test_report_page_query_count_does_not_grow_with_customers(client, ops):
    benefit = BenefitFactory(code="coupon", grades=["key", "growth"])
    small = GradingRunFactory(as_of=dt.date(2026, 3, 1))
    large = GradingRunFactory(as_of=dt.date(2026, 4, 1))
    _population(small, 2, benefit=benefit)
    _population(large, 12, benefit=benefit)
    client.force_login(ops)
    # One staff page first: the user's permission sets are then cached, as on every later page.
    assert client.get("/admin/").status_code == 200

    counts = []
    for run, before in ((small, large), (large, small)):
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/reports/", {"run": run.pk, "before": before.pk})
        assert page.status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]
    assert counts[0] <= 40


@pytest.mark.django_db
def test_xlsx_money_and_counts_are_numeric_cells_with_a_number_format(client, ops, served):
    client.force_login(ops)

    xlsx_file = client.get("/reports/", {"export": "cost_to_serve", "format": "xlsx"})

    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_file.content)).active
    customers, profit, hours = (sheet.cell(row=2, column=c) for c in (2, 3, 7))
    assert (customers.data_type, customers.number_format) == ("n", "#,##0")
    assert (profit.data_type, profit.number_format) == ("n", "#,##0.00")
    assert profit.value == 1000  # a number, not "1000.00" nor "¥1,000.00"
    assert (hours.data_type, hours.number_format, hours.value) == ("n", "#,##0.00", 4.5)
