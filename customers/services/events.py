"""Bulk ingest of engagement events (campaign invitations, referrals, complaints, reviews,
service tickets) from files or API bodies: validated in memory, all rows or none.

Same contract as the order import: every bad row is reported with its line (or position)
and field, nothing is written when any row is bad, references (customer codes, order
numbers, campaign codes) are resolved with a few chunked queries, never one per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.models import (
    Campaign,
    CampaignInvitation,
    Complaint,
    Customer,
    Order,
    ProductReview,
    Referral,
    ServiceTicket,
)
from customers.services.imports import (
    ImportReport,
    RowChecker,
    RowError,
    ids_by_key,
    read_table_into,
    reject_if_errors,
)
from customers.signals import customers_written_in_bulk_send
from customers.tabular import Source

BATCH_SIZE = 2000


@dataclass(frozen=True)
class EventKind:
    """One kind of engagement event, declared once: the import, the API and the admin read it.

    `required` / `optional` are the columns of an import file or API row; `label` is what the
    admin's import page calls a table of them; `customer_path` and `date_field` say whose event
    it is and when it happened (what the API's lists filter on).
    """

    model: type[Model]
    label: str | Promise
    required: tuple[str, ...]
    optional: tuple[str, ...]
    #: The lookup from the event to its customer (a referral belongs to the referrer).
    customer_path: str = "customer"
    #: The moment the event happened.
    date_field: str = "created_at"
    #: Relations a list of them joins besides the customer.
    related: tuple[str, ...] = ()


#: Every engagement event kind, by the key used in URLs (/api/events/<key>/) and imports.
KINDS: dict[str, EventKind] = {
    "complaints": EventKind(
        Complaint,
        gettext_lazy("complaints"),
        ("customer_code",),
        ("created_at", "severity", "description", "order_no"),
    ),
    "reviews": EventKind(
        ProductReview,
        gettext_lazy("product reviews"),
        ("customer_code", "rating"),
        ("created_at", "text", "order_no"),
    ),
    "tickets": EventKind(
        ServiceTicket,
        gettext_lazy("service tickets"),
        ("customer_code", "subject"),
        ("opened_at", "first_response_at", "closed_at", "priority"),
        date_field="opened_at",
    ),
    "invitations": EventKind(
        CampaignInvitation,
        gettext_lazy("campaign invitations"),
        ("customer_code", "campaign", "invited_at"),
        ("joined_at",),
        date_field="invited_at",
        related=("campaign",),
    ),
    "referrals": EventKind(
        Referral,
        gettext_lazy("referrals"),
        ("referrer_code",),
        ("referred_code", "referred_name", "created_at"),
        customer_path="referrer",
        related=("referred",),
    ),
}


def events_import(
    *,
    kind: str,
    source: Source,
    filename: str = "request",
    dry_run: bool = False,
    by: AbstractBaseUser | None = None,
    date_order: str = "",
) -> ImportReport:
    """Create engagement events of `kind` (a key of `KINDS`) from a table; all or nothing.

    Raises ImportRejected with every bad row when any row is bad. Timestamps default to now;
    naive ones are in the project time zone; one more than ORDER_FUTURE_TOLERANCE_HOURS
    after now is a bad row (events have happened, like orders).
    """
    spec = KINDS[kind]
    report = ImportReport(dry_run=dry_run)
    checker = RowChecker(report, spec.model, date_order=date_order)  # type: ignore[arg-type]
    parsed: list[tuple[int, dict[str, Any]]] = []
    now = timezone.now()

    def parse(line: int, values: dict[str, str]) -> None:
        row = _PARSERS[kind](checker, line, values, now)
        if row is not None:
            parsed.append((line, row))

    read_table_into(source, filename, spec.required, spec.optional, parse, report, None)
    references = _resolve(kind, parsed, report)
    reject_if_errors(report)
    objects = [spec.model(**_bind(row, references)) for _, row in parsed]
    report.created = len(objects)
    if not dry_run:
        with transaction.atomic():
            spec.model.objects.bulk_create(objects, batch_size=BATCH_SIZE)  # type: ignore[attr-defined]
            customers_written_in_bulk_send(
                model=spec.model,
                customer_ids=(getattr(o, f"{spec.customer_path}_id") for o in objects),
            )
    return report


# --- per-kind row parsers: shape and in-row rules; references are resolved afterwards ----


def _customer(checker: RowChecker, line: int, values: dict[str, str], column: str) -> Any:
    return checker.text(line, values, column, required=True, model_field=_CODE_FIELD)


def _parse_complaint(
    checker: RowChecker, line: int, values: dict[str, str], now: dt.datetime
) -> dict[str, Any]:
    return {
        "customer": _customer(checker, line, values, "customer_code"),
        "created_at": checker.moment(line, values, "created_at", past=True) or now,
        "severity": checker.choice(line, values, "severity", Complaint.Severity)
        or Complaint.Severity.LOW,
        "description": values.get("description", ""),
        "order": values.get("order_no") or None,
    }


def _parse_review(
    checker: RowChecker, line: int, values: dict[str, str], now: dt.datetime
) -> dict[str, Any]:
    rating_text = values.get("rating", "")
    rating = int(rating_text) if rating_text.isdigit() else None
    if rating is None or not 1 <= rating <= 5:
        checker.error(
            line, "rating", _("'%(value)s' is not a rating from 1 to 5") % {"value": rating_text}
        )
    return {
        "customer": _customer(checker, line, values, "customer_code"),
        "rating": rating,
        "created_at": checker.moment(line, values, "created_at", past=True) or now,
        "text": values.get("text", ""),
        "order": values.get("order_no") or None,
    }


def _parse_ticket(
    checker: RowChecker, line: int, values: dict[str, str], now: dt.datetime
) -> dict[str, Any]:
    opened = checker.moment(line, values, "opened_at", past=True) or now
    first_response = checker.moment(line, values, "first_response_at", past=True)
    closed = checker.moment(line, values, "closed_at", past=True)
    for column, moment in (("first_response_at", first_response), ("closed_at", closed)):
        if moment is not None and moment < opened:
            checker.error(line, column, _("must not be before opened_at"))
    return {
        "customer": _customer(checker, line, values, "customer_code"),
        "subject": checker.text(line, values, "subject", required=True),
        "priority": checker.choice(line, values, "priority", ServiceTicket.Priority)
        or ServiceTicket.Priority.NORMAL,
        "opened_at": opened,
        "first_response_at": first_response,
        "closed_at": closed,
    }


def _parse_invitation(
    checker: RowChecker, line: int, values: dict[str, str], now: dt.datetime
) -> dict[str, Any]:
    invited = checker.moment(line, values, "invited_at", required=True, past=True)
    joined = checker.moment(line, values, "joined_at", past=True)
    if invited is not None and joined is not None and joined < invited:
        checker.error(line, "joined_at", _("must not be before invited_at"))
    return {
        "customer": _customer(checker, line, values, "customer_code"),
        "campaign": values.get("campaign") or None,
        "invited_at": invited,
        "joined_at": joined,
    }


def _parse_referral(
    checker: RowChecker, line: int, values: dict[str, str], now: dt.datetime
) -> dict[str, Any]:
    referrer = _customer(checker, line, values, "referrer_code")
    referred = values.get("referred_code") or None
    if referred is not None and referred == referrer:
        checker.error(line, "referred_code", _("a customer cannot refer themselves"))
    if referred is None and not values.get("referred_name"):
        checker.error(line, "referred_name", _("give referred_code or referred_name"))
    return {
        "referrer": referrer,
        "referred": referred,
        "referred_name": values.get("referred_name", "")[:200],
        "created_at": checker.moment(line, values, "created_at", past=True) or now,
    }


_CODE_FIELD = Customer._meta.get_field("code")
_PARSERS: dict[str, Callable[..., dict[str, Any] | None]] = {
    "complaints": _parse_complaint,
    "reviews": _parse_review,
    "tickets": _parse_ticket,
    "invitations": _parse_invitation,
    "referrals": _parse_referral,
}
#: Row key -> (model, lookup field, error column) of the references to resolve.
_REFERENCES: dict[str, tuple[type[Model], str, str]] = {
    "customer": (Customer, "code", "customer_code"),
    "referrer": (Customer, "code", "referrer_code"),
    "referred": (Customer, "code", "referred_code"),
    "order": (Order, "order_no", "order_no"),
    "campaign": (Campaign, "code", "campaign"),
}


def _resolve(
    kind: str, parsed: list[tuple[int, dict[str, Any]]], report: ImportReport
) -> dict[str, dict[str, int]]:
    """Look up every referenced code in bulk; report the unknown ones by line."""
    found: dict[str, dict[str, int]] = {}
    for key, (model, field, column) in _REFERENCES.items():
        wanted = sorted({row[key] for _, row in parsed if row.get(key)})
        if not wanted:
            continue
        found[key] = ids_by_key(model, field, wanted)  # type: ignore[arg-type]
        for line, row in parsed:
            value = row.get(key)
            if value and value not in found[key]:
                report.errors.append(
                    RowError(line, column, _("'%(value)s' does not exist") % {"value": value})
                )
    if kind == "invitations":
        _check_unique_pairs(parsed, found, report)
    if kind == "referrals":
        _check_referred_once(parsed, found, report)
    report.errors.sort(key=lambda error: error.line)
    return found


def _check_unique_pairs(
    parsed: list[tuple[int, dict[str, Any]]], found: dict[str, dict[str, int]], report: ImportReport
) -> None:
    """A customer is invited to a campaign once: in the file and in the database."""
    pairs: dict[tuple[int, int], int] = {}
    for line, row in parsed:
        campaign = found.get("campaign", {}).get(row.get("campaign") or "")
        customer = found.get("customer", {}).get(row.get("customer") or "")
        if campaign is None or customer is None:
            continue
        first = pairs.setdefault((campaign, customer), line)
        if first != line:
            report.errors.append(
                RowError(line, "campaign", _("duplicate of line %(first)d") % {"first": first})
            )
    existing = CampaignInvitation.objects.filter(
        campaign_id__in={c for c, _ in pairs}, customer_id__in={c for _, c in pairs}
    ).values_list("campaign_id", "customer_id")
    for pair in existing:
        if pair in pairs:
            report.errors.append(
                RowError(pairs[pair], "campaign", _("this customer was already invited"))
            )


def _check_referred_once(
    parsed: list[tuple[int, dict[str, Any]]], found: dict[str, dict[str, int]], report: ImportReport
) -> None:
    """A customer can have been referred by one customer only."""
    referred: dict[int, int] = {}
    for line, row in parsed:
        target = found.get("referred", {}).get(row.get("referred") or "")
        if target is None:
            continue
        first = referred.setdefault(target, line)
        if first != line:
            report.errors.append(
                RowError(line, "referred_code", _("duplicate of line %(first)d") % {"first": first})
            )
    taken = Referral.objects.filter(referred_id__in=list(referred)).values_list(
        "referred_id", flat=True
    )
    for target in taken:
        report.errors.append(
            RowError(referred[target], "referred_code", _("was already referred by someone"))
        )


def _bind(row: dict[str, Any], references: dict[str, dict[str, int]]) -> dict[str, Any]:
    bound = {}
    for key, value in row.items():
        if key in _REFERENCES:
            bound[f"{key}_id"] = references[key][value] if value else None
        else:
            bound[key] = value
    return bound
