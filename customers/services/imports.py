"""File imports of customers and orders (docs/architecture.md: "Interfaces", invariant 7).

An import is all or nothing: every row is validated first — shape in memory, then the
references (customers, orders, categories, account managers) with a few chunked ``__in``
queries — and only a file without a single error is written, in one transaction. The same
functions serve the management commands, the admin and the API.

Re-importing a key updates the row. Only the columns the file has are written, and a blank
optional cell keeps the stored value (a new row gets the column's default), so a partial
file never wipes data it does not mention.

What people type is accepted (docs/importing.md): a choice as its code or its label in any
site language ("end_customer", "End customer", "终端客户"); a date as ISO 8601, YYYY/MM/DD,
an Excel date cell, or day and month in the order the import is told (`date_order`, default
settings.IMPORT_DATE_ORDER: "dmy" or "mdy"; never guessed when both readings are dates).
A bad value is reported with the values that are accepted.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import connection, transaction
from django.db.models import BooleanField, Field, Model, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone, translation
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from common.exceptions import ConflictError
from customers.exceptions import ImportRejected
from customers.models import Category, Customer, Order
from customers.signals import customers_written_in_bulk_send, orders_written_send
from customers.tabular import UNNAMED_COLUMN, Source, Table, TableError, open_table

logger = logging.getLogger(__name__)

#: Keys per ``__in`` lookup: few round trips, and far below PostgreSQL's and SQLite's
#: (32766 since 3.32) parameter limits.
LOOKUP_CHUNK = 5000
#: Rows per INSERT/UPDATE statement; Django lowers it further on SQLite (999 parameters).
WRITE_BATCH = 2000
#: Rows between two progress callbacks.
PROGRESS_EVERY = 1000

CUSTOMER_REQUIRED = ("code", "name")
CUSTOMER_OPTIONAL = ("kind", "industry", "email", "phone", "registered_at", "account_manager")
#: Columns a customer import reads past without a word: what other apps add to a customer
#: export (grading's grade and scores), so that an export re-imports as it is. Registered by
#: those apps at start-up (`customer_import_columns_ignore`), never listed here.
CUSTOMER_IGNORED: set[str] = set()
ORDER_REQUIRED = ("order_no", "customer_code", "placed_at", "amount")
ORDER_OPTIONAL = ("category", "status", "profit", "refunded_amount")

CENT = Decimal("0.01")
MAX_MONEY = Decimal(10) ** (Order._meta.get_field("amount").max_digits - 2)
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_MOMENT = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
#: A date written year first with "/" or "." (or "-" with one-digit parts): 2026/10/01, 2026.1.5.
_YEAR_FIRST = re.compile(
    r"(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)
#: A date written the Chinese way: 2026年10月1日.
_CHINESE_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
#: Day and month first, in an order the file does not say: 03/04/2026, 3.4.2026, 03-04-2026.
_DAY_MONTH_YEAR = re.compile(
    r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)
#: The orders of day and month `date_order` may name, as the import option shows them.
DATE_ORDERS = {
    "dmy": gettext_lazy("day/month/year (31/12/2026)"),
    "mdy": gettext_lazy("month/day/year (12/31/2026)"),
}
_validate_email = EmailValidator()

Progress = Callable[[int], object]


@dataclass(frozen=True)
class RowError:
    """One problem: the file line (1 = header, 0 = the whole file), the column, why."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        if self.line == 0:
            return self.message
        if not self.field:
            return _("line %(line)d: %(message)s") % {"line": self.line, "message": self.message}
        return _("line %(line)d, %(field)s: %(message)s") % {
            "line": self.line,
            "field": self.field,
            "message": self.message,
        }


class ErrorList(list[RowError]):
    """An import's errors, at most `limit` of them (default settings.IMPORT_MAX_ERRORS).

    A hostile file must not produce millions of error rows: errors past the limit are only
    counted (`omitted`), and `read_table_into` stops reading the file once the list is `full`
    (`stopped`). `ImportReport.limit_note()` says which happened.
    """

    def __init__(self, errors: Iterable[RowError] = (), *, limit: int | None = None) -> None:
        super().__init__()
        self.limit = int(settings.IMPORT_MAX_ERRORS if limit is None else limit)
        self.omitted = 0
        self.stopped = False
        self.extend(errors)

    @property
    def full(self) -> bool:
        return len(self) >= self.limit

    def append(self, error: RowError) -> None:
        if len(self) < self.limit:
            super().append(error)
        else:
            self.omitted += 1

    def extend(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            self.append(error)

    def __iadd__(self, errors: Iterable[RowError]) -> ErrorList:  # type: ignore[override, misc]
        self.extend(errors)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # copy and pickle: rebuild through __init__ (a bare list's reduce would append the
        # items before `limit` exists), then restore limit and counts.
        return (ErrorList, (list(self),), dict(vars(self)))


@dataclass
class ImportReport:
    """What an import found and did (or, for a dry run, would do)."""

    total_rows: int = 0
    created: int = 0
    updated: int = 0
    errors: ErrorList = field(default_factory=ErrorList)
    dry_run: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.errors, ErrorList):
            self.errors = ErrorList(self.errors)

    def limit_note(self) -> str | None:
        """Return why the errors are incomplete (IMPORT_MAX_ERRORS reached), or None."""
        errors = self.errors
        limit = number_format(errors.limit, force_grouping=True)
        if errors.stopped:
            return _(
                "checking stopped after %(max)s errors, the limit (IMPORT_MAX_ERRORS); "
                "the rest of the file was not checked"
            ) % {"max": limit}
        if errors.omitted:
            return ngettext(
                "%(count)s more error is not listed; at most %(max)s are kept, "
                "the limit (IMPORT_MAX_ERRORS)",
                "%(count)s more errors are not listed; at most %(max)s are kept, "
                "the limit (IMPORT_MAX_ERRORS)",
                errors.omitted,
            ) % {"count": number_format(errors.omitted, force_grouping=True), "max": limit}
        return None

    @property
    def bad_rows(self) -> int:
        """Return the number of distinct lines with at least one error."""
        return len({error.line for error in self.errors})

    def error_lines(self, limit: int | None = None) -> list[str]:
        """Return one line per error, the first `limit` ones then "... and N more"."""
        shown = self.errors if limit is None else self.errors[:limit]
        lines = [str(error) for error in shown]
        if len(self.errors) > len(shown):
            lines.append(_("... and %(count)d more") % {"count": len(self.errors) - len(shown)})
        return lines

    def rejection(self) -> str:
        """Return "N bad rows; nothing was imported" (the summary of a rejected import).

        When the errors are incomplete (IMPORT_MAX_ERRORS), the summary says so instead.
        """
        note = self.limit_note()
        if note is not None:
            return _("%(note)s; nothing was imported") % {"note": note}
        return ngettext(
            "%(count)d bad row; nothing was imported",
            "%(count)d bad rows; nothing was imported",
            self.bad_rows,
        ) % {"count": self.bad_rows}

    def __str__(self) -> str:
        if self.errors:
            return "\n".join(self.error_lines())
        return _("%(total)d rows: %(created)d created, %(updated)d updated") % {
            "total": self.total_rows,
            "created": self.created,
            "updated": self.updated,
        }


