"""Customers, what they buy and how they engage: the raw facts that grading reads.

Money is `Decimal` with two places; every amount has a database check so a bad row can
never be stored, whatever path it came in by.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypedDict

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common.models import TimeStampedModel


class DecimalOptions(TypedDict):
    """Keyword arguments shared by several DecimalFields (typed, so `**MONEY` type-checks)."""

    max_digits: int
    decimal_places: int


MONEY: DecimalOptions = {"max_digits": 14, "decimal_places": 2}


class Category(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(TimeStampedModel):
    class Kind(models.TextChoices):
        CHANNEL_AGENT = "channel_agent", _("Channel agent")
        RESELLER = "reseller", _("Reseller")
        END_CUSTOMER = "end_customer", _("End customer")

    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=20, choices=Kind.choices, default=Kind.END_CUSTOMER
    )
    industry = models.CharField(_("industry"), max_length=64, blank=True, db_index=True)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_customers",
    )
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["code"]
        permissions = [
            ("view_all_customers", _("Can see every customer, not only managed ones")),
        ]
        indexes = [
            models.Index(fields=["account_manager", "is_active"], name="customer_manager_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(code=""), name="customer_code_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("admin:customers_customer_change", args=[self.pk])


class Order(models.Model):
    class Status(models.TextChoices):
        PAID = "paid", _("Paid")
        COMPLETED = "completed", _("Completed")
        REFUNDED = "refunded", _("Refunded")
        CANCELLED = "cancelled", _("Cancelled")

    #: Statuses that count for grading (docs/grading.md, "Inputs": counted orders).
    COUNTED_STATUSES = (Status.PAID, Status.COMPLETED)

    order_no = models.CharField(_("order number"), max_length=64, unique=True)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="orders"
    )
    placed_at = models.DateTimeField(_("placed at"))
    amount = models.DecimalField(_("amount"), **MONEY)
    refunded_amount = models.DecimalField(_("refunded amount"), default=Decimal("0"), **MONEY)
    profit = models.DecimalField(_("profit"), null=True, blank=True, **MONEY)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PAID
    )
    on_time = models.BooleanField(
        _("fulfilled and paid on time"),
        null=True,
        blank=True,
        help_text=_("Unknown when empty; counts towards the on-time rate when set."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at"]
        indexes = [
            # The grading extract and the customer page read a customer's orders by date.
            models.Index(fields=["customer", "placed_at"], name="order_customer_placed_idx"),
            models.Index(fields=["placed_at"], name="order_placed_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="order_refund_within_amount",
            ),
            models.CheckConstraint(condition=~Q(order_no=""), name="order_no_not_empty"),
        ]

    def __str__(self) -> str:
        return self.order_no

    @property
    def net_amount(self) -> Decimal:
        return self.amount - self.refunded_amount


class Campaign(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="campaign_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignInvitation(models.Model):
    """A customer invited to a campaign; `joined_at` records participation."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="invitations"
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="campaign_invitations",
    )
    invited_at = models.DateTimeField(_("invited at"))
    joined_at = models.DateTimeField(_("joined at"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign invitation")
        verbose_name_plural = _("campaign invitations")
        ordering = ["-invited_at"]
        indexes = [
            models.Index(fields=["customer", "invited_at"], name="invitation_customer_idx"),
            # The customer facts' windows: the invitations of a window's partial months, and
            # those of its whole months joined at or after its end (docs/grading.md).
            models.Index(fields=["invited_at"], name="invitation_invited_idx"),
            models.Index(
                fields=["joined_at"],
                name="invitation_joined_idx",
                condition=Q(joined_at__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer"], name="invitation_unique_per_campaign"
            ),
            models.CheckConstraint(
                condition=Q(joined_at__isnull=True) | Q(joined_at__gte=F("invited_at")),
                name="invitation_joined_after_invited",
            ),
        ]

    def __str__(self) -> str:
        """ "Liu Jing in Game-card bonus week"."""
        return gettext("%(customer)s in %(campaign)s") % {
            "customer": self.customer.name,
            "campaign": self.campaign.name,
        }


class Referral(models.Model):
    """A customer bringing in another (possibly not yet a customer)."""

    referrer = models.ForeignKey(
        Customer, verbose_name=_("referrer"), on_delete=models.CASCADE, related_name="referrals"
    )
    referred = models.OneToOneField(
        Customer,
        verbose_name=_("referred customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referred_by",
    )
    referred_name = models.CharField(_("referred name"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("referred at"), default=timezone.now)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["referrer", "created_at"], name="referral_referrer_idx"),
            # The customer facts read a window's partial months by date (docs/grading.md).
            models.Index(fields=["created_at"], name="referral_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(referrer=F("referred")), name="referral_not_self"),
        ]

    def __str__(self) -> str:
        """ "Liu Jing referred Wang Wei"."""
        return gettext("%(referrer)s referred %(referred)s") % {
            "referrer": self.referrer.name,
            "referred": self.referred.name if self.referred is not None else self.referred_name,
        }


class Complaint(models.Model):
    class Severity(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="complaints"
    )
    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="complaints",
    )
    severity = models.CharField(
        _("severity"), max_length=8, choices=Severity.choices, default=Severity.LOW
    )
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("filed at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer", "created_at"], name="complaint_customer_idx"),
            # The customer facts read a window's partial months by date (docs/grading.md).
            models.Index(fields=["created_at"], name="complaint_created_idx"),
        ]

    def __str__(self) -> str:
        """ "Liu Jing · High"."""
        return f"{self.customer.name} · {self.get_severity_display()}"


class ProductReview(models.Model):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="reviews"
    )
    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviews",
    )
    rating = models.PositiveSmallIntegerField(_("rating"))
    text = models.TextField(_("text"), blank=True)
    created_at = models.DateTimeField(_("reviewed at"), default=timezone.now)

    class Meta:
        verbose_name = _("product review")
        verbose_name_plural = _("product reviews")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer", "created_at"], name="review_customer_idx"),
            # The customer facts read a window's partial months by date (docs/grading.md).
            models.Index(fields=["created_at"], name="review_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        """ "Liu Jing · 4★"."""
        return f"{self.customer.name} · {self.rating}★"


class ServiceTicket(models.Model):
    class Priority(models.TextChoices):
        NORMAL = "normal", _("Normal")
        URGENT = "urgent", _("Urgent")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="tickets"
    )
    subject = models.CharField(_("subject"), max_length=200)
    priority = models.CharField(
        _("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL
    )
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("service ticket")
        verbose_name_plural = _("service tickets")
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["customer", "opened_at"], name="ticket_customer_idx"),
            # The manager queue looks for tickets still waiting for a first response.
            models.Index(
                fields=["opened_at"],
                name="ticket_unanswered_idx",
                condition=Q(first_response_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(first_response_at__isnull=True)
                | Q(first_response_at__gte=F("opened_at")),
                name="ticket_response_after_open",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("opened_at")),
                name="ticket_closed_after_open",
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class CustomerAccount(models.Model):
    """A portal login of one customer. A customer may have several; a user belongs to one."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="customer_account",
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="accounts"
    )
    invited_at = models.DateTimeField(_("invited at"), default=timezone.now)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("customer portal account")
        verbose_name_plural = _("customer portal accounts")

    def __str__(self) -> str:
        """ "liu.jing → Liu Jing": the login and the customer it belongs to."""
        return f"{self.user} → {self.customer.name}"


