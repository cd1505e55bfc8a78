"""The snapshot table's partitions on PostgreSQL: one per run (migration 0016).

A single-process run loads its snapshots into a new, unindexed table that only it can see
(`partition_fresh`), builds the indexes once at the end and attaches it (`partition_attach`):
a CHECK on `run_id`, declared before the load, spares the attach its validation scan. All of it
is DDL inside the run's transaction, so a run that fails leaves no table behind. A run whose
partition exists (a sharded run made it empty at its start, `partition_ensure`, or a run written
before) inserts through the parent. Retention detaches and drops a run's partition: O(1), no
DELETE (`partition_drop`). On SQLite, and on a PostgreSQL table that is not partitioned, every
function here is a no-op answering "no partitions" (docs/operations.md, "Snapshots and
retention").
"""

from __future__ import annotations

from django.db import connection

from grading.pipeline.tables import SNAPSHOTS

#: How long retention's detach may wait for the snapshot table's lock (`partition_drop`).
DETACH_LOCK_TIMEOUT = "10s"


def partition_name(run_id: int) -> str:
    """Return the table name of run `run_id`'s partition."""
    return f"{SNAPSHOTS}_r{int(run_id)}"


def partitioned() -> bool:
    """Return True when the snapshot table is partitioned (PostgreSQL after migration 0016)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [str(SNAPSHOTS)])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def _exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return bool(cursor.fetchone()[0])


def partition_exists(run_id: int) -> bool:
    """Return True when run `run_id` has a partition (attached or not)."""
    return partitioned() and _exists(partition_name(run_id))


def partition_ensure(run_id: int) -> bool:
    """Create and attach run `run_id`'s empty partition where it is missing; True if created.

    For writers that insert through the parent: a sharded run's shards, each in its own
    transaction (made once at the run's start, before any shard runs), and rows written by the
    ORM (test factories).
    """
    if not partitioned() or _exists(partition_name(run_id)):
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {partition_name(run_id)} PARTITION OF {SNAPSHOTS}"
            f" FOR VALUES IN ({int(run_id)})"
        )
    return True


def partition_fresh(run_id: int) -> str | None:
    """Create run `run_id`'s partition detached and unindexed; return its name.

    None when the run's rows go through the parent instead: the table is not partitioned, or
    the run has a partition already. The caller loads the new table, then calls
    `partition_attach` in the same transaction.
    """
    if not partitioned():
        return None
    table = partition_name(run_id)
    if _exists(table):
        return None
    with connection.cursor() as cursor:
        # LIKE takes the columns and the id default (the parent's sequence): rows number on
        # with everyone else's. The CHECK matches the partition bound, so the attach can prove
        # the rows belong without reading them; checking it per row on the load is cheap.
        cursor.execute(
            f"CREATE TABLE {table} (LIKE {SNAPSHOTS} INCLUDING DEFAULTS,"
            f" CONSTRAINT {table}_run CHECK (run_id IS NOT NULL AND run_id = {int(run_id)}))"
        )
    return table


def partition_attach(run_id: int) -> None:
    """Index the loaded partition of run `run_id` and attach it to the snapshot table.

    Each index is built once over the loaded rows (faster than keeping three indexes up to date
    row by row); the attach adopts them as the parent's partitioned indexes and, thanks to the
    CHECK, does not scan. It takes only a SHARE UPDATE EXCLUSIVE lock on the parent: readers of
    other runs' snapshots are not blocked.
    """
    table = partition_name(run_id)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id, run_id)")
        cursor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_once UNIQUE (run_id, customer_id)"
        )
        cursor.execute(f"CREATE INDEX {table}_customer ON {table} (customer_id, run_id)")
        cursor.execute(
            f"ALTER TABLE {SNAPSHOTS} ATTACH PARTITION {table} FOR VALUES IN ({int(run_id)})"
        )
        # The partition bound now says what the CHECK said.
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_run")


def partition_drop(run_id: int) -> bool:
    """Detach and drop run `run_id`'s partition, its rows with it; True if there was one.

    O(1) whatever the rows: catalogue changes and unlinking the files, no DELETE. Takes an
    ACCESS EXCLUSIVE lock on the parent for the moment of the detach.
    """
    table = partition_name(run_id)
    if not partitioned() or not _exists(table):
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s)"
            " AND inhparent = to_regclass(%s)",
            [table, str(SNAPSHOTS)],
        )
        if cursor.fetchone():
            # The detach waits for every query on the snapshot table and queues the ones that
            # come after it: give up after a while (retention tries again next time) rather
            # than stall the history pages behind a long report.
            cursor.execute(f"SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'")
            cursor.execute(f"ALTER TABLE {SNAPSHOTS} DETACH PARTITION {table}")
        cursor.execute(f"DROP TABLE {table}")
    return True


def partition_runs() -> list[int]:
    """Return the run ids that have an attached partition, ascending."""
    if not partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass(%s)",
            [str(SNAPSHOTS)],
        )
        prefix = f"{SNAPSHOTS}_r"
        return sorted(
            int(name[len(prefix) :])
            for (name,) in cursor.fetchall()
            if name.startswith(prefix) and name[len(prefix) :].isdigit()
        )