def customer_import(
    *,
    source: Source,
    filename: str,
    dry_run: bool = False,
    create_only: bool = False,
    by: AbstractBaseUser | None = None,
    progress: Progress | None = None,
    date_order: str = "",
) -> ImportReport:
    """Create or update customers from a CSV/XLSX file; all rows or none.

    Columns: `code, name` required; `kind, industry, email, phone, registered_at,
    account_manager` optional. `account_manager` is the username or e-mail of an active
    staff user. An existing `code` is updated (only the columns given; blank cells keep the
    stored value). Raises ImportRejected, having written nothing, when any row is bad;
    `dry_run` validates everything and returns the report without writing. `create_only`
    (the API's single create) refuses an existing code with ConflictError (409) instead.
    """
    report = ImportReport(dry_run=dry_run)
    checker = RowChecker(report, Customer, date_order=date_order)
    # code -> (line, code, name, kind, industry, email, phone, registered_at, account_manager)
    rows: dict[str, tuple[Any, ...]] = {}

    def parse(line: int, values: dict[str, str]) -> None:
        code = checker.text(line, values, "code", required=True)
        row = (
            line,
            code,
            checker.text(line, values, "name", required=True),
            checker.choice(line, values, "kind", Customer.Kind),
            checker.text(line, values, "industry"),
            checker.email(line, values, "email"),
            checker.text(line, values, "phone"),
            checker.moment(line, values, "registered_at"),
            values.get("account_manager") or None,
        )
        if code is not None:
            checker.unique(line, "code", code, rows, row)

    read_table_into(
        source,
        filename,
        CUSTOMER_REQUIRED,
        CUSTOMER_OPTIONAL,
        parse,
        report,
        progress,
        ignored=tuple(sorted(CUSTOMER_IGNORED)),
    )
    existing = ids_by_key(Customer, "code", list(rows))
    manager_ids = _resolve_managers(rows.values(), report)
    reject_if_errors(report)
    if create_only:
        _refuse_existing(existing, "code", _("a customer with code '%(key)s' already exists"))

    # Only what differs from the stored customer is written (and audited): re-importing an
    # export changes nothing; editing one cell changes that field of that customer.
    changes = _customer_changes(rows, existing, manager_ids)
    report.updated = len(changes)
    report.created = len(rows) - len(existing)
    if dry_run:
        return report

    now = timezone.now()
    with transaction.atomic():
        new = (
            Customer(
                code=code,
                name=name,
                kind=kind or Customer.Kind.END_CUSTOMER,
                industry=industry or "",
                email=email or "",
                phone=phone or "",
                registered_at=registered_at or now,
                account_manager_id=manager_ids.get(manager) if manager else None,
            )
            for _line, code, name, kind, industry, email, phone, registered_at, manager in (
                rows[code] for code in rows if code not in existing
            )
        )
        created: list[int | None] = []  # PostgreSQL and SQLite return the new ids
        for batch in itertools.batched(new, WRITE_BATCH):
            created += [customer.pk for customer in Customer.objects.bulk_create(batch)]
        columns = ("name", *CUSTOMER_OPTIONAL)
        _update_rows(
            Customer,
            (*columns, "updated_at"),
            (
                (pk, *[changed.get(column) for column in columns], now)
                for pk, changed in changes.items()
            ),
        )
        _audit_customer_changes(changes, by)
        customers_written_in_bulk_send(model=Customer, customer_ids=[*created, *changes])
    _log("customers", filename, report, by)
    return report


#: `customer_import`'s parsed row: (line, code, name, kind, industry, email, phone,
#: registered_at, account_manager); the columns from `name` on are CUSTOMER_REQUIRED[1:] +
#: CUSTOMER_OPTIONAL, in order.
_ROW_COLUMNS = ("name", *CUSTOMER_OPTIONAL)


def _customer_changes(
    rows: dict[str, tuple[Any, ...]], existing: dict[str, int], manager_ids: dict[str, int]
) -> dict[int, dict[str, Any]]:
    """Return {customer pk: {column: new value}} of what the file changes in stored customers.

    A blank cell changes nothing (it keeps the stored value). A time given to the second
    equals a stored time with a fraction of that second (an export writes whole seconds).
    """
    if not existing:
        return {}
    fields = [_field(Customer, name).attname for name in _ROW_COLUMNS]
    stored: dict[int, tuple[Any, ...]] = {}
    ids = list(existing.values())
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        for pk, *values in Customer.objects.filter(pk__in=chunk).values_list("pk", *fields):
            stored[pk] = tuple(values)
    changes: dict[int, dict[str, Any]] = {}
    for code, pk in existing.items():
        given = list(rows[code][2:])
        manager = given[-1]
        given[-1] = manager_ids[manager] if manager else None
        changed = {
            column: new
            for column, new, old in zip(_ROW_COLUMNS, given, stored[pk], strict=True)
            if new is not None and not _same(new, old)
        }
        if changed:
            changes[pk] = changed
    return changes


def _same(new: Any, old: Any) -> bool:
    if isinstance(new, dt.datetime) and isinstance(old, dt.datetime):
        return new == old or (new.microsecond == 0 and new == old.replace(microsecond=0))
    return bool(new == old)


