"""`seed_demo --customers N [--months 12]`: fill TierHub with a lived-in, seeded demo.

A thin interface over two services: `customers.services.demo.demo_seed` (logins, categories,
campaigns, customers and their history of orders and engagement), then
`backoffice.demo.demo_history_seed` (a year of monthly grading runs and the operations
around them: reviews, appeals, follow-ups, redemptions; docs/operations.md, "The demo").
It lives in the back office because the history needs every domain app, which the customers
app may not import. It parses the options, draws progress bars on stderr and prints the
summary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from tqdm import tqdm

from backoffice.demo import DEMO_PERIODS, demo_history_seed
from common import formatting
from common.exceptions import DomainError
from customers.models import Customer
from customers.services.demo import demo_seed

STEP_LABELS = {
    "plan": gettext_lazy("Planning customers"),
    "staff": gettext_lazy("Staff logins"),
    "categories": gettext_lazy("Categories"),
    "campaigns": gettext_lazy("Campaigns"),
    "customers": gettext_lazy("Customers"),
    "orders": gettext_lazy("Orders"),
    "invitations": gettext_lazy("Invitations"),
    "referrals": gettext_lazy("Referrals"),
    "complaints": gettext_lazy("Complaints"),
    "reviews": gettext_lazy("Reviews"),
    "tickets": gettext_lazy("Service tickets"),
    "history": gettext_lazy("Monthly periods graded"),
}


def _iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("%(value)r is not a date in the form YYYY-MM-DD.") % {"value": value}
        ) from None


def _not_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(_("Must be 0 or more."))
    return number


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(_("Must be at least 1."))
    return number


class _ProgressBars:
    """One tqdm bar per step, on stderr; off automatically when stderr is not a terminal."""

    def __init__(self) -> None:
        self.step: str | None = None
        self.bar: tqdm | None = None

    def __call__(self, step: str, n: int) -> None:
        if step != self.step:
            self.close()
            self.step = step
            label = str(STEP_LABELS.get(step, step))
            self.bar = tqdm(
                desc=label, unit=" " + _("rows"), file=sys.stderr, disable=None, leave=True
            )
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar = None


class Command(BaseCommand):
    # Lazy, so `--help` speaks the active language; BaseCommand types it as a plain str.
    help = gettext_lazy(  # type: ignore[assignment]
        "Create realistic, seeded demo data: staff logins, categories, campaigns and N "
        "customers with orders and engagement history, then grade the last months and "
        "operate on the results (reviews, appeals, follow-ups, redemptions)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=_positive,
            required=True,
            help=_("How many demo customers to create."),
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=42,
            help=_("Random seed; the same seed and date give the same data."),
        )
        parser.add_argument(
            "--today",
            type=_iso_date,
            default=None,
            help=_("Pretend today is YYYY-MM-DD (default: the local date)."),
        )
        parser.add_argument(
            "--months",
            type=_not_negative,
            default=DEMO_PERIODS,
            help=_("Monthly periods to grade and operate on, up to today (0: customers only)."),
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help=_("Do nothing when any customer exists (for `make run`)."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and Customer.objects.exists():
            self.stdout.write(_("Customers already exist; no demo data created (--if-empty)."))
            return
        today = options["today"]
        if isinstance(today, str):  # call_command(..., today="YYYY-MM-DD") skips the parser
            today = _iso_date(today)
        bars = _ProgressBars()
        started = time.monotonic()
        try:
            summary = demo_seed(
                customers=options["customers"],
                seed=options["seed"],
                today=today,
                progress=bars,
            )
            seeded = time.monotonic()
            history = (
                demo_history_seed(
                    seed=options["seed"], today=today, periods=options["months"], progress=bars
                )
                if options["months"]
                else None
            )
        except DomainError as exc:
            raise CommandError(
                _("%(reason)s Nothing was written.") % {"reason": exc.message}
            ) from exc
        finally:
            bars.close()
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Demo data created in %(seconds).1f s: %(customers)d customers "
                    "(%(managed)d with an account manager), %(orders)d orders, "
                    "%(invitations)d campaign invitations, %(referrals)d referrals, "
                    "%(complaints)d complaints, %(reviews)d reviews, %(tickets)d service "
                    "tickets; new: %(staff)d staff logins, %(categories)d categories, "
                    "%(campaigns)d campaigns."
                )
                % {
                    "seconds": seeded - started,
                    "customers": summary.customers,
                    "managed": summary.managed_customers,
                    "orders": summary.orders,
                    "invitations": summary.invitations,
                    "referrals": summary.referrals,
                    "complaints": summary.complaints,
                    "reviews": summary.reviews,
                    "tickets": summary.tickets,
                    "staff": summary.staff_users,
                    "categories": summary.categories,
                    "campaigns": summary.campaigns,
                }
            )
        )
        if history is not None:
            self.stdout.write(
                self.style.SUCCESS(
                    _(
                        "History created in %(seconds)s: %(runs)s monthly grading runs, "
                        "%(approved)s downgrade proposals approved and %(rejected)s rejected, "
                        "%(pending)s waiting for review, %(appeals)s appeals, %(follow_ups)s "
                        "follow-ups, %(redemptions)s redemptions."
                    )
                    % {
                        "seconds": formatting.duration(time.monotonic() - seeded),
                        "runs": history.runs,
                        "approved": formatting.count(history.approved),
                        "rejected": formatting.count(history.rejected),
                        "pending": formatting.count(history.pending),
                        "appeals": formatting.count(history.appeals),
                        "follow_ups": formatting.count(history.follow_ups),
                        "redemptions": formatting.count(history.redemptions),
                    }
                )
            )
