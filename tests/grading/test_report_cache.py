"""A finished run's report tables: computed once, served from the cache, recomputed on demand."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from grading.models import GradingRun
from grading.services.report_cache import cached_keys, report_tables, reports_warm
from grading.services.runs import grading_run_execute
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.grading.factories import at

AS_OF = dt.date(2026, 4, 1)


@pytest.fixture
def run(scheme):
    for code, amount in (("A", "150000"), ("B", "300"), ("C", "100")):
        OrderFactory(
            customer=CustomerFactory(code=code),
            placed_at=at(AS_OF - dt.timedelta(days=5)),
            amount=Decimal(amount),
        )
    return grading_run_execute(as_of=AS_OF, scheme=scheme)


def _queries(function):
    with CaptureQueriesContext(connection) as queries:
        result = function()
    return result, len(queries)


@pytest.mark.django_db
def test_tables_are_computed_once_then_read_from_the_cache(run):
    first, computing = _queries(lambda: report_tables(run=run, before=None))
    second, reading = _queries(lambda: report_tables(run=run, before=None))

    assert set(first.tables) >= cached_keys() - {"transitions"}
    for key, table in first.tables.items():
        assert second.tables[key] == table, key
    assert second.computed_at == first.computed_at
    # Only the tables that belong to no single run (movement, appeals) are read again; the
    # warning follow-up table is cached with the run's.
    assert reading < computing
    assert reading <= 4


@pytest.mark.django_db
def test_late_orders_count_in_the_next_run_not_in_this_ones_revenue(run):
    """Revenue and profit per grade are the run's own figures, written on its snapshots: an
    order placed in the window after the run changes neither the cached nor a recomputed
    table."""

    def revenue_rows():
        return report_tables(run=run, before=None, keys=["revenue"]).tables["revenue"].rows

    before = revenue_rows()
    buyer = run.snapshots.get(customer__code="B").customer
    OrderFactory(customer=buyer, placed_at=at(AS_OF - dt.timedelta(days=2)), amount=Decimal("50"))

    assert revenue_rows() == before  # still the cached figures
    fresh = report_tables(run=run, before=None, keys=["revenue"], refresh=True)

    assert fresh.tables["revenue"].rows == before
    assert sum(row[2] for row in fresh.tables["revenue"].rows) == Decimal("150400.00")


@pytest.mark.django_db
def test_warming_fills_every_language_so_the_page_only_reads(client, ops, run):
    assert reports_warm(run_id=run.pk) > 0
    client.force_login(ops)

    with CaptureQueriesContext(connection) as queries:
        english = client.get("/reports/")
    with CaptureQueriesContext(connection) as chinese_queries:
        chinese = client.get("/reports/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert english.status_code == chinese.status_code == 200
    assert not any("customers_order" in q["sql"] for q in queries.captured_queries)
    assert not any("customers_order" in q["sql"] for q in chinese_queries.captured_queries)
    with translation.override("zh-hans"):
        title = (
            report_tables(run=run, before=None, keys=["distribution"]).tables["distribution"].title
        )
    assert title != "Value distribution per grade"
    assert title in chinese.content.decode()


@pytest.mark.django_db
def test_warming_skips_a_run_that_did_not_succeed(run):
    GradingRun.objects.filter(pk=run.pk).update(status=GradingRun.Status.FAILED)

    assert reports_warm(run_id=run.pk) == 0


@pytest.mark.django_db
def test_recompute_button_refreshes_and_returns_to_the_page(client, ops, run):
    client.force_login(ops)
    client.get("/reports/")
    cached = report_tables(run=run, before=None).computed_at
    buyer = run.snapshots.get(customer__code="C").customer
    OrderFactory(customer=buyer, placed_at=at(AS_OF - dt.timedelta(days=1)), amount=Decimal("7"))

    response = client.post(f"/reports/?run={run.pk}", {"recompute": "1"})
    csv_file = client.get("/reports/", {"run": run.pk, "export": "revenue", "format": "csv"})

    assert response.status_code == 302
    assert response["Location"].endswith(f"/reports/?run={run.pk}")
    assert report_tables(run=run, before=None).computed_at > cached
    # Growth holds B (300) and C (100): the run's figures; the 7 recorded after the run
    # count in the next run.
    assert "Growth,2,400.00," in csv_file.content.decode()


@pytest.mark.django_db
def test_recompute_needs_the_reports_permission(client, alice, run):
    client.force_login(alice)

    assert client.post("/reports/", {"recompute": "1"}).status_code == 403


@pytest.mark.django_db
def test_benefits_and_appeals_add_their_tables_through_the_registry(run):
    from grading.services.report_cache import report_builders

    keys = list(report_builders(run, None))

    assert keys.index("cost_to_serve") == keys.index("revenue") + 1
    assert keys.index("benefit_usage") == keys.index("cost_to_serve") + 1
    assert "appeals" in keys
    assert "appeals" not in cached_keys()
    assert keys[-1] == "pareto"


@pytest.mark.parametrize(
    ("app", "above"),
    [("customers", ("grading", "benefits", "appeals")), ("grading", ("benefits", "appeals"))],
)
def test_an_app_never_imports_the_apps_built_on_it(app, above):
    """docs/architecture.md, "Layers": customers <- grading <- benefits, appeals."""
    import ast
    import importlib
    from pathlib import Path

    offenders = []
    for path in Path(importlib.import_module(app).__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] in above]
    assert offenders == []
