"""Snapshot retention: the last N periods stay in the database, older runs' snapshots leave it.

`snapshots_retain` keeps the snapshots of each scheme's last `GRADING_SNAPSHOT_HOT_PERIODS`
succeeded runs and, for every older run, writes them to a Parquet file (`grading.archive`,
unless `GRADING_SNAPSHOT_ARCHIVE` is off) and then removes them: on PostgreSQL by detaching and
dropping the run's partition (O(1), no DELETE; `grading.pipeline.partitions`), on SQLite (or a
run whose rows are not in a partition of their own) by one DELETE of the run's rows. The run
row records when, by whom, where the file went and how many rows it holds: the audit trail, read
by the admin and by `grading.exports`. docs/operations.md, "Snapshots and retention".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from grading.archive import archive_write
from grading.models import GradingRun, ScoreSnapshot
from grading.pipeline import partitions

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetainedRun:
    """One run whose snapshots left (or, in a dry run, would leave) the database."""

    run_id: int
    label: str
    archive: str  # the Parquet file; "" when dropped unarchived (or a dry run)
    rows: int
    dropped_partition: bool  # True: detached and dropped; False: deleted row by row


def snapshots_expired(*, hot_periods: int) -> list[GradingRun]:
    """Return the succeeded runs past each scheme's last `hot_periods`, still hot, oldest first.

    `hot_periods` <= 0 keeps everything (an empty list).
    """
    if hot_periods <= 0:
        return []
    expired: list[GradingRun] = []
    succeeded = GradingRun.objects.filter(status=GradingRun.Status.SUCCEEDED).select_related(
        "scheme"
    )
    for scheme_id in succeeded.order_by().values_list("scheme_id", flat=True).distinct():
        runs = list(succeeded.filter(scheme_id=scheme_id).order_by("-as_of", "-id"))
        expired += [run for run in runs[hot_periods:] if run.snapshots_archived_at is None]
    return sorted(expired, key=lambda run: (run.as_of, run.pk))


def snapshots_retain(
    *,
    by: str,
    dry_run: bool = False,
    hot_periods: int | None = None,
    archive: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[RetainedRun]:
    """Archive (or drop) the snapshots of every run past the hot periods; return what left.

    Idempotent: a run whose snapshots left already is not selected again. Each run is its own
    step: the archive is written first (outside any transaction: a long read), then one
    transaction removes the rows and records the archive on the run (`snapshots_archived_*`,
    `by` the actor: a user name, "beat", "command"). A failure leaves the run hot and its
    archive file, if written, is written again next time. `progress(done, total)` is told
    after each run. Defaults: `GRADING_SNAPSHOT_HOT_PERIODS`, `GRADING_SNAPSHOT_ARCHIVE`.
    """
    hot = settings.GRADING_SNAPSHOT_HOT_PERIODS if hot_periods is None else hot_periods
    keep_file = settings.GRADING_SNAPSHOT_ARCHIVE if archive is None else archive
    runs = snapshots_expired(hot_periods=hot)
    retained: list[RetainedRun] = []
    for done, run in enumerate(runs, start=1):
        if dry_run:
            rows = ScoreSnapshot.objects.filter(run=run).count()
            retained.append(
                RetainedRun(run.pk, str(run), "", rows, partitions.partition_exists(run.pk))
            )
        else:
            try:
                retained.append(_run_retain(run, by=by, keep_file=keep_file))
            except OperationalError as error:
                # The detach timed out waiting for readers of the snapshot table: the run
                # stays hot (nothing of it was removed) and the next retention takes it.
                logger.warning("Retention left %s for next time: %s", run, error)
        if progress is not None:
            progress(done, len(runs))
    return retained


def _run_retain(run: GradingRun, *, by: str, keep_file: bool) -> RetainedRun:
    # Without a file, the rows are counted for the record (a read; the drop stays O(1)).
    path, rows = (
        archive_write(run) if keep_file else (None, ScoreSnapshot.objects.filter(run=run).count())
    )
    with transaction.atomic():
        locked = GradingRun.objects.select_for_update().get(pk=run.pk)
        if locked.snapshots_archived_at is not None:  # another process did it meanwhile
            return RetainedRun(run.pk, str(run), locked.snapshots_archive, 0, False)
        dropped = partitions.partition_drop(run.pk)
        if dropped:
            removed = rows
        else:
            removed, _ = ScoreSnapshot.objects.filter(run=run).delete()
        locked.snapshots_archived_at = timezone.now()
        locked.snapshots_archive = str(path) if path is not None else ""
        locked.snapshots_archived_rows = removed
        locked.snapshots_archived_by = by[:100]
        locked.save(
            update_fields=[
                "snapshots_archived_at",
                "snapshots_archive",
                "snapshots_archived_rows",
                "snapshots_archived_by",
            ]
        )
    return RetainedRun(
        run.pk, str(run), locked.snapshots_archive, locked.snapshots_archived_rows, dropped
    )
