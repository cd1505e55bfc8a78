"""The score snapshots' admin list on the partitioned table (issue #19 at 1M customers).

Autovacuum analyzes each run's partition but never the partitioned parent: its row count
stays what a manual ANALYZE once found (0 before the first run) and its join statistics are
missing or stale. Measured at 1M customers / 2 runs (bench/README.md, "Pages at 1M, quiet
machine"): the list's count read the parent's 0 and counted 2M rows exactly, and the page's
query, its joins misjudged, sorted every row to find 50 (3.3-6.9 s). The count now sums the
partitions' figures and the page reads its keys first.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common.listing import row_estimate
from grading.admin.runs import ScoreSnapshotAdmin
from grading.models import ScoreSnapshot
from grading.pipeline import partitions
from tests.customers.factories import CustomerFactory
from tests.grading.factories import GradingRunFactory, ScoreSnapshotFactory

postgresql = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="partitions are PostgreSQL's"
)


def _snapshots(run, n):
    for _ in range(n):
        ScoreSnapshotFactory(run=run, customer=CustomerFactory())


@pytest.mark.django_db
@postgresql
def test_the_count_of_all_snapshots_sums_the_partitions_not_the_stale_parent():
    first, second = GradingRunFactory(), GradingRunFactory()
    partitions.partition_ensure(first.pk)
    partitions.partition_ensure(second.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ScoreSnapshot._meta.db_table}")  # the parent, while empty
    _snapshots(first, 3)
    _snapshots(second, 4)
    with connection.cursor() as cursor:
        for run in (first, second):  # what autovacuum does: the partitions only
            cursor.execute(f"ANALYZE {partitions.partition_name(run.pk)}")
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
            [ScoreSnapshot._meta.db_table],
        )
        assert cursor.fetchone()[0] == 0  # the parent's own figure: stale

    assert row_estimate(ScoreSnapshot.objects.all()) == 7


@pytest.mark.django_db
def test_the_snapshot_list_reads_its_page_keys_first(client, ops, monkeypatch):
    run = GradingRunFactory()
    _snapshots(run, 3)
    # Two pages of two (one page shows every row without the paginator).
    monkeypatch.setattr(ScoreSnapshotAdmin, "list_per_page", 2)
    client.force_login(ops)
    client.get(reverse("admin:index"))  # the permission sets are read on the first request

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:grading_scoresnapshot_changelist"))

    assert response.status_code == 200
    table = f'"{ScoreSnapshot._meta.db_table}"'
    reads = [q["sql"] for q in queries.captured_queries if f"FROM {table}" in q["sql"]]
    keys = [sql for sql in reads if sql.startswith(f'SELECT {table}."id" AS "pk" FROM {table}')]
    assert len(keys) == 1
    assert "JOIN" not in keys[0]
    assert "LIMIT 2" in keys[0]
    rows = [sql for sql in reads if "JOIN" in sql]
    assert len(rows) == 1
    assert f'{table}."id" IN (' in rows[0]
    newest = ScoreSnapshot.objects.order_by("-id").values_list("customer__name", flat=True)
    body = response.content.decode()
    assert [name in body for name in newest] == [True, True, False]
