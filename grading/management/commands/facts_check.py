"""`manage.py facts_check --as-of YYYY-MM-DD [--scheme NAME]`: compare the facts a run reads
from the customer facts with those read from the orders, customer by customer.

Exit status 1 when any differs (docs/grading.md, "Customer facts").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser

from grading.management.commands.run_grading import iso_date
from grading.pipeline import extract
from grading.pipeline.backends import current
from grading.pipeline.rules import scheme_rules
from grading.selectors import scheme_get_active, scheme_get_by_name

#: Differences printed before "... and N more".
MAX_SHOWN = 50


class Command(BaseCommand):
    help = (
        "Compare each customer's facts read from the customer facts kept as orders arrive "
        "with those read from the orders; exit 1 if any differs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=iso_date, required=True, help="the run's as_of")
        parser.add_argument("--scheme", help="scheme name (default: the active scheme)")

    def handle(self, *args: Any, **options: Any) -> None:
        reason = current().facts_unusable()
        if reason is not None:
            raise CommandError(f"Nothing to check: {reason}.")
        scheme = scheme_get_by_name(options["scheme"]) if options["scheme"] else scheme_get_active()
        params = scheme_rules(scheme).params
        as_of = options["as_of"]
        kept = extract.extract_facts(as_of=as_of, params=params)
        orders = extract.extract_facts(as_of=as_of, params=params, from_orders=True)
        differences = facts_differences(kept, orders)
        for line in differences[:MAX_SHOWN]:
            self.stdout.write(line)
        if len(differences) > MAX_SHOWN:
            self.stdout.write(f"... and {len(differences) - MAX_SHOWN} more")
        if differences:
            self.stderr.write(f"{len(differences)} differences as of {as_of}.")
            raise SystemExit(1)
        self.stdout.write(f"{len(kept):,} customers: the same facts both ways as of {as_of}.")


def facts_differences(kept: pd.DataFrame, orders: pd.DataFrame) -> list[str]:
    """One line per (customer, fact) that differs, exactly (NaN equals NaN, NA equals NA)."""
    lines = [
        f"customer {pk}: only in the {side}"
        for side, extra in (
            ("customer facts", kept.index.difference(orders.index)),
            ("orders", orders.index.difference(kept.index)),
        )
        for pk in extra
    ]
    common = kept.index.intersection(orders.index)
    for column in orders.columns:
        left = kept.loc[common, column] if column in kept else pd.Series(index=common)
        right = orders.loc[common, column]
        same = (left == right).fillna(False).to_numpy(dtype=bool) | (
            left.isna().to_numpy() & right.isna().to_numpy()
        )
        lines.extend(
            f"customer {pk}: {column} is {left[pk]} from the customer facts,"
            f" {right[pk]} from the orders"
            for pk in common[np.flatnonzero(~same)]
        )
    return lines
