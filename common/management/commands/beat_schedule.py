"""`beat_schedule [--reset]`: create the periodic jobs declared in common/schedule.py."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from common.schedule import BEAT_SCHEDULE, beat_schedule_sync


class Command(BaseCommand):
    help = (
        "Create the periodic jobs that are missing from the beat schedule (idempotent); "
        "--reset puts the declared times back on the existing ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset", action="store_true", help="restore the declared task, time and text"
        )

    def handle(self, *args: Any, reset: bool, **options: Any) -> None:
        created = beat_schedule_sync(reset=reset)
        for name in created:
            self.stdout.write(f"Created: {name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(BEAT_SCHEDULE)} periodic jobs declared, {len(created)} created"
                + (", the others reset." if reset else ".")
            )
        )