def _audit_customer_changes(
    changes: dict[int, dict[str, Any]], by: AbstractBaseUser | None
) -> None:
    """Record which fields an import changed, one admin history entry per customer.

    The entries are the customer's history in the admin ("Changed phone."). An import with
    no acting user (the command line) is recorded in the log instead, field names included.
    """
    if not changes:
        return
    with translation.override("en"):  # stored as Django stores them; shown translated
        names = {column: str(_field(Customer, column).verbose_name) for column in _ROW_COLUMNS}
    if by is None or by.pk is None:
        for pk, changed in changes.items():
            logger.info("Import changed customer %s: %s", pk, ", ".join(sorted(changed)))
        return
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.get_for_model(Customer)
    reprs = dict(Customer.objects.filter(pk__in=list(changes)).values_list("pk", "name"))
    LogEntry.objects.bulk_create(
        [
            LogEntry(
                user_id=by.pk,
                content_type=content_type,
                object_id=str(pk),
                object_repr=str(reprs.get(pk, pk))[:200],
                action_flag=CHANGE,
                change_message=json.dumps(
                    [{"changed": {"fields": [names[column] for column in changed]}}]
                ),
            )
            for pk, changed in changes.items()
        ],
        batch_size=WRITE_BATCH,
    )


def order_import(
    *,
    source: Source,
    filename: str,
    create_missing_customers: bool = False,
    dry_run: bool = False,
    create_only: bool = False,
    by: AbstractBaseUser | None = None,
    progress: Progress | None = None,
    date_order: str = "",
) -> ImportReport:
    """Create or update orders from a CSV/XLSX file; all rows or none.

    Columns: `order_no, customer_code, placed_at, amount` required; `category, status,
    profit, refunded_amount` optional (new orders: status paid, refunded 0; a category code
    not yet known is created). An existing `order_no` is updated only when it belongs to
    the same customer. Amounts are non-negative with at most 2 decimals; `profit` may be
    negative (a loss). `create_missing_customers` creates a bare customer (code = name) for
    each unknown `customer_code` instead of rejecting the rows. Raises ImportRejected,
    having written nothing, when any row is bad; `dry_run` returns the report unwritten.
    `create_only` refuses an existing order number with ConflictError (409) instead.
    """
    report = ImportReport(dry_run=dry_run)
    checker = RowChecker(report, Order, date_order=date_order)
    # order_no -> (line, order_no, customer_code, placed_at, amount, refunded_amount, profit,
    # category, status): plain tuples, the only per-row memory kept. None = blank cell.
    rows: dict[str, tuple[Any, ...]] = {}
    # One string object per distinct code, shared by all the rows that name it.
    customer_codes: dict[str, str] = {}
    category_codes: dict[str, str] = {}

    cells = _OrderCells(checker)

    def parse(line: int, values: dict[str, str]) -> None:
        order_no, customer_code, placed_at, amount, category, status, profit, refunded = (
            cells.parse(line, values)
        )
        if amount is not None and refunded is not None and refunded > amount:
            checker.error(
                line,
                "refunded_amount",
                _("%(refunded)s is more than the amount %(amount)s")
                % {"refunded": refunded, "amount": amount},
            )
        row = (
            line,
            order_no,
            customer_codes.setdefault(customer_code, customer_code) if customer_code else None,
            placed_at,
            amount,
            refunded,
            profit,
            category_codes.setdefault(category, category) if category else None,
            status,
        )
        if order_no is not None:
            checker.unique(line, "order_no", order_no, rows, row)

    read_table_into(source, filename, ORDER_REQUIRED, ORDER_OPTIONAL, parse, report, progress)
    customer_ids = ids_by_key(Customer, "code", list(customer_codes))
    missing_customers = [code for code in customer_codes if code not in customer_ids]
    if not create_missing_customers:
        missing = set(missing_customers)
        for row in rows.values():
            if row[2] in missing:
                checker.error(
                    row[0],
                    "customer_code",
                    _("no customer with code '%(code)s'") % {"code": row[2]},
                )
    existing = _existing_orders(list(rows))
    if create_only:
        _refuse_existing(existing, "order_no", _("an order '%(key)s' already exists"))
    for order_no, (_id, owner, stored_refunded) in existing.items():
        line, _no, customer_code, _placed, amount, refunded = rows[order_no][:6]
        if customer_code is not None and customer_code != owner:
            checker.error(
                line,
                "order_no",
                _("order '%(order_no)s' already exists for another customer (%(customer)s)")
                % {"order_no": order_no, "customer": owner},
            )
        elif amount is not None and refunded is None and stored_refunded > amount:
            checker.error(
                line,
                "amount",
                _("%(amount)s is less than the refunded amount %(refunded)s already stored")
                % {"amount": amount, "refunded": stored_refunded},
            )
    category_ids = ids_by_key(Category, "code", list(category_codes))
    reject_if_errors(report)

    report.updated = len(existing)
    report.created = len(rows) - report.updated
    if dry_run:
        return report

    with transaction.atomic():
        new_categories = [code for code in category_codes if code not in category_ids]
        if new_categories:
            Category.objects.bulk_create(
                (Category(code=code, name=code) for code in new_categories),
                batch_size=WRITE_BATCH,
                ignore_conflicts=True,  # another import may have just created it
            )
            category_ids |= ids_by_key(Category, "code", new_categories)
        if missing_customers and create_missing_customers:
            Customer.objects.bulk_create(
                (Customer(code=code, name=code) for code in missing_customers),
                batch_size=WRITE_BATCH,
                ignore_conflicts=True,
            )
            created = ids_by_key(Customer, "code", missing_customers)
            customer_ids |= created
            customers_written_in_bulk_send(model=Customer, customer_ids=created.values())
        new_rows = (row for order_no, row in rows.items() if order_no not in existing)
        _insert_orders(new_rows, customer_ids, category_ids)
        updates = (rows[order_no] for order_no in existing)
        _update_rows(
            Order,
            ("placed_at", "amount", "refunded_amount", "profit", "category", "status"),
            (
                (existing[row[1]][0], *row[3:7], category_ids[row[7]] if row[7] else None, row[8])
                for row in updates
            ),
        )
        # Every customer named by the file had an order created or changed.
        orders_written_send(customer_ids=customer_ids.values())
    _log("orders", filename, report, by)
    return report


# --- reading and row validation ------------------------------------------------------------


