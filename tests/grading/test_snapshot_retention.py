"""Snapshots that age gracefully (issue 15): per-run partitions on PostgreSQL, retention that
archives to Parquet and drops in O(1), exports of archived runs (docs/operations.md,
"Snapshots and retention"). Runs on SQLite and PostgreSQL; the partition tests need PostgreSQL."""

import datetime as dt
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from grading.exports import score_export_frame
from grading.models import CustomerGrade, GradeAuditEntry, GradeChange, GradingRun, ScoreSnapshot
from grading.pipeline import partitions
from grading.services.runs import grading_run_execute
from grading.services.snapshots import snapshots_retain
from tests.customers.factories import CustomerFactory
from tests.grading.factories import orders_for

MONTHS = [dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1)]
#: Every column but the keys the database numbers.
COLUMNS = [
    f.column for f in ScoreSnapshot._meta.concrete_fields if f.column not in ("id", "run_id")
]

postgresql = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="partitions are PostgreSQL's"
)


def _population(n=12):
    for i in range(n):
        customer = CustomerFactory(code=f"S{i:02d}")
        orders_for(
            customer,
            *[
                (MONTHS[0] - dt.timedelta(days=3 + 7 * j + i), str(40 + 15 * i))
                for j in range(i % 4)
            ],
            (MONTHS[-1] - dt.timedelta(days=2 + i), str(90 + i)),
        )


def _rows(run):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(COLUMNS)} FROM grading_scoresnapshot WHERE run_id = %s"
            " ORDER BY customer_id",
            [run.pk],
        )
        return cursor.fetchall()


def _lose_writes(*, exclude):
    """Undo what an interrupted write of every customer but `exclude` had done."""
    for model in (ScoreSnapshot, GradeAuditEntry, GradeChange, CustomerGrade):
        model.objects.exclude(customer_id=exclude).delete()


def _csv(run, tmp_path, name):
    frame, _ = score_export_frame(as_of=run.as_of, scheme=run.scheme)
    path = Path(tmp_path) / name
    frame.to_csv(path, index=False)
    return path.read_bytes()


@pytest.fixture
def archive_dir(settings, tmp_path):
    settings.GRADING_SNAPSHOT_ARCHIVE_DIR = str(tmp_path / "archive")
    return tmp_path / "archive"


@postgresql
@pytest.mark.django_db
def test_a_run_loads_its_own_partition_and_attaches_it_indexed():
    _population()

    run = grading_run_execute(as_of=MONTHS[-1])

    table = partitions.partition_name(run.pk)
    assert partitions.partition_runs() == [run.pk]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [table])
        indexes = sorted(row[0].split(" USING ")[1] for row in cursor.fetchall())
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'c'",
            [table],
        )
        checks = cursor.fetchone()[0]
    assert indexes == [
        "btree (customer_id, run_id)",
        "btree (id, run_id)",
        "btree (run_id, customer_id)",
    ]
    assert checks == 0  # the CHECK that spared the attach its scan is gone
    assert ScoreSnapshot.objects.filter(run=run).count() == 12 == run.scored


@postgresql
@pytest.mark.django_db
def test_the_partition_holds_the_same_rows_as_inserting_through_the_table(monkeypatch):
    _population()

    # The new way, in a transaction undone afterwards (the run and its partition with it).
    with transaction.atomic():
        fresh = _rows(grading_run_execute(as_of=MONTHS[-1]))
        transaction.set_rollback(True)
    assert not GradingRun.objects.exists()
    # The old way: every row through the (partitioned) table with ON CONFLICT DO NOTHING.
    monkeypatch.setattr(partitions, "partition_fresh", lambda run_id: None)
    monkeypatch.setattr(GradingRun, "save", _ensuring_partition(GradingRun.save), raising=True)
    through = _rows(grading_run_execute(as_of=MONTHS[-1]))

    assert len(fresh) == 12
    assert fresh == through


def _ensuring_partition(save):
    def wrapped(self, *args, **kwargs):
        save(self, *args, **kwargs)
        partitions.partition_ensure(self.pk)

    return wrapped


