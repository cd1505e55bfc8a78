"""`snapshots_retain [--dry-run] [--hot-periods N] [--drop]`: archive or drop the snapshots of runs
older than the last N periods (docs/operations.md, "Snapshots and retention")."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from grading.services.snapshots import snapshots_retain


class Command(BaseCommand):
    help = (
        "Archive to Parquet (or drop) the snapshots of each scheme's runs older than the last "
        "GRADING_SNAPSHOT_HOT_PERIODS periods."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list the runs, change nothing")
        parser.add_argument(
            "--hot-periods",
            type=int,
            help="periods kept in the database (default: GRADING_SNAPSHOT_HOT_PERIODS)",
        )
        parser.add_argument(
            "--drop",
            action="store_true",
            help="drop without writing the Parquet archive (default: GRADING_SNAPSHOT_ARCHIVE)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hot = options["hot_periods"]
        if hot is not None and hot < 1:
            raise CommandError(f"--hot-periods: {hot} keeps no period; give 1 or more")
        hot = settings.GRADING_SNAPSHOT_HOT_PERIODS if hot is None else hot
        if hot < 1:
            self.stdout.write(
                "GRADING_SNAPSHOT_HOT_PERIODS is 0: every run's snapshots stay; nothing to do."
            )
            return
        with tqdm(unit=" runs", disable=None, file=self.stderr._out) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            retained = snapshots_retain(
                by="command",
                dry_run=options["dry_run"],
                hot_periods=hot,
                archive=False if options["drop"] else None,
                progress=progress,
            )
        verb = "would leave" if options["dry_run"] else "left"
        for run in retained:
            where = run.archive or ("dropped" if not options["dry_run"] else "")
            self.stdout.write(f"{run.label}: {run.rows} snapshots {verb} the database {where}")
        self.stdout.write(f"{len(retained)} runs past the last {hot} periods.")
