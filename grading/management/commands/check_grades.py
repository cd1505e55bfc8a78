"""`check_grades`: verify grades, pins, audit history and run counters; list each violation.

Exits with status 1 when anything is found (docs/operations.md, "Checking grades").
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from grading.services.integrity import grades_check
from grading.services.runs import runs_fail_stale


class Command(BaseCommand):
    help = (
        "Check the invariants of grades and their history (pins hold, the latest audit entry "
        "names each customer's grade, run counters equal applied rows); exit 1 on any violation."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--run",
            type=int,
            action="append",
            dest="runs",
            help="check only this run's counters and rows (repeatable; default: every run)",
        )
        parser.add_argument(
            "--fail-stale",
            action="store_true",
            help="first mark runs left running by a process that is gone as failed",
        )

    def handle(self, *args: Any, runs: list[int] | None, fail_stale: bool, **options: Any) -> None:
        if fail_stale:
            for run in runs_fail_stale():
                self.stdout.write(f"Marked failed: {run} (its process is gone)")
        found = grades_check(run_ids=runs)
        for violation in found:
            self.stdout.write(f"[{violation.check}] {violation.message}")
        if found:
            self.stderr.write(self.style.ERROR(f"{len(found)} violations found."))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS("No violations found."))
