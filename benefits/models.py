"""Benefit catalog, redemptions, growth tasks, nudges and recommendations.

Entitlements are never stored: a customer is entitled to the benefits their CURRENT grade
carries (`grading.CustomerGrade.grade` -> `GradeBenefit`), so upgrades, downgrades,
overrides and appeals change them with no extra write. Invariants held by the database:
one redemption per (customer, benefit, period, slot) -- slots run 1..allowance -- and one
per (customer, idempotency key); one nudge event per (rule, customer, trigger).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from benefits.periods import Period, period_label
from customers.models import MONEY, Category, Customer
from grading.models import Grade

__all__ = [
    "Benefit",
    "GradeBenefit",
    "GrowthTask",
    "NudgeEvent",
    "NudgeRule",
    "Period",
    "Recommendation",
    "Redemption",
]


class Benefit(models.Model):
    """A benefit ops define once and attach to grades, with its allowance and cost."""

    class Kind(models.TextChoices):
        PERCENTAGE_DISCOUNT = "percentage_discount", _("Percentage discount")
        FIXED_COUPON = "fixed_coupon", _("Fixed-amount coupon")
        FREE_SHIPPING = "free_shipping", _("Free shipping")
        DEDICATED_MANAGER = "dedicated_manager", _("Dedicated account manager")
        PRIORITY_SUPPORT = "priority_support", _("Priority support")
        NEW_CUSTOMER_PACK = "new_customer_pack", _("New-customer pack")
        BIRTHDAY_GIFT = "birthday_gift", _("Birthday gift")

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    value = models.DecimalField(
        _("value"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Percent for a percentage discount, amount for a coupon or gift, else 0."),
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(
        _("valid until"), null=True, blank=True, help_text=_("Inclusive; empty: no end.")
    )
    allowance = models.PositiveIntegerField(
        _("uses per period"), default=1, validators=[MinValueValidator(1)]
    )
    period = models.CharField(
        _("period"),
        max_length=8,
        choices=Period.choices,
        default=Period.ONCE,
        help_text=_("Single-use: 1 use, once. '2 per month': 2 uses, month."),
    )
    cost_per_use = models.DecimalField(
        _("cost to the company per use"),
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        **MONEY,
    )
    is_active = models.BooleanField(_("active"), default=True)
    description = models.TextField(_("description"), blank=True)
    grades = models.ManyToManyField(
        Grade,
        through="GradeBenefit",
        verbose_name=_("grades"),
        related_name="benefits",
        blank=True,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    # Declared so type checkers know it: modeltranslation swaps its class at start-up
    # (name and description in English and Chinese, benefits/translation.py).
    objects: ClassVar[models.Manager[Benefit]] = models.Manager()

    class Meta:
        verbose_name = _("benefit")
        verbose_name_plural = _("benefits")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(allowance__gte=1), name="benefit_allowance_positive"
            ),
            models.CheckConstraint(
                condition=Q(cost_per_use__gte=0), name="benefit_cost_non_negative"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="benefit_value_non_negative"),
            models.CheckConstraint(
                condition=~Q(kind="percentage_discount") | Q(value__gt=0, value__lte=100),
                name="benefit_percentage_in_range",
            ),
            models.CheckConstraint(
                condition=~Q(kind="fixed_coupon") | Q(value__gt=0),
                name="benefit_coupon_has_amount",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="benefit_valid_until_after_from",
            ),
            models.CheckConstraint(condition=~Q(code=""), name="benefit_code_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        value = self.value if self.value is not None else Decimal("0")
        if self.kind == self.Kind.PERCENTAGE_DISCOUNT and not (0 < value <= 100):
            errors["value"] = _("A percentage discount needs a value above 0 and at most 100.")
        elif self.kind == self.Kind.FIXED_COUPON and value <= 0:
            errors["value"] = _("A coupon needs an amount above 0.")
        elif value < 0:
            errors["value"] = _("The value cannot be negative.")
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            errors["valid_until"] = _("The end of validity is before its start.")
        if errors:
            raise ValidationError(errors)

    def is_valid_on(self, day: dt.date) -> bool:
        """Return True if the benefit is active and `day` is inside its validity (inclusive)."""
        return (
            self.is_active
            and (self.valid_from is None or self.valid_from <= day)
            and (self.valid_until is None or day <= self.valid_until)
        )


class GradeBenefit(models.Model):
    """A grade carries a benefit: customers currently in the grade are entitled to it."""

    grade = models.ForeignKey(
        Grade, verbose_name=_("grade"), on_delete=models.CASCADE, related_name="grade_benefits"
    )
    benefit = models.ForeignKey(
        Benefit, verbose_name=_("benefit"), on_delete=models.CASCADE, related_name="grade_links"
    )

    class Meta:
        verbose_name = _("grade benefit")
        verbose_name_plural = _("grade benefits")
        ordering = ["-grade__rank", "benefit__name"]
        constraints = [
            models.UniqueConstraint(fields=["grade", "benefit"], name="grade_benefit_once"),
        ]

    def __str__(self) -> str:
        """ "Growth: Free shipping"."""
        return gettext("%(grade)s: %(benefit)s") % {
            "grade": self.grade.name,
            "benefit": self.benefit.name,
        }


class Redemption(models.Model):
    """One use of a benefit, recorded only through `benefits.services.benefit_redeem`."""

    class Channel(models.TextChoices):
        API = "api", _("API")
        ADMIN = "admin", _("Admin")
        PORTAL = "portal", _("Portal")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="redemptions"
    )
    benefit = models.ForeignKey(
        Benefit, verbose_name=_("benefit"), on_delete=models.PROTECT, related_name="redemptions"
    )
    grade = models.ForeignKey(
        Grade,
        verbose_name=_("grade at redemption"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    period_key = models.CharField(_("period"), max_length=10)
    slot = models.PositiveSmallIntegerField(_("use number in period"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=100)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    cost = models.DecimalField(_("cost to the company"), **MONEY)
    redeemed_at = models.DateTimeField(_("redeemed at"), default=timezone.now)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("redeemed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-redeemed_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "redeemed_at"], name="redemption_customer_idx"),
            models.Index(fields=["benefit", "redeemed_at"], name="redemption_benefit_idx"),
        ]
        constraints = [
            # The last line of defence against double redemption (docs/architecture.md,
            # invariant 4).
            models.UniqueConstraint(
                fields=["customer", "benefit", "period_key", "slot"],
                name="redemption_once_per_slot",
            ),
            models.UniqueConstraint(
                fields=["customer", "idempotency_key"], name="redemption_idempotency_key_once"
            ),
            models.CheckConstraint(condition=Q(slot__gte=1), name="redemption_slot_positive"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="redemption_cost_non_negative"),
            models.CheckConstraint(
                condition=~Q(idempotency_key=""), name="redemption_idempotency_key_not_empty"
            ),
        ]

    def __str__(self) -> str:
        """ "Liu Jing · Free shipping · December 2026": the admin's messages read it."""
        return gettext("%(customer)s · %(benefit)s · %(period)s") % {
            "customer": self.customer.name,
            "benefit": self.benefit.name,
            "period": period_label(self.period_key),
        }


