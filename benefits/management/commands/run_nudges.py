"""`run_nudges [--today YYYY-MM-DD]`: run the enabled nudge rules once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from tqdm import tqdm

from benefits.management.commands.award_growth_points import iso_date
from benefits.services.nudges import nudge_rule_list_enabled, nudge_rule_run


class Command(BaseCommand):
    help = "Run the enabled nudge rules for a day; a nudge never fires twice (safe to re-run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", type=iso_date, help="default: today (project time)")

    def handle(self, *args: Any, **options: Any) -> None:
        today = options["today"] or timezone.localdate()
        rules = nudge_rule_list_enabled()
        fired = {}
        for rule in tqdm(
            rules, desc="nudge rules", unit="rule", disable=None, file=self.stderr._out
        ):
            fired[rule.code] = nudge_rule_run(rule=rule, today=today)
        summary = ", ".join(f"{code}: {n}" for code, n in fired.items()) or "no rule enabled"
        self.stdout.write(f"Nudges for {today}: {summary}.")
