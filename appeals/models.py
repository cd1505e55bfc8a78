"""Downgrade appeals, their evidence and audit trail, and account managers' follow-up log.

Invariants held by the database:
- one open (submitted / under review) appeal per grade change (partial unique constraint);
- evidence is stored under a random name, never the uploader's;
- appeal events are append-only (save() refuses updates, delete() refuses).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from customers.models import Customer
from grading.models import GradeChange


class AppendOnlyError(Exception):
    """Raised when code tries to rewrite an appeal's audit trail."""


class Appeal(models.Model):
    """A customer's appeal against one downgrade (applied or proposed).

    The status moves only through `appeals.services.appeal_transition` and its single table
    of allowed moves (`TRANSITIONS`).
    """

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        UNDER_REVIEW = "under_review", _("Under review")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    #: Statuses in which an appeal waits for ops (at most one per change).
    OPEN_STATUSES = (Status.SUBMITTED, Status.UNDER_REVIEW)
    #: Final decisions: nothing moves an appeal out of these.
    DECIDED_STATUSES = (Status.ACCEPTED, Status.REJECTED, Status.WITHDRAWN)

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="appeals"
    )
    change = models.ForeignKey(
        GradeChange,
        verbose_name=_("grade change"),
        on_delete=models.PROTECT,
        related_name="appeals",
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.SUBMITTED
    )
    reason = models.TextField(_("reason"))
    ops_note = models.TextField(_("note from operations"), blank=True)
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("filed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("filed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["change"],
                condition=Q(status__in=["submitted", "under_review"]),
                name="appeal_one_open_per_change",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["submitted", "under_review"]) | Q(decided_at__isnull=False),
                name="appeal_decided_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="appeal_status_idx"),
            models.Index(fields=["customer", "created_at"], name="appeal_customer_idx"),
        ]

    def __str__(self) -> str:
        """ "Appeal #12": the number is the reference customers and staff quote (pages list
        appeals without loading their customers)."""
        return gettext("Appeal #%(id)s") % {"id": self.pk}

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Evidence(models.Model):
    """One uploaded file of an appeal, stored privately under `stored_name`."""

    appeal = models.ForeignKey(
        Appeal, verbose_name=_("appeal"), on_delete=models.CASCADE, related_name="evidence"
    )
    original_name = models.CharField(_("original file name"), max_length=255)
    stored_name = models.CharField(_("stored name"), max_length=100, unique=True)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")
        ordering = ["appeal", "id"]

    def __str__(self) -> str:
        return self.original_name


class AppealEvent(models.Model):
    """Append-only audit of every status transition of an appeal."""

    appeal = models.ForeignKey(
        Appeal, verbose_name=_("appeal"), on_delete=models.CASCADE, related_name="events"
    )
    from_status = models.CharField(
        _("from status"), max_length=12, choices=Appeal.Status.choices, blank=True
    )
    to_status = models.CharField(_("to status"), max_length=12, choices=Appeal.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("appeal event")
        verbose_name_plural = _("appeal events")
        ordering = ["appeal", "at", "id"]

    def __str__(self) -> str:
        """ "Appeal #12 by Liu Jing: Submitted → Under review"."""
        statuses = dict(Appeal.Status.choices)
        return gettext("%(appeal)s: %(from)s → %(to)s") % {
            "appeal": self.appeal,
            "from": statuses.get(self.from_status, "—"),
            "to": statuses.get(self.to_status, self.to_status),
        }

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("Appeal events are append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Appeal events are append-only.")


class FollowUp(models.Model):
    """An account manager's note of contact with a customer (call made, outcome).

    A *warning follow-up* (预警沟通) answers a run's warning or proposed downgrade: it names
    that run (and the proposal, if one is open) and says what comes next; it clears the
    queue's "reach out before downgrade" need for that run (manager.needs).
    """

    class Kind(models.TextChoices):
        WARNING = "warning", _("Warning follow-up")
        CALL = "call", _("Call")
        EMAIL = "email", _("E-mail")
        MEETING = "meeting", _("Meeting")
        OTHER = "other", _("Other")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="follow_ups"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.CALL)
    outcome = models.TextField(_("outcome"))
    next_step = models.TextField(_("next step"), blank=True)
    run = models.ForeignKey(
        "grading.GradingRun",
        verbose_name=_("grading run"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The run whose warning or proposed downgrade this follow-up answers."),
    )
    change = models.ForeignKey(
        "grading.GradeChange",
        verbose_name=_("proposed downgrade"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "created_at"], name="followup_customer_idx"),
            models.Index(
                fields=["customer", "run"],
                name="followup_warning_idx",
                condition=Q(kind="warning"),
            ),
        ]

    def __str__(self) -> str:
        """ "Liu Jing · Call · Dec. 3, 2026"."""
        return gettext("%(customer)s · %(kind)s · %(date)s") % {
            "customer": self.customer.name,
            "kind": self.get_kind_display(),
            "date": date_format(self.created_at, "DATE_FORMAT") if self.created_at else "—",
        }