@postgresql
@pytest.mark.django_db
def test_a_failed_write_leaves_no_partition_and_the_rerun_converges(monkeypatch):
    _population()

    def crash(run_id):
        raise RuntimeError("the process died while indexing")

    monkeypatch.setattr(partitions, "partition_attach", crash)
    with pytest.raises(RuntimeError):
        grading_run_execute(as_of=MONTHS[-1])
    run = GradingRun.objects.get()
    assert not partitions.partition_exists(run.pk)  # the CREATE TABLE rolled back with the rest
    monkeypatch.undo()

    again = grading_run_execute(as_of=MONTHS[-1])

    assert again.status == GradingRun.Status.SUCCEEDED
    assert partitions.partition_runs() == [run.pk]
    assert ScoreSnapshot.objects.filter(run=run).count() == 12


@postgresql
@pytest.mark.django_db
def test_a_partition_made_outside_the_run_transaction_would_survive_the_failure(monkeypatch):
    """Mutant twin of the test above: with the partition created on a connection of its own
    (committed at once, not in the run's transaction), the failed run leaves it behind, which
    the test above would catch."""
    _population(2)
    other = connections.create_connection("default")

    def outside(run_id):
        with other.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE {partitions.partition_name(run_id)}"
                " (LIKE grading_scoresnapshot INCLUDING DEFAULTS)"
            )
        other.commit()
        return partitions.partition_name(run_id)

    monkeypatch.setattr(partitions, "partition_fresh", outside)
    monkeypatch.setattr(partitions, "partition_attach", lambda run_id: 1 / 0)
    try:
        with pytest.raises(ZeroDivisionError):
            grading_run_execute(as_of=MONTHS[-1])
        run = GradingRun.objects.get()
        assert partitions.partition_exists(run.pk)
    finally:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relname LIKE 'grading_scoresnapshot_r%'"
            )
            for (name,) in cursor.fetchall():
                if not name.endswith(("_pkey", "_once", "_customer")):
                    cursor.execute(f"DROP TABLE IF EXISTS {name}")
        other.commit()
        other.close()


@postgresql
@pytest.mark.django_db
def test_a_run_whose_partition_exists_writes_through_the_table_and_skips_written_rows():
    _population()
    run = grading_run_execute(as_of=MONTHS[-1])
    before = _rows(run)
    kept = ScoreSnapshot.objects.filter(run=run).order_by("customer_id").first()
    _lose_writes(exclude=kept.customer_id)
    GradingRun.objects.filter(pk=run.pk).update(status=GradingRun.Status.FAILED)

    again = grading_run_execute(as_of=MONTHS[-1])

    assert again.status == GradingRun.Status.SUCCEEDED
    assert _rows(again) == before


def _change_inserts(queries):
    return [q["sql"] for q in queries if "INSERT INTO grading_gradechange" in q["sql"]]


def _resumed_with_one_change_kept():
    """A first run, then everything of it undone but one customer's change and audit row
    (their snapshot and grade state too, so the resumed run assigns them again); the run
    marked failed. Its partition stays (empty)."""
    _population()
    with CaptureQueriesContext(connection) as first:
        run = grading_run_execute(as_of=MONTHS[-1])
    kept = GradeChange.objects.filter(run=run).order_by("customer_id").first().customer_id
    _lose_writes(exclude=kept)
    ScoreSnapshot.objects.filter(customer_id=kept).delete()
    CustomerGrade.objects.filter(customer_id=kept).delete()
    GradingRun.objects.filter(pk=run.pk).update(status=GradingRun.Status.FAILED)
    return run, _change_inserts(first.captured_queries)


