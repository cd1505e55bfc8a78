"""Admin for the benefit catalog, growth tasks, nudge rules, redemptions and recommendations.

Redemptions are written only by `benefit_redeem`: the add page calls it (its refusals are
form errors), existing rows are read-only. Customer-level rows go through
`CustomerScopedAdmin`, so an account manager sees only their own customers' rows.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import TabularInline

from benefits.models import (
    Benefit,
    GradeBenefit,
    GrowthTask,
    NudgeEvent,
    NudgeRule,
    Recommendation,
    Redemption,
)
from benefits.periods import period_label
from benefits.selectors import customer_current_grade
from benefits.services.recommendations import recommendation_decide
from benefits.services.redemptions import benefit_redeem, redemption_check
from common.actors import acting_user
from common.admin import ModelAdmin
from common.exceptions import DomainError
from common.listing import money_column
from common.translation_admin import TranslationTabsAdmin
from customers.admin import CustomerScopedAdmin
from customers.models import PointsEntry


class ReadOnlyAdminMixin:
    """Rows written only by services: browse, never add, edit or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class GradeBenefitInline(TabularInline):
    model = GradeBenefit
    extra = 0
    autocomplete_fields = ("grade",)
    verbose_name = _("grade carrying this benefit")
    verbose_name_plural = _("grades carrying this benefit")


