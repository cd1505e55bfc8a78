"""`manage.py facts_rebuild [--chunk N]`: build every customer's facts again (PostgreSQL).

After a change of TIME_ZONE or of the counted statuses, or to repair: until it has run, the
grading runs read the orders (docs/grading.md, "Customer facts").
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from tqdm import tqdm

from customers import facts
from customers.models import Customer


class Command(BaseCommand):
    help = (
        "Build the customer facts (monthly buckets of each customer's counted orders and of "
        "their engagement) again from the orders and the engagement tables, in the project's "
        "time zone. PostgreSQL only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--chunk",
            type=int,
            default=facts.REBUILD_CHUNK,
            help="customer ids per statement (default %(default)s)",
        )

    def handle(self, *args: Any, chunk: int, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Customer facts are kept on PostgreSQL only; nothing to build.")
        if chunk < 1:
            raise CommandError(f"--chunk: {chunk} is not a positive number of customers")
        span = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        low = Customer.objects.order_by("pk").values_list("pk", flat=True).first() or 0
        with tqdm(total=span - low + 1, unit=" ids", disable=None, file=self.stderr._out) as bar:
            buckets = facts.facts_rebuild(
                chunk=chunk, progress=lambda done: bar.update(done - bar.n)
            )
        self.stdout.write(f"Built {buckets:,} customer-month buckets (orders and engagement).")
