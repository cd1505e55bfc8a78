"""Report figures against hand-computed populations; the inversion alarm; exports; access."""

import datetime as dt
import io
from decimal import Decimal
from functools import partial

import openpyxl
import pytest

from grading import reports
from grading.services.runs import grading_run_execute
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.grading.factories import at, buyer

AS_OF = dt.date(2026, 4, 1)


_buy = partial(buyer, as_of=AS_OF)


@pytest.fixture
def inverted(scheme):
    """One-off big buyers reach Key (H 66.67) while repeat small buyers stay Growth (41.67)."""
    _buy("BIG1", "150000", profit="1000")
    _buy("BIG2", "150000", profit="1000")
    _buy("SMALL1", "100", "100", "100", profit="30")
    CustomerFactory(code="NEVER")
    return grading_run_execute(as_of=AS_OF, scheme=scheme)


@pytest.mark.django_db
def test_value_distribution_and_revenue_share_by_hand(inverted):
    distribution = reports.value_distribution(run=inverted)
    revenue = reports.revenue_profit_share(run=inverted)

    # key: BIG1, BIG2 (H 66.6667); growth: SMALL1 (41.6667); basic: NEVER (0).
    assert [(r[0], r[1], r[2], r[3]) for r in distribution.rows] == [
        ("Key", 2, 50.0, 66.67),
        ("Growth", 1, 25.0, 41.67),
        ("Basic", 1, 25.0, 0.0),
    ]
    assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in revenue.rows] == [
        ("Key", 2, Decimal("300000.00"), 99.9, Decimal("2000.00"), 95.69),
        ("Growth", 1, Decimal("300.00"), 0.1, Decimal("90.00"), 4.31),
    ]


@pytest.mark.django_db
def test_inversion_alarm_fires_when_a_higher_grade_repurchases_less(inverted):
    table = reports.repurchase_by_grade(run=inverted)

    assert [(r[0], r[3]) for r in table.rows] == [("Key", 0.0), ("Growth", 100.0), ("Basic", 0.0)]
    assert len(table.notes) == 1
    assert "Key repurchases 0.00%" in table.notes[0]
    assert "Growth repurchases 100.00%" in table.notes[0]


@pytest.mark.django_db
def test_inversion_alarm_is_silent_on_a_sound_population(scheme):
    _buy("LOYAL", *["2000"] * 8)  # r 5, f 4, m 3 -> H 75 -> key, repeat buyer
    _buy("ONCE", "300")  # r 5, f 1, m 1 -> H 33.33 -> growth, no repeat
    run = grading_run_execute(as_of=AS_OF, scheme=scheme)

    table = reports.repurchase_by_grade(run=run)

    assert [(r[0], r[3]) for r in table.rows] == [("Key", 100.0), ("Growth", 0.0)]
    assert table.notes == []


@pytest.mark.django_db
def test_pareto_share_of_customers_making_80_percent(scheme):
    for i, amount in enumerate(["8000", "1000", "500", "300", "200"]):
        _buy(f"P{i}", amount)
    run = grading_run_execute(as_of=AS_OF, scheme=scheme)

    pareto = reports.pareto_curve(run=run, points=5)

    # 8,000 of 10,000 = 80%: one customer of five (20%) makes 80% of revenue.
    assert pareto.customers_for_80 == 20.0
    assert pareto.points[1] == (20.0, 80.0)
    assert pareto.points[-1] == (100.0, 100.0)


@pytest.mark.django_db
def test_transition_matrix_between_two_runs(scheme):
    customer = _buy("MOVER", "300")
    first = grading_run_execute(as_of=AS_OF, scheme=scheme)
    OrderFactory(customer=customer, placed_at=at(AS_OF), amount=Decimal("150000"))
    second = grading_run_execute(as_of=dt.date(2026, 5, 1), scheme=scheme)

    matrix = reports.transition_matrix(before=first, after=second)

    growth_row = next(r for r in matrix.rows if r[0] == "Growth")
    key_column = matrix.columns.index("Key")
    assert growth_row[key_column] == 1
    assert growth_row[-1] == 1


@pytest.mark.django_db
def test_report_page_renders_charts_and_exports(client, ops, inverted):
    client.force_login(ops)

    page = client.get("/reports/")
    csv_file = client.get("/reports/", {"export": "repurchase", "format": "csv"})
    xlsx_file = client.get("/reports/", {"export": "distribution", "format": "xlsx"})

    assert page.status_code == 200
    body = page.content.decode()
    assert "<svg" in body
    assert "Inversion" in body
    assert csv_file["Content-Type"].startswith("text/csv")
    assert csv_file.content.decode().splitlines()[1].startswith("Key,2,0,0.0")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_file.content)).active
    assert [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2))][:2] == ["Key", 2]


@pytest.mark.django_db
def test_reports_are_for_operations_only(client, alice, inverted):
    client.force_login(alice)

    assert client.get("/reports/").status_code == 403