def read_table_into(
    source: Source,
    filename: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    parse: Callable[[int, dict[str, str]], None],
    report: ImportReport,
    progress: Progress | None,
    *,
    ignored: tuple[str, ...] = (),
) -> None:
    """Check the header, then feed each data row to `parse` (`ignored` columns are allowed
    and never read).

    Header errors stop the import before any row is read: without a required column, every
    row would repeat the same complaint. Reading stops, and the import is rejected, as soon as
    the report holds IMPORT_MAX_ERRORS errors, or the file passes a limit of `TableLimits`.
    """
    errors = report.errors
    try:
        with open_table(source, filename) as table:
            _check_header(table, required, optional, report, ignored)
            reject_if_errors(report)
            for line, values in table.rows:
                report.total_rows += 1
                if values.get(UNNAMED_COLUMN):
                    report.errors.append(
                        RowError(
                            line,
                            "",
                            _("values in a column without a header: %(values)s")
                            % {"values": _shorten(values[UNNAMED_COLUMN])},
                        )
                    )
                parse(line, values)
                if errors.full:
                    errors.stopped = True
                    reject_if_errors(report)
                if progress is not None and report.total_rows % PROGRESS_EVERY == 0:
                    progress(report.total_rows)
    except TableError as exc:
        report.errors.append(RowError(exc.line, "", exc.message))
        reject_if_errors(report)
    if progress is not None:
        progress(report.total_rows)


def _check_header(
    table: Table,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    report: ImportReport,
    ignored: tuple[str, ...] = (),
) -> None:
    known = (*required, *optional)
    line = table.header_line
    seen: set[str] = set()
    for name in table.header:
        if name == UNNAMED_COLUMN or name in ignored:
            continue
        if name in seen:
            report.errors.append(RowError(line, name, _("the column appears more than once")))
        elif name not in known:
            report.errors.append(
                RowError(
                    line,
                    name,
                    _("unknown column; the columns are %(columns)s")
                    % {"columns": ", ".join(known)},
                )
            )
        seen.add(name)
    report.errors.extend(
        RowError(line, name, _("required column is missing"))
        for name in required
        if name not in seen
    )


class RowChecker:
    """Parse one cell at a time; on a bad value record a RowError and return None.

    Every parser returns None for a blank optional cell too: "not given".
    """

    def __init__(
        self, report: ImportReport, model: type[Customer] | type[Order], *, date_order: str = ""
    ) -> None:
        self.errors = report.errors
        self.model = model
        self.timezone = timezone.get_default_timezone()
        self._choices: dict[str, tuple[dict[str, str], str]] = {}
        self.date_order = date_order_get(date_order)
        # One "now" per import: every row is held to the same limit, however long it runs.
        self.future_hours = settings.ORDER_FUTURE_TOLERANCE_HOURS
        self.latest = timezone.now() + dt.timedelta(hours=self.future_hours)

    def error(self, line: int, column: str, message: str) -> None:
        self.errors.append(RowError(line, column, message))

    def _value(self, line: int, values: dict[str, str], column: str, required: bool) -> str | None:
        value = _unguarded(values.get(column, ""))
        if value:
            return value
        if required:
            self.error(line, column, _("a value is required"))
        return None

    def text(
        self,
        line: int,
        values: dict[str, str],
        column: str,
        *,
        required: bool = False,
        model_field: Any = None,
    ) -> str | None:
        value = self._value(line, values, column, required)
        if value is None:
            return None
        max_length = (model_field or _field(self.model, column)).max_length
        if max_length is not None and len(value) > max_length:
            self.error(
                line,
                column,
                _("'%(value)s' is longer than %(max)d characters")
                % {"value": _shorten(value), "max": max_length},
            )
            return None
        return value

    def email(self, line: int, values: dict[str, str], column: str) -> str | None:
        value = self.text(line, values, column)
        if value is None:
            return None
        try:
            _validate_email(value)
        except ValidationError:
            self.error(
                line, column, _("'%(value)s' is not a valid e-mail address") % {"value": value}
            )
            return None
        return value

    def choice(self, line: int, values: dict[str, str], column: str, choices: Any) -> str | None:
        """Parse a choice given as its code or its label in any site language (any case)."""
        value = self._value(line, values, column, required=False)
        if value is None:
            return None
        known = self._choices.get(column)
        if known is None:
            allowed = choice_options(choices)
            spellings = {
                _spelling(name): code for code, names in allowed for name in (code, *names)
            }
            listed = ", ".join(f"{code} ({', '.join(names)})" for code, names in allowed)
            known = self._choices[column] = (spellings, listed)
        spellings, listed = known
        code = spellings.get(_spelling(value))
        if code is not None:
            return code
        self.error(
            line,
            column,
            _("'%(value)s' is not one of: %(choices)s")
            % {"value": _shorten(value), "choices": listed},
        )
        return None

    def decimal(
        self,
        line: int,
        values: dict[str, str],
        column: str,
        *,
        required: bool = False,
        signed: bool = False,
    ) -> Decimal | None:
        value = self._value(line, values, column, required)
        if value is None:
            return None
        message = None
        if not _PLAIN_DECIMAL.fullmatch(value):
            message = _("'%(value)s' is not a decimal number")
        else:
            number = Decimal(value)
            if abs(number) >= MAX_MONEY:
                message = _("'%(value)s' is too large")
            elif (cents := number.quantize(CENT)) != number:
                message = _("'%(value)s' has more than 2 decimal places")
            elif number < 0 and not signed:
                message = _("'%(value)s' must not be negative")
            else:
                return cents
        self.error(line, column, message % {"value": _shorten(value)})
        return None

    def moment(
        self,
        line: int,
        values: dict[str, str],
        column: str,
        *,
        required: bool = False,
        past: bool = False,
    ) -> dt.datetime | None:
        """Parse a date or date-time; `past`: something that happened (an order, an event),
        so more than ORDER_FUTURE_TOLERANCE_HOURS after now is an error."""
        value = self._value(line, values, column, required)
        if value is None:
            return None
        parsed = self._parse_moment(line, column, value)
        if parsed is None:
            return None
        if timezone.is_naive(parsed):
            # A bare date or time is a moment in the project's time zone, like every
            # date shown in TierHub.
            parsed = timezone.make_aware(parsed, self.timezone)
        if past and parsed > self.latest:
            self.error(
                line,
                column,
                ngettext(
                    "'%(value)s' is in the future (more than %(hours)d hour after now)",
                    "'%(value)s' is in the future (more than %(hours)d hours after now)",
                    self.future_hours,
                )
                % {"value": _shorten(value), "hours": self.future_hours},
            )
            return None
        return parsed

    def _parse_moment(self, line: int, column: str, value: str) -> dt.datetime | None:
        """Read `value` in one of the accepted date forms; report why not and return None."""
        if _MOMENT.fullmatch(value):
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                pass
        elif match := _YEAR_FIRST.fullmatch(value) or _CHINESE_DATE.fullmatch(value):
            year, month, day, *clock = match.groups() + (None,) * (6 - len(match.groups()))
            moment = _moment(int(year), int(month), int(day), clock)
            if moment is not None:
                return moment
        elif match := _DAY_MONTH_YEAR.fullmatch(value):
            first, second, year, *clock = match.groups()
            return self._day_month(line, column, value, int(first), int(second), int(year), clock)
        self.error(
            line,
            column,
            _(
                "'%(value)s' is not a date or date-time; use YYYY-MM-DD or YYYY/MM/DD "
                "(with HH:MM[:SS] for a time), an Excel date cell, or ISO 8601 with an offset"
            )
            % {"value": _shorten(value)},
        )
        return None

    def _day_month(
        self,
        line: int,
        column: str,
        value: str,
        first: int,
        second: int,
        year: int,
        clock: list[str | None],
    ) -> dt.datetime | None:
        """Read 03/04/2026 in the import's day/month order: never guessed.

        Without an order, only a value with a single possible reading (25/12/2026, or the
        same day and month) is taken; 03/04/2026 is refused, saying how to choose.
        """
        readings = {
            "dmy": _moment(year, second, first, clock),
            "mdy": _moment(year, first, second, clock),
        }
        if self.date_order:
            moment = readings[self.date_order]
            if moment is not None:
                return moment
            self.error(
                line,
                column,
                _("'%(value)s' is not a date read as %(order)s")
                % {"value": _shorten(value), "order": DATE_ORDERS[self.date_order]},
            )
            return None
        valid = {reading for reading in readings.values() if reading is not None}
        if len(valid) == 1:
            return valid.pop()
        if not valid:
            self.error(line, column, _("'%(value)s' is not a date") % {"value": _shorten(value)})
            return None
        self.error(
            line,
            column,
            _(
                "'%(value)s' could be %(dmy)s or %(mdy)s; choose the order of day and month "
                "(the import's date order option, or IMPORT_DATE_ORDER) or write YYYY-MM-DD"
            )
            % {
                "value": _shorten(value),
                "dmy": date_format(readings["dmy"], "DATE_FORMAT"),  # type: ignore[arg-type]
                "mdy": date_format(readings["mdy"], "DATE_FORMAT"),  # type: ignore[arg-type]
            },
        )
        return None

    def unique(
        self,
        line: int,
        column: str,
        key: str,
        rows: dict[str, tuple[Any, ...]],
        row: tuple[Any, ...],
    ) -> None:
        first = rows.setdefault(key, row)
        if first is not row:
            self.error(
                line,
                column,
                _("'%(value)s' is a duplicate of line %(first)d")
                % {"value": key, "first": first[0]},
            )


