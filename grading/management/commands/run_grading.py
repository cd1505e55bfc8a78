"""`run_grading --as-of YYYY-MM-DD [--scheme NAME] [--from-orders]`: grade the population for one
period (`--from-orders`: from the orders, not the customer facts; docs/grading.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from common.exceptions import DomainError
from grading.models import GradingRun
from grading.selectors import scheme_get_active, scheme_get_by_name
from grading.services.as_of import grading_run_as_of_validate
from grading.services.runs import grading_run_execute
from grading.services.schedule import period_as_of


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--as-of: {value!r} is not a date (YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = "Grade every active customer as of a date (the first day after the period)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of",
            type=iso_date,
            help="default: the latest ended period; today (local date) at the latest",
        )
        parser.add_argument("--scheme", help="scheme name (default: the active scheme)")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="do nothing when any successful run exists (used by `make run`)",
        )
        parser.add_argument(
            "--from-orders",
            action="store_true",
            help="read the orders, not the customer facts kept as they arrive (one process)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if (
            options["if_missing"]
            and GradingRun.objects.filter(status=GradingRun.Status.SUCCEEDED).exists()
        ):
            self.stdout.write("A grading run exists already; nothing to do.")
            return
        as_of = options["as_of"] or period_as_of(timezone.localdate())
        try:
            grading_run_as_of_validate(as_of=as_of)
            scheme = (
                scheme_get_by_name(options["scheme"]) if options["scheme"] else scheme_get_active()
            )
            self.stderr.write(f"Grading as of {as_of} with {scheme} ...")
            run = grading_run_execute(
                as_of=as_of,
                scheme=scheme,
                triggered_by="command",
                from_orders=options["from_orders"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if run.status != GradingRun.Status.SUCCEEDED:
            raise CommandError(f"Run {run.pk} is {run.status} (held by another process?).")
        self.stdout.write(
            f"Run {run.pk} ({run.as_of}): {run.scored} scored, {run.assigned} first grades, "
            f"{run.upgraded} upgraded, {run.warned} warned, {run.downgrade_proposals} downgrade "
            f"proposals, {run.downgraded} downgraded, {run.pinned} pinned, "
            f"{run.unchanged} unchanged in {run.duration_seconds or 0:.1f} s."
        )
