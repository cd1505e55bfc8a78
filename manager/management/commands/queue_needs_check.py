"""Compare the manager queue's needs table with a full recomputation; `--rebuild` rewrites it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from manager.needs import queue_needs_diff, queue_needs_refresh


class Command(BaseCommand):
    help = (
        "Check that the manager queue's needs table equals a recomputation from scratch "
        "(exit status 1 if not); --rebuild recomputes every row first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="recompute every row first")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rebuild"]:
            written = queue_needs_refresh()
            self.stdout.write(f"rebuilt: {written} rows")
        count, examples = queue_needs_diff(now=timezone.now())
        for line in examples:
            self.stdout.write(line)
        if count:
            raise CommandError(f"{count} rows differ from a recomputation")
        self.stdout.write("queue needs: identical to a recomputation")