#: Distinct cells `_OrderCells` remembers per column (a few MB at most).
_CELL_CACHE = 50_000


class _OrderCells:
    """Parse an order row's cells as `RowChecker` does, without its per-cell overhead.

    An orders file is the one import of millions of rows (~40 µs a row through the checker's
    dozen small calls). A cell in the common form (plain text within its length, an ISO date
    or date-time, a plain decimal, a status already seen) is taken here directly, and each
    distinct date and amount is parsed once per import; any other cell goes to the checker,
    which returns the same value or records the same error. `checked` is the checker-only
    reading, what `parse` must equal (tests compare the two).
    """

    def __init__(self, checker: RowChecker) -> None:
        self.checker = checker
        # The three are CharFields: a max_length is always set.
        self.order_no_max = int(_field(Order, "order_no").max_length)  # type: ignore[arg-type]
        self.code_max = int(_field(Customer, "code").max_length)  # type: ignore[arg-type]
        self.category_max = int(_field(Category, "code").max_length)  # type: ignore[arg-type]
        # Cell text -> value, only for cells the checker accepts: a repeated cell is a
        # dictionary lookup. A cell that fails is never stored, so its error is reported
        # on every line that has it.
        self.moments: dict[str, dt.datetime] = {}
        self.money: dict[str, Decimal] = {}  # non-negative: good for every money column
        self.losses: dict[str, Decimal] = {}  # negative: good for `profit` only
        self.statuses: dict[str, str] = {}
        #: Naive local times before this are in the past whatever their zone's offset.
        self.surely_past = checker.latest.astimezone(checker.timezone).replace(
            tzinfo=None
        ) - dt.timedelta(days=2)

    def checked(self, line: int, values: dict[str, str]) -> tuple[Any, ...]:
        """Return the row's cells as the checker reads them (the reference for `parse`)."""
        checker = self.checker
        return (
            checker.text(line, values, "order_no", required=True),
            checker.text(
                line,
                values,
                "customer_code",
                required=True,
                model_field=Customer._meta.get_field("code"),
            ),
            checker.moment(line, values, "placed_at", required=True, past=True),
            checker.decimal(line, values, "amount", required=True),
            checker.text(line, values, "category", model_field=Category._meta.get_field("code")),
            checker.choice(line, values, "status", Order.Status),
            checker.decimal(line, values, "profit", signed=True),
            checker.decimal(line, values, "refunded_amount"),
        )

    def parse(self, line: int, values: dict[str, str]) -> tuple[Any, ...]:
        """Return (order_no, customer_code, placed_at, amount, category, status, profit,
        refunded): the values `checked` returns, its errors recorded in the same order."""
        checker = self.checker
        get = values.get

        # Text: a cell not starting with an apostrophe (an export's formula guard) is itself.
        order_no: str | None = get("order_no", "")
        if not order_no or order_no[0] == "'" or len(order_no) > self.order_no_max:
            order_no = checker.text(line, values, "order_no", required=True)
        customer_code: str | None = get("customer_code", "")
        if not customer_code or customer_code[0] == "'" or len(customer_code) > self.code_max:
            customer_code = checker.text(
                line,
                values,
                "customer_code",
                required=True,
                model_field=Customer._meta.get_field("code"),
            )

        cell = get("placed_at", "")
        placed_at = self.moments.get(cell)
        if placed_at is None:
            placed_at = self._moment(line, values, cell)

        cell = get("amount", "")
        amount = self.money.get(cell)
        if amount is None:
            amount = self._money(line, values, "amount", cell, required=True, signed=False)

        category: str | None = get("category", "")
        if not category:
            category = None
        elif category[0] == "'" or len(category) > self.category_max:
            category = checker.text(
                line, values, "category", model_field=Category._meta.get_field("code")
            )

        cell = get("status", "")
        status = self.statuses.get(cell) if cell else None
        if cell and status is None:
            status = checker.choice(line, values, "status", Order.Status)
            if status is not None:
                self.statuses[cell] = status

        cell = get("profit", "")
        profit = None
        if cell:
            profit = self.money.get(cell)
            if profit is None:
                profit = self.losses.get(cell)
        if cell and profit is None:
            profit = self._money(line, values, "profit", cell, required=False, signed=True)

        cell = get("refunded_amount", "")
        refunded = self.money.get(cell) if cell else None
        if cell and refunded is None:
            refunded = self._money(
                line, values, "refunded_amount", cell, required=False, signed=False
            )
        return order_no, customer_code, placed_at, amount, category, status, profit, refunded

    def _moment(self, line: int, values: dict[str, str], cell: str) -> dt.datetime | None:
        """`RowChecker.moment` of placed_at (required, in the past); ISO 8601 read here."""
        checker = self.checker
        parsed: dt.datetime | None = None
        if _MOMENT.fullmatch(cell):
            try:
                parsed = dt.datetime.fromisoformat(cell)
            except ValueError:
                parsed = None
            else:
                if parsed.tzinfo is None:
                    # timezone.make_aware, as the checker does (replace() is 4x slower).
                    # A local time over a day before the limit is before it in any zone.
                    early = parsed < self.surely_past
                    parsed = dt.datetime(
                        parsed.year,
                        parsed.month,
                        parsed.day,
                        parsed.hour,
                        parsed.minute,
                        parsed.second,
                        parsed.microsecond,
                        checker.timezone,
                    )
                    if not early and parsed > checker.latest:
                        parsed = None
                elif parsed > checker.latest:
                    parsed = None
        if parsed is None:
            parsed = checker.moment(line, values, "placed_at", required=True, past=True)
        if parsed is not None and len(self.moments) < _CELL_CACHE:
            self.moments[cell] = parsed
        return parsed

    def _money(
        self,
        line: int,
        values: dict[str, str],
        column: str,
        cell: str,
        *,
        required: bool,
        signed: bool,
    ) -> Decimal | None:
        """`RowChecker.decimal`; a plain number is read here."""
        number: Decimal | None = None
        if _PLAIN_DECIMAL.fullmatch(cell):
            exact = Decimal(cell)
            if abs(exact) < MAX_MONEY and (signed or exact >= 0):
                cents = exact.quantize(CENT)
                if cents == exact:
                    number = cents
        if number is None:
            number = self.checker.decimal(line, values, column, required=required, signed=signed)
        if number is not None:
            cache = self.money if number >= 0 else self.losses
            if len(cache) < _CELL_CACHE:
                cache[cell] = number
        return number