@pytest.mark.django_db
def test_what_if_counts_customers_who_would_move(client, ops, inverted, scheme):
    from grading.models import SchemeGrade

    SchemeGrade.objects.filter(scheme=scheme, grade__code="key").update(min_score=Decimal("70"))
    client.force_login(ops)

    page = client.get(f"/reports/what-if/{scheme.pk}/", {"as_of": AS_OF.isoformat()})

    assert page.status_code == 200
    # BIG1 and BIG2 (66.67) fall below the raised Key floor of 70: two would move.
    assert "2 of 4 customers would get a different grade" in page.content.decode()


@pytest.mark.django_db
def test_report_page_query_count_is_bounded(client, ops, inverted, django_assert_max_num_queries):
    client.force_login(ops)

    # About two statements per table plus session and run lookups; see also
    # test_reports_costs: the count does not grow with customers.
    with django_assert_max_num_queries(30):
        assert client.get("/reports/").status_code == 200


@pytest.mark.django_db
def test_admin_links_to_reports_and_what_if(client, ops, scheme):
    client.force_login(ops)

    index = client.get("/admin/").content.decode()
    scheme_page = client.get(f"/admin/grading/gradingscheme/{scheme.pk}/change/").content.decode()

    assert "/reports/" in index
    # What-if is a button in the scheme page's header (an admin detail action) that opens
    # the scheme's what-if report.
    button = f"/admin/grading/gradingscheme/{scheme.pk}/what-if/"
    assert f'href="{button}"' in scheme_page
    opened = client.get(button)
    assert opened.status_code == 302
    assert opened["Location"] == f"/reports/what-if/{scheme.pk}/"


@pytest.mark.django_db
def test_window_revenue_and_profit_from_the_snapshots_equal_the_facts_and_the_orders(
    scheme, monkeypatch
):
    """The run writes each customer's window profit and orders without one on its snapshots;
    the reports sum them (revenue: `monetary`) per grade. Snapshots without them (written
    before they were kept) are read from the customer facts on PostgreSQL (the window's whole
    months from the buckets, the partial months' orders), else from the orders: all three
    give the same figures, and the what-if's profit per customer too."""
    from django.db import connection

    from customers.models import Order
    from grading import whatif
    from grading.models import ScoreSnapshot
    from grading.pipeline import extract

    as_of = dt.date(2026, 4, 17)  # the window starts and ends mid-month
    start = as_of - dt.timedelta(days=scheme.window_days)
    days = [
        start - dt.timedelta(days=1),  # before the window: left out
        start,
        start + dt.timedelta(days=3),
        dt.date(2025, 12, 1),
        dt.date(2025, 12, 31),
        dt.date(2026, 4, 1),
        as_of - dt.timedelta(days=1),
        as_of,  # the as-of day itself: left out
    ]
    for n, code in enumerate(("A", "B", "C")):
        customer = CustomerFactory(code=code)
        for i, day in enumerate(days):
            OrderFactory(
                customer=customer,
                placed_at=at(day, 1 + 11 * (i % 2)),
                amount=Decimal(100 + 10 * i + n),
                refunded_amount=Decimal("1.50") if i == 2 else Decimal(0),
                profit=None if (i + n) % 3 == 0 else Decimal(f"{(i - 3) * 7 + n}.25"),
                status=Order.Status.CANCELLED if (i, n) == (3, 1) else Order.Status.PAID,
            )
    CustomerFactory(code="NEVER")
    run = grading_run_execute(as_of=as_of, scheme=scheme)

    stored = reports.window_orders_by_grade(run=run)
    assert sum(g["unknown_profit"] for g in stored.values()) == 6  # (i + n) % 3 == 0, i 1..6
    snapshots = ScoreSnapshot.objects.filter(run=run)
    assert snapshots.get(customer__code="NEVER").window_profit_cents == 0
    # By hand, B (n = 1): profits of i = 1, 4, 6 in the window (2 and 5 unknown, 3
    # cancelled): -13.25 + 8.25 + 22.25.
    assert snapshots.get(customer__code="B").window_profit_cents == 1725
    assert snapshots.get(customer__code="B").unknown_profit == 2
    per_customer = {s.customer_id: s.window_profit_cents / 100 for s in snapshots}

    snapshots.update(window_profit_cents=None, unknown_profit=None)
    facts_read = extract.window_money_sql(as_of=as_of, window_days=scheme.window_days)
    assert (facts_read is not None) == (connection.vendor == "postgresql")
    assert reports.window_orders_by_grade(run=run) == stored
    profits = whatif._window_profit(as_of=as_of, window_days=scheme.window_days)
    assert profits.reindex(list(per_customer), fill_value=0.0).to_dict() == per_customer
    monkeypatch.setattr(reports, "window_money_sql", lambda **kwargs: None)
    monkeypatch.setattr(extract, "window_money_sql", lambda **kwargs: None)  # the what-if's read
    assert reports.window_orders_by_grade(run=run) == stored
    orders = whatif._window_profit(as_of=as_of, window_days=scheme.window_days)
    assert orders.sort_index().to_dict() == profits.sort_index().to_dict()
