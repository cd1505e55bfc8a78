"""Warming a run's reports (issue #15, item 4): the figures are read once for every table and
language (one GROUP BY of the run's snapshots for the per-grade, per-stage and per-layer
tables, one scan of the window's orders) and the tables are those each table computes on
its own, in English and Chinese; the per-grade sums equal the previous one-query-per-table
SQL (kept here as the reference)."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Avg, Count, Q, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from appeals.models import Appeal
from benefits.models import Redemption
from customers.models import Order
from grading import reports
from grading.models import Grade, ScoreSnapshot
from grading.services.report_cache import (
    cached_keys,
    previous_run,
    report_builders,
    report_tables_cached,
    reports_warm,
)
from tests.benefits.factories import BenefitFactory
from tests.customers.factories import CustomerFactory, OrderFactory, ServiceTicketFactory
from tests.grading.factories import (
    GradeChangeFactory,
    GradingRunFactory,
    ScoreSnapshotFactory,
    at,
)

STAGES = ["prospect", "new", "churned", "dormant", "growing", "mature"]
LAYERS = ["top", "large", "medium", "small"]


@pytest.fixture
def runs(db):
    """Two runs of 60 customers with random grades, scores, stages, layers and decisions;
    orders (some without profit), redemptions, tickets and appeals in the second's window."""
    rng = random.Random(4)
    benefit = BenefitFactory(code="coupon", grades=["key", "growth"])
    runs = [
        GradingRunFactory(as_of=dt.date(2026, 3, 1)),
        GradingRunFactory(as_of=dt.date(2026, 4, 1)),
    ]
    grades = list(Grade.objects.all())
    for i in range(60):
        customer = CustomerFactory(code=f"W{i:03d}")
        for run in runs:
            grade = rng.choice(grades)
            frequency = rng.choice([0, 1, 2, 3, 5])
            ScoreSnapshotFactory(
                run=run,
                customer=customer,
                grade_after=grade,
                computed_grade=grade,
                frequency=frequency,
                monetary=Decimal(rng.randint(1, 900_000)) / 100 if frequency else Decimal(0),
                composite=round(rng.random() * 100, 4),
                historical=round(rng.random() * 100, 4),
                potential=round(rng.random() * 100, 4),
                cooperation=round(rng.random() * 100, 4),
                lifecycle=rng.choice(STAGES),
                pyramid=rng.choice(LAYERS),
                action=rng.choice(["keep", "warn", "propose_downgrade", "upgrade"]),
            )
        run = runs[1]
        for _ in range(rng.randint(0, 3)):
            OrderFactory(
                customer=customer,
                placed_at=at(run.as_of - dt.timedelta(days=rng.randint(1, 400))),
                amount=Decimal(rng.randint(1, 99_999)) / 100,
                profit=None if rng.random() < 0.2 else Decimal(rng.randint(-500, 5000)) / 100,
            )
        if rng.random() < 0.3:
            Redemption.objects.create(
                customer=customer,
                benefit=benefit,
                grade=grades[0],
                period_key="p",
                slot=1,
                idempotency_key=f"{customer.code}-r",
                channel=Redemption.Channel.ADMIN,
                cost=benefit.cost_per_use,
                redeemed_at=at(run.as_of - dt.timedelta(days=9)),
            )
        if rng.random() < 0.3:
            ServiceTicketFactory(customer=customer, opened_at=at(run.as_of - dt.timedelta(days=7)))
        if rng.random() < 0.2:
            change = GradeChangeFactory(customer=customer, run=run)
            Appeal.objects.create(customer=customer, change=change, reason="Please")
    return runs


def _plain(table):
    return vars(table)


@pytest.mark.django_db
def test_warming_reads_once_and_gives_each_tables_own_result_in_every_language(runs):
    run = runs[1]
    before = previous_run(run)
    assert before == runs[0]

    with CaptureQueriesContext(connection) as queries:
        warmed = reports_warm(run_id=run.pk)

    keys = [key for key in report_builders(run, before) if key in cached_keys()]
    assert warmed == len(keys) * len(settings.LANGUAGES)
    orders = [q for q in queries.captured_queries if Order._meta.db_table in q["sql"]]
    # The window's orders, once for every table and language: these factory-made snapshots
    # keep no window profit, so it is read as for a run written before it was kept.
    assert len(orders) == 1
    lifecycle = f'"{ScoreSnapshot._meta.db_table}"."lifecycle"'
    cells = [q for q in queries.captured_queries if lifecycle in q["sql"]]
    assert len(cells) == 1  # the run's snapshot cells, once for every table and language
    # Pareto's read is a binary COPY on PostgreSQL, which the capture does not see; there the
    # window's orders come from the customer facts, after one read of their state.
    assert len(queries.captured_queries) == 26
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            cached = report_tables_cached(run=run, before=before, keys=keys)
            for key in keys:
                alone = report_builders(run, before)[key]()  # its own reads, this language
                assert _plain(cached[key]) == _plain(alone), (language, key)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_cells_add_up_to_the_previous_one_query_per_table_sums(runs, language):
    run = runs[1]
    snapshots = ScoreSnapshot.objects.filter(run=run)
    with translation.override(language):
        distribution = reports.value_distribution(run=run)
        repurchase = reports.repurchase_by_grade(run=run)
        lifecycle, pyramid = reports.stage_distribution(run=run)
        grades = reports.grades_by_rank()

    by_grade = {
        row["grade_after_id"]: row
        for row in snapshots.values("grade_after_id").annotate(
            n=Count("id"),
            composite_avg=Avg("composite"),
            historical_avg=Avg("historical"),
            potential_avg=Avg("potential"),
            cooperation_avg=Avg("cooperation"),
            monetary_sum=Sum("monetary"),
            repeat=Count("id", filter=Q(frequency__gte=2)),
        )
    }
    present = [g for g in grades.values() if g.pk in by_grade]
    assert [row[1:5] + row[6:8] for row in distribution.rows] == [
        [
            by_grade[g.pk]["n"],
            reports.percent(by_grade[g.pk]["n"], len(snapshots)),
            round(by_grade[g.pk]["composite_avg"], 2),
            round(by_grade[g.pk]["historical_avg"], 2),
            round(by_grade[g.pk]["cooperation_avg"], 2),
            reports.money(by_grade[g.pk]["monetary_sum"]),
        ]
        for g in present
    ]
    assert [row[1:3] for row in repurchase.rows] == [
        [by_grade[g.pk]["n"], by_grade[g.pk]["repeat"]] for g in present
    ]
    for table, column in ((lifecycle, "lifecycle"), (pyramid, "pyramid")):
        counts = {
            row[column]: (row["n"], reports.money(row["m"]))
            for row in snapshots.values(column).annotate(n=Count("id"), m=Sum("monetary"))
        }
        assert sorted((row[1], row[3]) for row in table.rows) == sorted(counts.values())
        assert [row[1] for row in table.rows] == sorted(
            (row[1] for row in table.rows), reverse=True
        )