def customer_import_columns_ignore(*columns: str) -> None:
    """Let a customer import read past `columns` (another app's part of the customer export)."""
    CUSTOMER_IGNORED.update(columns)


#: Text an export guarded against spreadsheet formulas: an apostrophe, then =, +, -, @ ...
_GUARDED = re.compile(r"'[=+\-@\t\r]")


def _unguarded(value: str) -> str:
    """Return `value` without the apostrophe an export put before formula-like text."""
    return value[1:] if _GUARDED.match(value) else value


def date_order_get(date_order: str = "") -> str:
    """Return the import's day/month order: `date_order`, else IMPORT_DATE_ORDER ("" if unset).

    Raises ValueError for anything but "", "dmy" and "mdy" (a typo must not mean "unset").
    """
    order = (date_order or settings.IMPORT_DATE_ORDER or "").lower()
    if order and order not in DATE_ORDERS:
        raise ValueError(f"date order {order!r}: use one of {', '.join(DATE_ORDERS)}")
    return order


def choice_options(choices: Any) -> list[tuple[str, list[str]]]:
    """Return [(code, [its label in each site language, without repeats])] of a TextChoices
    (or a field's (code, label) choices).

    The spellings an import accepts for a choice, and what the template's "Allowed values"
    sheet lists.
    """
    options = []
    for code, label in getattr(choices, "choices", choices):
        names: list[str] = []
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                name = str(label)
            if name not in names:
                names.append(name)
        options.append((str(code), names))
    return options


#: A template's example value of a column, wherever the column appears (docs/importing.md).
TEMPLATE_EXAMPLES: dict[str, str] = {
    "code": "C-0001",
    "customer_code": "C-0001",
    "referrer_code": "C-0001",
    "referred_code": "C-0002",
    "referred_name": "Example Referred Ltd",
    "name": "Example Trading Co.",
    "industry": "retail",
    "email": "buyer@example.com",
    "phone": "021 5555 0100",
    "registered_at": "2026-01-15",
    "order_no": "SO-0001",
    "placed_at": "2026-10-01 09:30",
    "amount": "1250.00",
    "profit": "180.00",
    "refunded_amount": "0",
    "category": "",
    "created_at": "2026-10-02",
    "opened_at": "2026-10-02 10:00",
    "first_response_at": "2026-10-02 10:20",
    "invited_at": "2026-10-01",
    "joined_at": "2026-10-03",
    "campaign": "AUTUMN-2026",
    "rating": "5",
    "subject": "Delivery question",
    "text": "Good quality.",
    "description": "Late delivery.",
}
_DATE_NOTE = gettext_lazy(
    "a date: YYYY-MM-DD, YYYY/MM/DD or an Excel date cell, with HH:MM for a time; "
    "03/04/2026 only with the import's date order"
)
#: What a column takes, for the template's "Allowed values" sheet (choices list their values).
TEMPLATE_NOTES: dict[str, Any] = {
    "code": gettext_lazy("the customer's code, unique; an existing code updates that customer"),
    "customer_code": gettext_lazy("the code of an existing customer"),
    "referrer_code": gettext_lazy("the code of an existing customer"),
    "referred_code": gettext_lazy("the code of an existing customer"),
    "email": gettext_lazy("an e-mail address"),
    "account_manager": gettext_lazy("the username or e-mail of an account manager"),
    "amount": gettext_lazy("a number with at most 2 decimals, not negative"),
    "profit": gettext_lazy("a number with at most 2 decimals; negative for a loss"),
    "refunded_amount": gettext_lazy("a number with at most 2 decimals, not negative"),
    "category": gettext_lazy("a category code; a new code creates the category"),
    "order_no": gettext_lazy("the order number, unique"),
    "rating": gettext_lazy("a whole number from 1 to 5"),
    "campaign": gettext_lazy("a campaign code"),
    **dict.fromkeys(
        (
            "registered_at",
            "placed_at",
            "created_at",
            "opened_at",
            "first_response_at",
            "closed_at",
            "invited_at",
            "joined_at",
        ),
        _DATE_NOTE,
    ),
}


