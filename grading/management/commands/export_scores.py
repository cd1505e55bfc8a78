"""`export_scores --as-of YYYY-MM-DD --output FILE.csv`: one row per customer."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.exceptions import DomainError
from grading.exports import score_export_frame
from grading.management.commands.run_grading import iso_date
from grading.selectors import scheme_get_active, scheme_get_by_name


class Command(BaseCommand):
    help = "Export every customer's scores and grade as of a date to CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=iso_date, required=True)
        parser.add_argument("--output", required=True, help="CSV file to write")
        parser.add_argument("--scheme", help="scheme name (default: the active scheme)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            scheme = (
                scheme_get_by_name(options["scheme"]) if options["scheme"] else scheme_get_active()
            )
            # An archived run's scores are read from its Parquet file (grading.exports).
            frame, source = score_export_frame(as_of=options["as_of"], scheme=scheme)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        try:
            frame.to_csv(options["output"], index=False)
        except OSError as exc:
            raise CommandError(f"--output: cannot write {options['output']}: {exc}") from exc
        self.stdout.write(f"Wrote {len(frame)} customers to {options['output']} ({source}).")