class ManagerAssignment(models.Model):
    """One change of a customer's account manager: who moved them from whom to whom, when.

    Append-only, written by `customers.services.managers.customer_manager_assign` in the
    transaction that changes `Customer.account_manager` (docs/operations.md, "The customer
    page"). Imports that set managers in bulk do not write it.
    """

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="manager_assignments",
    )
    previous = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("previous account manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assigned_at = models.DateTimeField(_("assigned at"), default=timezone.now)

    class Meta:
        verbose_name = _("account-manager assignment")
        verbose_name_plural = _("account-manager assignments")
        ordering = ["-assigned_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-assigned_at"], name="manager_assignment_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer}: {self.previous or '—'} → {self.manager or '—'}"


class AppendOnlyLedgerError(Exception):
    """Raised when code tries to rewrite the points ledger."""


class PointsEntry(models.Model):
    """One credit of growth points: an append-only engagement fact grading reads.

    The balance is derived (the sum of a customer's entries), never stored. `dedupe_key`
    (unique per customer, e.g. "review_product:42") makes every credit idempotent, so a
    re-run of the job that credits points inserts nothing twice.
    """

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="points_entries",
    )
    points = models.PositiveIntegerField(_("points"))
    task_code = models.CharField(_("task"), max_length=40)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    dedupe_key = models.CharField(_("deduplication key"), max_length=120)
    created_at = models.DateTimeField(_("credited at"), default=timezone.now)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points ledger")
        ordering = ["-created_at", "-id"]
        indexes = [
            # Balances and the grading window read a customer's entries by date.
            models.Index(fields=["customer", "created_at"], name="points_customer_idx"),
            # The customer facts read a window's partial months by date (docs/grading.md).
            models.Index(fields=["created_at"], name="points_created_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "dedupe_key"], name="points_once_per_dedupe_key"
            ),
            models.CheckConstraint(condition=Q(points__gte=1), name="points_positive"),
            models.CheckConstraint(condition=~Q(dedupe_key=""), name="points_dedupe_key_not_empty"),
        ]

    def __str__(self) -> str:
        """ "Liu Jing +5 points"."""
        return gettext("%(customer)s +%(points)s points") % {
            "customer": self.customer.name,
            "points": self.points,
        }

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyLedgerError("Points entries are append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnlyLedgerError("Points entries are append-only.")


# --- sales lines, returns and source mappings (docs/importing-sales-lines.md) ----------------

#: Quantities and unit prices of sales lines: up to 4 decimals (ERP exports often have 3 or 4).
LINE_DECIMAL: DecimalOptions = {"max_digits": 18, "decimal_places": 4}


class SalesLine(models.Model):
    """One line of an imported sales or return document, as the file had it.

    Keyed by (document number, line number within the document, in file order), so a
    re-import replaces a document's lines instead of adding them again. The document itself
    is an `Order` (a sale) or a `ReturnDocument`; the number links them (no foreign key, so
    lines are written while the file is still being read).
    """

    document_no = models.CharField(_("document number"), max_length=64)
    line_no = models.PositiveIntegerField(_("line"))
    sku = models.CharField(_("item code"), max_length=64, blank=True)
    quantity = models.DecimalField(_("quantity"), **LINE_DECIMAL)
    unit_price = models.DecimalField(_("unit price"), **LINE_DECIMAL)
    line_total = models.DecimalField(_("line total"), null=True, blank=True, **LINE_DECIMAL)
    # No database constraint nor index: checking a million lines' categories one by one at
    # commit, and indexing them, cost an import a third of its time (bench/README.md). The
    # import writes only categories it has just read or created; PROTECT still guards
    # deletions made through Django (a rare scan of the lines).
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sales_lines",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        verbose_name = _("sales line")
        verbose_name_plural = _("sales lines")
        ordering = ["document_no", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["document_no", "line_no"], name="sales_line_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.document_no}/{self.line_no}"


class ReturnDocument(models.Model):
    """A return or credit note: its own document, dated when the goods came back.

    Its `amount` becomes refunds (`RefundAllocation`) on the customer's orders; what no
    order could take is `unallocated_amount`, kept and reported, never dropped.
    """

    return_no = models.CharField(_("return number"), max_length=64, unique=True)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="returns"
    )
    returned_at = models.DateTimeField(_("returned at"))
    amount = models.DecimalField(_("amount"), **MONEY)
    original_order = models.ForeignKey(
        Order,
        verbose_name=_("original order"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="linked_returns",
    )
    unallocated_amount = models.DecimalField(_("unallocated amount"), default=Decimal("0"), **MONEY)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("return document")
        verbose_name_plural = _("return documents")
        ordering = ["-returned_at"]
        indexes = [
            models.Index(fields=["customer", "returned_at"], name="return_customer_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="return_amount_positive"),
            models.CheckConstraint(
                condition=Q(unallocated_amount__gte=0) & Q(unallocated_amount__lte=F("amount")),
                name="return_unallocated_within_amount",
            ),
            models.CheckConstraint(condition=~Q(return_no=""), name="return_no_not_empty"),
        ]

    def __str__(self) -> str:
        return self.return_no


class RefundAllocation(models.Model):
    """The part of a return refunded on one order: every refund cent is traceable."""

    return_document = models.ForeignKey(
        ReturnDocument,
        verbose_name=_("return document"),
        on_delete=models.CASCADE,
        related_name="allocations",
    )
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="refund_allocations"
    )
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        verbose_name = _("refund allocation")
        verbose_name_plural = _("refund allocations")
        constraints = [
            models.UniqueConstraint(
                fields=["return_document", "order"], name="refund_allocation_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_allocation_positive"),
        ]
        indexes = [models.Index(fields=["order"], name="refund_allocation_order_idx")]

    def __str__(self) -> str:
        return f"{self.return_document_id} → {self.order_id}: {self.amount}"


class SourceMapping(TimeStampedModel):
    """How to read one source's sales-line files: header → field and the formats it uses."""

    class CodeFormat(models.TextChoices):
        AS_IS = "as_is", _("As in the file")
        INTEGER = "integer", _("Whole number: 17850.0 → 17850")
        UPPER = "upper", _("Upper case")

    name = models.CharField(_("name"), max_length=64, unique=True)
    #: {normalised source header: TierHub field}; headers not named are ignored.
    columns = models.JSONField(_("columns"), default=dict)
    return_types = models.JSONField(
        _("document types meaning a return"),
        default=list,
        blank=True,
        help_text=_("Values of the document type column that mark a return or credit note."),
    )
    return_prefix = models.CharField(
        _("return number prefix"),
        max_length=16,
        blank=True,
        help_text=_("Document numbers starting with this mark returns, e.g. C."),
    )
    date_format = models.CharField(
        _("date format"),
        max_length=40,
        blank=True,
        help_text=_("A strftime pattern such as %m/%d/%Y %H:%M; empty: ISO 8601."),
    )
    decimal_separator = models.CharField(_("decimal separator"), max_length=1, default=".")
    thousands_separator = models.CharField(
        _("thousands separator"), max_length=1, blank=True, default=""
    )
    customer_code_format = models.CharField(
        _("customer codes"), max_length=10, choices=CodeFormat.choices, default=CodeFormat.AS_IS
    )
    encoding = models.CharField(
        _("text encoding of CSV files"),
        max_length=12,
        choices=[
            ("utf-8", "UTF-8"),
            ("gb18030", _("Chinese (GBK / GB18030)")),
            ("cp1252", _("Western European (Windows-1252 / Latin-1)")),
        ],
        default="utf-8",
    )

    class Meta:
        verbose_name = _("source mapping")
        verbose_name_plural = _("source mappings")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="source_mapping_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class LineImport(models.Model):
    """One sales-line import started in the admin: what, by whom, how far it got, the outcome.

    Created by `customers.services.line_imports.line_import_start`; the Celery task
    `customers.import_order_lines` runs it (`line_import_run`), recording its phase and the
    lines read while it works (docs/importing-sales-lines.md, "In the admin"). A finished
    record keeps the data-quality report, or the errors, for its page.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Finished")
        REJECTED = "rejected", _("Rejected (nothing written)")
        FAILED = "failed", _("Failed (nothing written)")

    class Phase(models.TextChoices):
        WAITING = "waiting", _("Waiting for a worker")
        READING = "reading", _("Reading and checking the lines")
        DOCUMENTS = "documents", _("Writing orders and returns")
        REFUNDS = "refunds", _("Allocating returns to orders")
        DONE = "done", _("Done")

    #: Statuses after which nothing changes any more.
    FINISHED = (Status.SUCCEEDED, Status.REJECTED, Status.FAILED)

    filename = models.CharField(_("file"), max_length=255)
    #: The private upload (customers.admin_io's folder); empty once it is used or deleted.
    stored_name = models.CharField(max_length=64, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    phase = models.CharField(
        _("phase"), max_length=12, choices=Phase.choices, default=Phase.WAITING
    )
    lines_total = models.PositiveIntegerField(_("lines in the file"), null=True, blank=True)
    lines_done = models.PositiveIntegerField(_("lines read"), default=0)
    created = models.PositiveIntegerField(_("orders created"), default=0)
    updated = models.PositiveIntegerField(_("orders updated"), default=0)
    #: The data-quality report: [[key, value], ...] (`LineImportReport.quality_rows`).
    quality = models.JSONField(_("data-quality report"), default=list, blank=True)
    #: The first errors: [[line, column, message], ...]; `error_count` counts them all.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("sales-line import")
        verbose_name_plural = _("sales-line imports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED


class CustomerMonth(models.Model):
    """One customer's counted orders of one local month, kept as orders arrive (PostgreSQL).

    The grading run reads these buckets for the whole months of its window instead of the
    orders themselves (docs/grading.md, "Customer facts"). Statement-level triggers on the
    order and sales-line tables rebuild each bucket a statement touched from its orders, or
    add an insert that comes after its last day to it (`customers.facts`), so every write
    path keeps them exact. Days are local days in the zone
    `FactsState` records; the table exists on PostgreSQL only (created by migration 0011).
    """

    pk = models.CompositePrimaryKey("customer_id", "month")
    # No foreign-key check: the order triggers delete a customer's buckets with its orders.
    customer = models.ForeignKey(
        Customer, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    month = models.DateField(_("month"), help_text=_("The first day of the local month."))
    orders = models.IntegerField(_("orders"))
    net_cents = models.BigIntegerField(_("net amount in cents"))
    rated = models.IntegerField(_("orders with an on-time flag"))
    on_time = models.IntegerField(_("orders on time"))
    first_day = models.DateField(_("first order day"))
    last_day = models.DateField(_("last order day"))
    gap_squares = models.BigIntegerField(
        _("sum of squared gaps"),
        help_text=_("Sum over consecutive order days of the month of the squared gap in days."),
    )
    categories = ArrayField(models.IntegerField(), verbose_name=_("categories"))
    profit_cents = models.BigIntegerField(
        _("recorded profit in cents"),
        help_text=_("Sum of the recorded profits of the month's counted orders."),
    )
    unknown_profit = models.IntegerField(_("orders without a recorded profit"))

    class Meta:
        managed = False
        db_table = "customers_customermonth"
        verbose_name = _("customer month")
        verbose_name_plural = _("customer months")

    def __str__(self) -> str:
        return f"{self.customer_id} {self.month:%Y-%m}"


class CustomerEngagementMonth(models.Model):
    """One customer's engagement of one local month, kept as it is recorded (PostgreSQL).

    The campaign invitations of the month (by invitation time) and how many of them were
    joined, the referrals made, complaints filed, product reviews written and growth points
    credited. A grading run reads these for the whole months of its window instead of the
    rows themselves (docs/grading.md, "Customer facts"). Statement-level triggers on the five
    tables add each statement's rows to their months and take its old rows away
    (`customers.facts`), so every write path keeps them exact; a month whose counts all fall
    to zero has no row. A sibling of `CustomerMonth`, whose rows all have orders. Days are
    local days in the zone `FactsState` records; the table exists on PostgreSQL only
    (created by migration 0015).
    """

    pk = models.CompositePrimaryKey("customer_id", "month")
    # No foreign-key check: the triggers take a customer's months away with its rows.
    customer = models.ForeignKey(
        Customer, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    month = models.DateField(_("month"), help_text=_("The first day of the local month."))
    invitations = models.IntegerField(_("campaign invitations"))
    joins = models.IntegerField(
        _("invitations joined"), help_text=_("Of the month's invitations, those joined so far.")
    )
    referrals = models.IntegerField(_("referrals"))
    complaints = models.IntegerField(_("complaints"))
    reviews = models.IntegerField(_("product reviews"))
    points = models.BigIntegerField(_("growth points"))

    class Meta:
        managed = False
        db_table = "customers_customerengagementmonth"
        verbose_name = _("customer engagement month")
        verbose_name_plural = _("customer engagement months")

    def __str__(self) -> str:
        return f"{self.customer_id} {self.month:%Y-%m}"


class FactsState(models.Model):
    """The one row saying how the customer facts were built: which time zone's local days,
    which order statuses count, and whether every customer's buckets are built (PostgreSQL).

    The triggers read the zone and statuses from here; a run uses the facts only when they
    match the settings and `complete` is set (`grading.pipeline.extract`).
    """

    time_zone = models.CharField(_("time zone"), max_length=64)
    statuses = ArrayField(models.CharField(max_length=12), verbose_name=_("counted statuses"))
    complete = models.BooleanField(_("complete"), default=False)
    built_at = models.DateTimeField(_("built at"), null=True)

    class Meta:
        managed = False
        db_table = "customers_factsstate"
        verbose_name = _("customer facts state")
        verbose_name_plural = _("customer facts states")

    def __str__(self) -> str:
        return self.time_zone