def import_template(
    *, model: type[Model], required: tuple[str, ...], optional: tuple[str, ...]
) -> tuple[list[str], list[list[str]]]:
    """Return a template's example row and its "Allowed values" rows for an import's columns.

    The example is a row the import accepts (a choice as its first code). Each allowed-values
    row is (column, required, value, English label, Chinese label, what it takes): a choice
    column gets one row per choice, any other column one row saying what it takes. The
    labels and notes are in the active language, the values are what a file may contain.
    """
    example, allowed = [], []
    for column in (*required, *optional):
        needed = _("required") if column in required else _("optional")
        options = _choices_of(model, column)
        if options:
            example.append(options[0][0])
            for code, names in options:
                labels = [*names, *[""] * len(settings.LANGUAGES)][: len(settings.LANGUAGES)]
                allowed.append([column, needed, code, *labels, _("the code or either label")])
            continue
        example.append(TEMPLATE_EXAMPLES.get(column, ""))
        note = TEMPLATE_NOTES.get(column)
        if note is None:
            note = _("text")
            max_length = getattr(_model_field(model, column), "max_length", None)
            if max_length:
                note = _("text of at most %(max)d characters") % {"max": max_length}
        allowed.append([column, needed, "", *[""] * len(settings.LANGUAGES), str(note)])
    return example, allowed


def import_template_header() -> list[str]:
    """Return the "Allowed values" sheet's header, in the active language."""
    languages = [str(name) for _code, name in settings.LANGUAGES]
    return [
        _("column"),
        _("required"),
        _("value"),
        *[_("label (%(language)s)") % {"language": name} for name in languages],
        _("what it takes"),
    ]


def _model_field(model: type[Model], name: str) -> Field[Any, Any] | None:
    try:
        field_ = model._meta.get_field(name)
    except Exception:  # FieldDoesNotExist: a column that is not a field (customer_code)
        return None
    return field_ if isinstance(field_, Field) else None


def _choices_of(model: type[Model], column: str) -> list[tuple[str, list[str]]]:
    field_ = _model_field(model, column)
    return choice_options(field_.choices) if field_ is not None and field_.choices else []


def _spelling(value: str) -> str:
    """Return `value` as a choice is matched: any case, runs of spaces as one."""
    return " ".join(value.split()).casefold()


def _moment(year: int, month: int, day: int, clock: list[str | None]) -> dt.datetime | None:
    """Return the naive date-time, or None when there is no such day or time."""
    hour, minute, second = (int(part) if part else 0 for part in (clock + [None] * 3)[:3])
    try:
        return dt.datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 (made aware by the caller)
    except ValueError:
        return None


def _refuse_existing(existing: dict[str, Any], column: str, message: str) -> None:
    """Raise ConflictError naming the first key of `existing` (a create must not update)."""
    if existing:
        key = next(iter(existing))
        raise ConflictError(message % {"key": _shorten(key)}, field=column)


def _shorten(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def reject_if_errors(report: ImportReport) -> None:
    if report.errors:
        report.errors.sort(key=lambda error: error.line)
        raise ImportRejected(report)


# --- database lookups ------------------------------------------------------------------------


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    """Return the model's concrete field `name` (not a reverse relation)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field


def _column(model: type[Model], name: str) -> str:
    """Return the database column of the model's concrete field `name`."""
    column = _field(model, name).column
    if column is None:
        raise TypeError(f"{model.__name__}.{name} has no column")
    return column


def _chunks(keys: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(keys), LOOKUP_CHUNK):
        yield keys[start : start + LOOKUP_CHUNK]


def _key_in(model: type[Model], key: str, chunk: list[str]) -> Q | RawSQL:
    """Return the filter `key IN chunk`.

    On PostgreSQL it is written ``= ANY(%s)`` with the chunk as one array parameter: Django
    compiles, and psycopg interpolates, 5000 separate placeholders at ~0.1 s per chunk,
    which made these lookups a third of a million-row import.
    """
    if connection.vendor != "postgresql":
        return Q(**{f"{key}__in": chunk})
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(_column(model, key))}"
    return RawSQL(f"{column} = ANY(%s)", (chunk,), output_field=BooleanField())


