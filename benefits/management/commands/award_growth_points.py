"""`award_growth_points [--today YYYY-MM-DD]`: credit growth points for completed tasks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from benefits.services.growth import growth_task_award, growth_task_list_active


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--today: {value!r} is not a date (YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = "Credit growth points for tasks completed up to a day (safe to re-run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", type=iso_date, help="default: today (project time)")

    def handle(self, *args: Any, **options: Any) -> None:
        today = options["today"] or timezone.localdate()
        credited = 0
        tasks = growth_task_list_active()
        for task in tqdm(
            tasks, desc="growth tasks", unit="task", disable=None, file=self.stderr._out
        ):
            credited += growth_task_award(task=task, today=today)
        self.stdout.write(f"{credited} credit(s) for {len(tasks)} task(s) up to {today}.")