@admin.register(Benefit)
class BenefitAdmin(ModelAdmin, TranslationTabsAdmin):  # name, description: in English and Chinese
    list_display = (
        "name",
        "code",
        "kind",
        "value",
        "allowance",
        "period",
        money_column("cost_per_use", _("cost to the company per use")),
        "valid_from",
        "valid_until",
        "is_active",
        "grade_list",
    )
    list_filter = ("kind", "period", "is_active", "grades")
    search_fields = ("code", "name_en", "name_zh_hans", "description_en", "description_zh_hans")
    readonly_fields = ("created_at", "updated_at")
    inlines = (GradeBenefitInline,)
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "value", "is_active", "description")}),
        (_("Allowance and cost"), {"fields": ("allowance", "period", "cost_per_use")}),
        (_("Validity"), {"fields": ("valid_from", "valid_until")}),
        (_("Bookkeeping"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Benefit]:
        return super().get_queryset(request).prefetch_related("grades")

    @admin.display(description=_("grades"))
    def grade_list(self, obj: Benefit) -> str:
        return ", ".join(g.name for g in obj.grades.all()) or "—"


@admin.register(GrowthTask)
class GrowthTaskAdmin(ModelAdmin, TranslationTabsAdmin):  # name, description: English and Chinese
    list_display = ("name", "code", "points", "repeatable", "is_active")
    list_filter = ("is_active", "repeatable")
    search_fields = ("code", "name_en", "name_zh_hans")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The code selects the detector; a task is switched off, never recoded.
        return ("code",) if obj else ()


@admin.register(NudgeRule)
class NudgeRuleAdmin(ModelAdmin):
    list_display = ("code", "enabled", "parameters", "updated_at")
    list_editable = ("enabled",)
    list_filter = ("enabled",)
    readonly_fields = ("code", "updated_at")
    fields = ("code", "enabled", "parameters", "description", "updated_at")
    actions = ("enable_rules", "disable_rules")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The rules are seeded: each code has its own implementation.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Switch on the selected rules"), permissions=("change",))
    def enable_rules(self, request: HttpRequest, queryset: QuerySet[NudgeRule]) -> None:
        changed = queryset.filter(enabled=False).update(enabled=True, updated_at=timezone.now())
        self.message_user(
            request, ngettext("%d rule switched on.", "%d rules switched on.", changed) % changed
        )

    @admin.action(description=_("Switch off the selected rules"), permissions=("change",))
    def disable_rules(self, request: HttpRequest, queryset: QuerySet[NudgeRule]) -> None:
        changed = queryset.filter(enabled=True).update(enabled=False, updated_at=timezone.now())
        self.message_user(
            request, ngettext("%d rule switched off.", "%d rules switched off.", changed) % changed
        )


@admin.register(NudgeEvent)
class NudgeEventAdmin(ReadOnlyAdminMixin, CustomerScopedAdmin):
    list_display = ("created_at", "rule", "customer", "trigger_key")
    list_filter = ("rule",)
    list_select_related = ("rule", "customer")
    search_fields = ("customer__code", "customer__name", "trigger_key")
    date_hierarchy = "created_at"
    show_full_result_count = False


class RedemptionAddForm(forms.ModelForm):
    """Pick a customer and a benefit; the hidden key makes a double submit redeem once."""

    submission_key = forms.CharField(widget=forms.HiddenInput, max_length=100)

    class Meta:
        model = Redemption
        fields = ("customer", "benefit")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        customer, benefit = cleaned.get("customer"), cleaned.get("benefit")
        key = cleaned.get("submission_key")
        if customer is None or benefit is None or not key:
            return cleaned
        if Redemption.objects.filter(customer=customer, idempotency_key=key).exists():
            return cleaned  # a re-submitted form: the service returns the first result
        try:
            # Early, unlocked check for a friendly message; the service decides under lock.
            redemption_check(
                customer_id=customer.pk,
                grade=customer_current_grade(customer),
                benefit=benefit,
                today=timezone.localdate(),
            )
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


@admin.register(Redemption)
class RedemptionAdmin(CustomerScopedAdmin):
    list_display = (
        "redeemed_at",
        "customer",
        "benefit",
        "grade",
        "period",
        "slot",
        "channel",
        money_column("cost", _("cost to the company")),
        "redeemed_by",
    )
    list_filter = ("channel", "grade", "benefit")
    list_select_related = ("customer", "benefit", "grade", "redeemed_by")
    search_fields = ("customer__code", "customer__name", "benefit__code", "idempotency_key")
    date_hierarchy = "redeemed_at"
    autocomplete_fields = ("customer", "benefit")
    show_full_result_count = False
    view_fields = (
        "customer",
        "benefit",
        "grade",
        "period_key",
        "slot",
        "channel",
        "cost",
        "redeemed_at",
        "redeemed_by",
        "idempotency_key",
    )

    @admin.display(description=_("period"), ordering="period_key")
    def period(self, obj: Redemption) -> str:
        """The allowance period in words ("December 2026"), not its key."""
        return period_label(obj.period_key)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = RedemptionAddForm
            kwargs["fields"] = ("customer", "benefit", "submission_key")
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.view_fields if obj else ("customer", "benefit", "submission_key")

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # A fresh key per rendered form: submitting the same form twice redeems once.
        return {**super().get_changeform_initial_data(request), "submission_key": uuid.uuid4().hex}

    def save_model(self, request: HttpRequest, obj: Redemption, form: Any, change: bool) -> None:
        redemption = benefit_redeem(
            customer_id=obj.customer_id,
            benefit_code=obj.benefit.code,
            idempotency_key=form.cleaned_data["submission_key"],
            channel=Redemption.Channel.ADMIN,
            by=acting_user(request.user),
        )
        # The admin goes on to log and redirect with `obj`: make it the stored row.
        for field in Redemption._meta.concrete_fields:
            setattr(obj, field.attname, getattr(redemption, field.attname))
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None  # no relations to save; the service wrote everything

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            # The service refused after the form's early check passed (a concurrent
            # redemption or grade change won the race); nothing was written.
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Recommendation)
class RecommendationAdmin(CustomerScopedAdmin):
    list_display = ("created_at", "customer", "category", "based_on", "status", "decided_by")
    list_filter = ("status",)
    list_select_related = ("customer", "category", "based_on", "decided_by")
    search_fields = ("customer__code", "customer__name", "category__name")
    date_hierarchy = "created_at"
    readonly_fields = (
        "customer",
        "category",
        "based_on",
        "reason",
        "status",
        "created_at",
        "decided_at",
        "decided_by",
    )
    actions = ("mark_done", "dismiss")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # recommendations come from the category nudge

    def _decide(self, request: HttpRequest, queryset: QuerySet[Recommendation], status: str) -> int:
        decided = 0
        for pk in queryset.filter(status=Recommendation.Status.OPEN).values_list("pk", flat=True):
            recommendation_decide(recommendation_id=pk, status=status, by=acting_user(request.user))
            decided += 1
        return decided

    @admin.action(description=_("Mark the selected recommendations done"), permissions=("change",))
    def mark_done(self, request: HttpRequest, queryset: QuerySet[Recommendation]) -> None:
        n = self._decide(request, queryset, Recommendation.Status.DONE)
        self.message_user(
            request, ngettext("%d recommendation done.", "%d recommendations done.", n) % n
        )

    @admin.action(description=_("Dismiss the selected recommendations"), permissions=("change",))
    def dismiss(self, request: HttpRequest, queryset: QuerySet[Recommendation]) -> None:
        n = self._decide(request, queryset, Recommendation.Status.DISMISSED)
        self.message_user(
            request,
            ngettext("%d recommendation dismissed.", "%d recommendations dismissed.", n) % n,
        )


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdminMixin, CustomerScopedAdmin):
    """The customers app's points ledger, browsed here next to the tasks that credit it."""

    list_display = ("created_at", "customer", "task_code", "points", "reason")
    list_filter = ("task_code",)
    list_select_related = ("customer",)
    search_fields = ("customer__code", "customer__name", "dedupe_key")
    date_hierarchy = "created_at"
    show_full_result_count = False