class QueueNeeds(models.Model):
    """What needs an account manager's attention for one active customer, kept up to date.

    The manager queue reads this table (an index range scan per page) instead of computing
    every customer's needs per request. `manager.needs` maintains it: the events
    that change an input (a run, an appeal, a ticket, a grade change, a recommendation, the
    customer itself) refresh their customers' rows; `queue_needs_check` compares it with a
    full recomputation. The two time-dependent needs keep their instant: `sla_due_at` (the
    earliest first-response deadline of an open, unanswered ticket) and `upgraded_at` (the
    latest applied upgrade), so a read flips them when their time passes.
    """

    #: How far back an upgrade counts as recent (the `upgraded` need).
    RECENT_UPGRADE_DAYS = 30

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="queue_needs",
        # No per-row foreign-key checks: a full rebuild writes a million rows, and a customer
        # deleted outside the ORM (the grading trigger) leaves a row the queue's join hides
        # and `queue_needs_check --rebuild` removes.
        db_constraint=False,
    )
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # queue_manager_order_idx leads with it
        db_constraint=False,
    )
    code = models.CharField(_("code"), max_length=64)
    grade = models.ForeignKey(
        "grading.Grade",
        verbose_name=_("grade"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    #: The grade's rank, -1 when ungraded (so "best grade first" is a plain descending key).
    grade_rank = models.IntegerField(_("grade rank"), default=-1)
    composite = models.FloatField(_("composite"), null=True, blank=True)
    flag_sla = models.BooleanField(default=False)
    flag_appeal = models.BooleanField(default=False)
    flag_proposed = models.BooleanField(default=False)
    flag_follow_up = models.BooleanField(default=False)
    flag_close = models.BooleanField(default=False)
    flag_upgraded = models.BooleanField(default=False)
    flag_recommend = models.BooleanField(default=False)
    urgency = models.PositiveSmallIntegerField(_("urgency"), default=0)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    upgraded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("queue needs")
        verbose_name_plural = _("queue needs")
        indexes = [
            # The queue's order: urgency first, then value (manager.selectors).
            models.Index(
                fields=["account_manager", "-urgency", "-grade_rank", "code"],
                name="queue_manager_urgency_idx",
            ),
            models.Index(fields=["-urgency", "-grade_rank", "code"], name="queue_urgency_idx"),
            # `queue_needs_refresh_due` looks for rows whose flag disagrees with the clock:
            # one partial index per flag and value, so it reads only those rows.
            models.Index(
                fields=["sla_due_at"], name="queue_sla_on_idx", condition=Q(flag_sla=True)
            ),
            models.Index(
                fields=["sla_due_at"], name="queue_sla_off_idx", condition=Q(flag_sla=False)
            ),
            models.Index(
                fields=["upgraded_at"],
                name="queue_upgraded_on_idx",
                condition=Q(flag_upgraded=True),
            ),
            models.Index(
                fields=["upgraded_at"],
                name="queue_upgraded_off_idx",
                condition=Q(flag_upgraded=False),
            ),
        ]

    def __str__(self) -> str:
        """The customer whose needs these are."""
        return self.customer.name

    @property
    def name(self) -> str:
        return self.customer.name
