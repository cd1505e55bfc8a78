"""`seed_demo --customers N`: fill TierHub with realistic, seeded demo data.

A thin interface over `customers.services.demo.demo_seed`: it parses the options, draws
progress bars on stderr and prints one summary line.
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
}


def _iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("%(value)r is not a date in the form YYYY-MM-DD.") % {"value": value}
        ) from None


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
        "customers with orders and engagement history."
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
                    "seconds": time.monotonic() - started,
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