@postgresql
@pytest.mark.django_db
def test_a_first_write_inserts_changes_plainly_and_a_resumed_run_skips_those_it_wrote():
    """The run that makes its partition inserts its changes without ON CONFLICT (none of
    its rows can exist); a resumed run, whose partition exists, skips the changes it wrote
    before: one change and one audit row per customer."""
    run, first_inserts = _resumed_with_one_change_kept()

    with CaptureQueriesContext(connection) as again_queries:
        again = grading_run_execute(as_of=MONTHS[-1])

    assert [("ON CONFLICT" in sql) for sql in first_inserts] == [False]
    assert [("ON CONFLICT" in sql) for sql in _change_inserts(again_queries)] == [True]
    assert (again.pk, again.status) == (run.pk, GradingRun.Status.SUCCEEDED)
    changes = GradeChange.objects.filter(run=again)
    assert changes.count() == changes.values("customer").distinct().count() == 12
    assert GradeAuditEntry.objects.filter(run=again).count() == 12


@postgresql
@pytest.mark.django_db
def test_a_resumed_run_inserting_changes_plainly_would_fail(monkeypatch):
    """Mutant twin of the test above: a run whose partition exists must skip conflicts."""
    from grading.pipeline.backends import postgresql as backend

    _resumed_with_one_change_kept()
    original = backend.changes_insert
    monkeypatch.setattr(
        backend,
        "changes_insert",
        lambda *args, **kwargs: original(*args, **{**kwargs, "first_write": True}),
    )

    with pytest.raises(DatabaseError, match="change_once_per_run"):
        grading_run_execute(as_of=MONTHS[-1])


@postgresql
@pytest.mark.django_db
def test_without_the_existence_check_a_resumed_run_would_fail(monkeypatch):
    """Mutant twin of the test above: the check that sends a run with a partition through the
    table is what keeps a resumed run working."""
    _population()
    run = grading_run_execute(as_of=MONTHS[-1])
    _lose_writes(exclude=None)
    GradingRun.objects.filter(pk=run.pk).update(status=GradingRun.Status.FAILED)
    monkeypatch.setattr(partitions, "_exists", lambda table: False)

    with pytest.raises(DatabaseError, match="already exists"):
        grading_run_execute(as_of=MONTHS[-1])


@pytest.mark.django_db
def test_retention_archives_old_runs_and_exports_read_the_archive_identically(
    archive_dir, tmp_path
):
    _population()
    runs = [grading_run_execute(as_of=as_of) for as_of in MONTHS]
    exported = {run.pk: _csv(run, tmp_path, f"before-{run.pk}.csv") for run in runs}
    rows = {run.pk: ScoreSnapshot.objects.filter(run=run).count() for run in runs}

    with CaptureQueriesContext(connection) as queries:
        retained = snapshots_retain(by="command", hot_periods=2)

    assert [r.run_id for r in retained] == [runs[0].pk]
    old = GradingRun.objects.get(pk=runs[0].pk)
    assert old.snapshots_archived_at is not None
    assert old.snapshots_archived_by == "command"
    assert old.snapshots_archived_rows == rows[old.pk] == 12
    assert (
        Path(old.snapshots_archive)
        == archive_dir / f"scheme-{old.scheme_id}" / f"run-{old.pk}.parquet"
    )
    assert not ScoreSnapshot.objects.filter(run=old).exists()
    assert ScoreSnapshot.objects.filter(run_id=runs[1].pk).count() == rows[runs[1].pk]
    statements = [q["sql"].lstrip().upper() for q in queries.captured_queries]
    if connection.vendor == "postgresql":
        # O(1): the partition is detached and dropped; no row is deleted one by one.
        assert not [sql for sql in statements if sql.startswith("DELETE")]
        assert any(sql.startswith("ALTER TABLE GRADING_SCORESNAPSHOT DETACH") for sql in statements)
        assert partitions.partition_runs() == [runs[1].pk, runs[2].pk]
    for run in runs:
        assert _csv(run, tmp_path, f"after-{run.pk}.csv") == exported[run.pk]
    # Idempotent: nothing left to archive.
    assert snapshots_retain(by="command", hot_periods=2) == []