class GrowthTask(models.Model):
    """Something a customer does that earns growth points; each code has its own detector."""

    class Code(models.TextChoices):
        COMPLETE_PROFILE = "complete_profile", _("Complete the profile")
        REVIEW_PRODUCT = "review_product", _("Review a product")
        REFER_CUSTOMER = "refer_customer_who_orders", _("Refer a customer who then orders")
        JOIN_CAMPAIGN = "join_campaign", _("Join a campaign")

    code = models.CharField(_("code"), max_length=40, choices=Code.choices, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    points = models.PositiveIntegerField(_("points"), validators=[MinValueValidator(1)])
    repeatable = models.BooleanField(
        _("repeatable"),
        default=False,
        help_text=_("Credit every completion (each review, referral, campaign) instead of once."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    objects: ClassVar[models.Manager[GrowthTask]] = models.Manager()  # as Benefit's

    class Meta:
        verbose_name = _("growth task")
        verbose_name_plural = _("growth tasks")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(points__gte=1), name="growth_task_points_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class NudgeRule(models.Model):
    """An automatic nudge ops can switch off and tune; run daily by `benefits.nudges_run`."""

    class Code(models.TextChoices):
        NEW_CUSTOMER_PACK = "new_customer_pack", _("New-customer pack")
        GROWTH_NO_ORDER_REMINDER = "growth_no_order_reminder", _("Reminder: no recent order")
        CATEGORY_CONCENTRATION = "category_concentration", _("Related-category recommendation")

    code = models.CharField(_("code"), max_length=40, choices=Code.choices, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    description = models.TextField(_("description"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("nudge rule")
        verbose_name_plural = _("nudge rules")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.get_code_display()

    def clean(self) -> None:
        from benefits.nudge_parameters import nudge_parameters_clean

        try:
            self.parameters = nudge_parameters_clean(self.code, self.parameters)
        except ValidationError as exc:
            raise ValidationError({"parameters": exc.messages}) from exc


class NudgeEvent(models.Model):
    """A nudge that fired; unique per (rule, customer, trigger) so none fires twice."""

    rule = models.ForeignKey(
        NudgeRule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="events"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="nudges"
    )
    trigger_key = models.CharField(_("trigger"), max_length=64)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    created_at = models.DateTimeField(_("fired at"), default=timezone.now)

    class Meta:
        verbose_name = _("nudge event")
        verbose_name_plural = _("nudge events")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "created_at"], name="nudge_customer_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "customer", "trigger_key"], name="nudge_once_per_trigger"
            ),
        ]

    def __str__(self) -> str:
        """ "New-customer pack → Liu Jing"."""
        return gettext("%(rule)s → %(customer)s") % {
            "rule": self.rule,
            "customer": self.customer.name,
        }


class Recommendation(models.Model):
    """A related category to suggest to a customer, waiting on the account manager's queue."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        DISMISSED = "dismissed", _("Dismissed")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="recommendations",
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("recommended category"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    based_on = models.ForeignKey(
        Category,
        verbose_name=_("category bought"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(_("reason"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["customer", "created_at"],
                name="recommendation_open_idx",
                condition=Q(status="open"),
            ),
        ]

    def __str__(self) -> str:
        """ "Liu Jing: Gift cards"."""
        return gettext("%(customer)s: %(category)s") % {
            "customer": self.customer.name,
            "category": self.category.name,
        }