def ids_by_key(model: type[Customer] | type[Category], key: str, keys: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in _chunks(keys):
        queryset = model.objects.filter(_key_in(model, key, chunk)).order_by()
        ids.update(queryset.values_list(key, "id"))
    return ids


def _existing_orders(order_nos: list[str]) -> dict[str, tuple[int, str, Decimal]]:
    """Return {order_no: (id, customer code, refunded amount)} for the numbers that exist."""
    existing: dict[str, tuple[int, str, Decimal]] = {}
    for chunk in _chunks(order_nos):
        queryset = Order.objects.filter(_key_in(Order, "order_no", chunk)).order_by()
        for order_no, pk, owner, refunded in queryset.values_list(
            "order_no", "id", "customer__code", "refunded_amount"
        ):
            existing[order_no] = (pk, owner, refunded)
    return existing


def _resolve_managers(rows: Iterable[tuple[Any, ...]], report: ImportReport) -> dict[str, int]:
    """Map each account_manager value to an active staff user's id (username or e-mail).

    Staff users are few, so one query reads them all whatever the file's size.
    """
    wanted = [(row[0], row[-1]) for row in rows if row[-1]]
    if not wanted:
        return {}
    user_model = get_user_model()
    by_username: dict[str, int] = {}
    by_email: dict[str, list[int]] = {}
    for pk, username, email in user_model.objects.filter(is_staff=True, is_active=True).values_list(
        "id", user_model.USERNAME_FIELD, "email"
    ):
        by_username[username] = pk
        if email:
            by_email.setdefault(email.lower(), []).append(pk)
    resolved: dict[str, int] = {}
    for line, value in wanted:
        if value in resolved:
            continue
        pk = by_username.get(value)
        matches = by_email.get(value.lower(), [])
        if pk is None and len(matches) == 1:
            pk = matches[0]
        if pk is not None:
            resolved[value] = pk
        elif matches:
            report.errors.append(
                RowError(
                    line,
                    "account_manager",
                    _("'%(value)s' is the e-mail of several staff users; use the username")
                    % {"value": value},
                )
            )
        else:
            report.errors.append(
                RowError(
                    line,
                    "account_manager",
                    _("no active staff user with username or e-mail '%(value)s'")
                    % {"value": _shorten(value)},
                )
            )
    return resolved


# --- writing orders --------------------------------------------------------------------------

_COPY_COLUMNS = (
    "order_no",
    "customer",
    "placed_at",
    "amount",
    "refunded_amount",
    "profit",
    "category",
    "status",
    "created_at",
)


#: Rows per block of COPY text: one `write` per block instead of psycopg's Python
#: `write_row` per row.
COPY_CHUNK = 5000
#: COPY's text format: these characters of a value are written escaped (as psycopg does).
_COPY_SPECIAL = re.compile("[\\\\\b\t\n\v\f\r]")
_COPY_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "\b": "\\b",
        "\t": "\\t",
        "\n": "\\n",
        "\v": "\\v",
        "\f": "\\f",
        "\r": "\\r",
    }
)


def _copy_text(value: str) -> str:
    """Return text as COPY's text format has it (escaped as psycopg does)."""
    return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value


def _copy_line(row: tuple[Any, ...], created: str) -> str:
    r"""Return a row of `_COPY_COLUMNS` (`created` already as text) as one line of COPY's
    text format: numbers and datetimes as psycopg's text dumpers write them (their str()),
    None as \N."""
    order_no, customer, placed_at, amount, refunded, profit, category, status, _created = row
    return (
        f"{_copy_text(order_no)}\t{customer!s}\t{placed_at!s}\t{amount!s}\t{refunded!s}\t"
        f"{'\\N' if profit is None else str(profit)}\t"
        f"{'\\N' if category is None else str(category)}\t{_copy_text(status)}\t{created}\n"
    )


def _insert_orders(
    rows: Iterable[tuple[Any, ...]], customer_ids: dict[str, int], category_ids: dict[str, int]
) -> None:
    """Insert new orders: COPY on PostgreSQL (a million rows in seconds), else bulk_create."""
    now = timezone.now()
    zero = Decimal("0.00")
    paid = Order.Status.PAID.value

    def values() -> Iterator[tuple[Any, ...]]:
        """Yield column values in `_COPY_COLUMNS` order, defaults filled in."""
        for row in rows:
            _line, order_no, customer_code, placed_at, amount, refunded, profit, category = row[:8]
            yield (
                order_no,
                customer_ids[customer_code],
                placed_at,
                amount,
                zero if refunded is None else refunded,
                profit,
                category_ids[category] if category else None,
                row[8] or paid,
                now,
            )

    if connection.vendor == "postgresql":
        opts = Order._meta
        columns = ", ".join(
            connection.ops.quote_name(_column(Order, name)) for name in _COPY_COLUMNS
        )
        table = connection.ops.quote_name(opts.db_table)
        # The raw psycopg cursor's errors are mapped to Django's (a duplicate order number
        # from a concurrent writer is an IntegrityError, which the API answers with 409).
        with (
            connection.wrap_database_errors,
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            created = str(now)
            for chunk in itertools.batched(values(), COPY_CHUNK):
                copy.write("".join([_copy_line(row, created) for row in chunk]).encode())
        return
    attnames = [_field(Order, name).attname for name in _COPY_COLUMNS]
    orders = (Order(**dict(zip(attnames, row, strict=True))) for row in values())
    for batch in itertools.batched(orders, WRITE_BATCH):
        Order.objects.bulk_create(batch)


def _update_rows(
    model: type[Customer] | type[Order], columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]
) -> None:
    """Write ``(pk, *values)`` rows into `columns` of existing rows; None keeps the stored value.

    PostgreSQL: COPY into a temporary table and one ``UPDATE ... FROM``, because Django's
    bulk_update (a CASE per column and row) manages only ~1000 rows/s. Elsewhere: one
    bulk_update per combination of given columns.
    """
    opts = model._meta
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        table, pk = quote(opts.db_table), quote(_column(model, opts.pk.name))
        temp = quote(f"import_{opts.db_table}")
        targets = [quote(_column(model, name)) for name in columns]
        with connection.wrap_database_errors, connection.cursor() as cursor:
            # No constraints are copied, so NULL (keep) fits every column.
            cursor.execute(
                f"CREATE TEMPORARY TABLE {temp} AS SELECT {pk}, {', '.join(targets)} "
                f"FROM {table} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY {temp} ({pk}, {', '.join(targets)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            assignments = ", ".join(f"{c} = COALESCE(new.{c}, {table}.{c})" for c in targets)
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM {temp} AS new WHERE {table}.{pk} = new.{pk}"
            )
            cursor.execute(f"DROP TABLE {temp}")
        return
    attnames = [_field(model, name).attname for name in columns]
    groups: dict[tuple[str, ...], list[Any]] = {}
    for pk_value, *values in rows:
        given = {
            name: value for name, value in zip(attnames, values, strict=True) if value is not None
        }
        groups.setdefault(tuple(given), []).append(model(pk=pk_value, **given))
    for fields, objs in groups.items():
        model.objects.bulk_update(objs, fields, batch_size=WRITE_BATCH)


def _log(kind: str, filename: str, report: ImportReport, by: AbstractBaseUser | None) -> None:
    logger.info(
        "Imported %s from %s by %s: %d rows, %d created, %d updated",
        kind,
        filename,
        getattr(by, "pk", None),
        report.total_rows,
        report.created,
        report.updated,
    )