@pytest.mark.django_db
def test_retention_without_archive_drops_and_the_export_says_so(archive_dir):
    _population(4)
    runs = [grading_run_execute(as_of=as_of) for as_of in MONTHS]

    retained = snapshots_retain(by="beat", hot_periods=1, archive=False)

    assert [r.run_id for r in retained] == [runs[0].pk, runs[1].pk]
    assert all(r.archive == "" and r.rows == 4 for r in retained)
    assert not archive_dir.exists()
    with pytest.raises(Exception, match="dropped by retention"):
        score_export_frame(as_of=MONTHS[0], scheme=runs[0].scheme)


@pytest.mark.django_db
def test_keeping_every_period_and_a_dry_run_change_nothing(archive_dir, capsys):
    _population(3)
    for as_of in MONTHS:
        grading_run_execute(as_of=as_of)

    assert snapshots_retain(by="command") == []  # GRADING_SNAPSHOT_HOT_PERIODS = 0
    call_command("snapshots_retain", "--dry-run", "--hot-periods", "1")

    out = capsys.readouterr().out
    assert "2 runs past the last 1 periods." in out
    assert "3 snapshots would leave the database" in out
    assert ScoreSnapshot.objects.count() == 9
    assert not GradingRun.objects.filter(snapshots_archived_at__isnull=False).exists()


@pytest.mark.django_db
def test_the_command_archives_and_export_scores_reads_the_archive(archive_dir, tmp_path, capsys):
    _population(3)
    for as_of in MONTHS:
        grading_run_execute(as_of=as_of)
    before = tmp_path / "before.csv"
    call_command("export_scores", "--as-of", MONTHS[0].isoformat(), "--output", str(before))

    call_command("snapshots_retain", "--hot-periods", "2")
    after = tmp_path / "after.csv"
    call_command("export_scores", "--as-of", MONTHS[0].isoformat(), "--output", str(after))

    assert "1 runs past the last 2 periods." in capsys.readouterr().out
    assert after.read_bytes() == before.read_bytes()
    assert len(after.read_text().splitlines()) == 4


@pytest.mark.django_db
def test_the_admin_says_where_the_snapshots_are_and_serves_the_archive(
    client, ops, archive_dir, tmp_path
):
    _population(3)
    runs = [grading_run_execute(as_of=as_of) for as_of in MONTHS]
    expected = _csv(runs[0], tmp_path, "before.csv")
    snapshots_retain(by="command", hot_periods=2)
    client.force_login(ops)
    page = lambda run: client.get(f"/admin/grading/gradingrun/{run.pk}/change/")  # noqa: E731

    assert "In the database" in page(runs[1]).content.decode()
    archived = page(runs[0]).content.decode()
    assert "the scores left the database for a Parquet file (customers: 3)" in archived
    download = client.get(f"/admin/grading/gradingrun/{runs[0].pk}/snapshots/?format=csv")
    assert download.status_code == 200
    body = b"".join(download.streaming_content)
    assert body.replace(b"\r\n", b"\n") == b"\xef\xbb\xbf" + expected
    xlsx = client.get(f"/admin/grading/gradingrun/{runs[0].pk}/snapshots/?format=xlsx")
    assert xlsx.status_code == 200
    assert client.get(f"/admin/grading/gradingrun/{runs[1].pk}/snapshots/").status_code == 404
    change = GradeChange.objects.filter(run=runs[0]).first()
    explained = client.get(f"/admin/grading/gradechange/{change.pk}/change/").content.decode()
    assert "moved out of the database by retention" in explained
    assert "was not made by a grading run" not in explained


@pytest.mark.django_db
def test_a_detach_that_times_out_leaves_the_run_hot_for_next_time(archive_dir, monkeypatch):
    _population(3)
    runs = [grading_run_execute(as_of=as_of) for as_of in MONTHS]

    def busy(run_id):
        raise OperationalError("canceling statement due to lock timeout")

    monkeypatch.setattr(partitions, "partition_drop", busy)
    assert snapshots_retain(by="beat", hot_periods=2) == []
    assert ScoreSnapshot.objects.filter(run=runs[0]).count() == 3
    assert GradingRun.objects.get(pk=runs[0].pk).snapshots_archived_at is None
    monkeypatch.undo()

    assert [r.run_id for r in snapshots_retain(by="beat", hot_periods=2)] == [runs[0].pk]
