"""Grades and versioned grading schemes.

A draft scheme is edited here (fields and ladder). Active and retired schemes are read-only,
ladder included: changing one means "Create a new draft version" (`scheme_revise`), editing
the draft and activating it (`scheme_activate`), so every past run stays explainable.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from modeltranslation.admin import TranslationAdmin
from unfold.admin import TabularInline

from common.actors import acting_user
from common.exceptions import DomainError
from grading.admin.base import GuardedHistoryAdmin
from grading.models import Cadence, Grade, GradingScheme, SchemeGrade
from grading.policy import DEFAULT_COUNTS, default_counts
from grading.selectors import scheme_rungs_with_outdated_counts
from grading.services.schemes import (
    scheme_activate,
    scheme_retire,
    scheme_revise,
    scheme_revise_with_default_counts,
)


def _is_draft(scheme: GradingScheme | None) -> bool:
    """True for a new scheme (no object yet) and for a draft."""
    return scheme is None or scheme.status == GradingScheme.Status.DRAFT


@admin.register(Grade)
class GradeAdmin(GuardedHistoryAdmin, TranslationAdmin):  # name, description, service level
    list_display = (
        "name",
        "code",
        "rank",
        "review_cadence",
        "service_level",
        "first_response_minutes",
    )
    search_fields = ("code", "name_en", "name_zh_hans")
    ordering = ("-rank",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Grade]:
        # A grade's cadence lives on its rung of a scheme's ladder: show the active one's.
        rung = SchemeGrade.objects.filter(
            grade=OuterRef("pk"), scheme__status=GradingScheme.Status.ACTIVE
        )
        return (
            super()
            .get_queryset(request)
            .annotate(active_cadence=Subquery(rung.values("cadence")[:1]))
        )

    @admin.display(
        description=gettext_lazy("review cadence (active scheme)"), ordering="active_cadence"
    )
    def review_cadence(self, obj: Grade) -> str:
        cadence = getattr(obj, "active_cadence", None)
        return str(Cadence(cadence).label) if cadence else "—"


#: The columns of the ladder inline.
LADDER_FIELDS = (
    "grade",
    "min_score",
    "min_frequency",
    "min_monetary",
    "hysteresis",
    "cadence",
    "warn_after",
    "downgrade_after",
    "downgrade_needs_review",
)


class SchemeGradeForm(forms.ModelForm):
    """A ladder rung. On a new rung the counts may be left empty: they then take the
    default of the rung's cadence (`grading.policy.DEFAULT_COUNTS`: 1 and 2 monthly, 2 and 3
    quarterly)."""

    class Meta:
        model = SchemeGrade
        fields = LADDER_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            for name in ("warn_after", "downgrade_after"):
                self.fields[name].required = False
                self.fields[name].widget.attrs["placeholder"] = _("by cadence")
                self.initial[name] = None

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.instance.pk is None:
            warn_after, downgrade_after = default_counts(cleaned.get("cadence") or "")
            if cleaned.get("warn_after") is None:
                cleaned["warn_after"] = warn_after
            if cleaned.get("downgrade_after") is None:
                cleaned["downgrade_after"] = downgrade_after
        return cleaned


class SchemeGradeInline(TabularInline):
    """The ladder; editable only while its scheme is a draft (`obj` is the scheme)."""

    model = SchemeGrade
    form = SchemeGradeForm
    extra = 0
    autocomplete_fields = ("grade",)
    fields = LADDER_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_delete_permission(request, obj)


@admin.register(GradingScheme)
class GradingSchemeAdmin(GuardedHistoryAdmin):
    list_display = (
        "name",
        "version",
        "status",
        "based_on",
        "window_days",
        "rfm_method",
        "activated_at",
        "retired_at",
    )
    list_filter = ("status", "rfm_method")
    list_select_related = ("based_on",)
    search_fields = ("name", "description")
    readonly_fields = (
        "status",
        "based_on",
        "created_by",
        "created_at",
        "activated_at",
        "retired_at",
    )
    inlines = (SchemeGradeInline,)
    actions = (
        "activate_scheme",
        "revise_schemes",
        "revise_with_default_counts",
        "retire_schemes",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The version is chosen when a scheme is created (or by `scheme_revise`), then fixed.
        return self.readonly_fields if obj is None else (*self.readonly_fields, "version")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Bulk delete would bypass the per-scheme rule above (only drafts are deleted).
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {**(extra_context or {}), "can_revise": self.has_change_permission(request)}
        scheme = self.get_object(request, object_id)
        if scheme is not None and scheme.status != GradingScheme.Status.RETIRED:
            # Quarterly rungs still at the counts shipped before issue #17 (the migration
            # updated only an untouched default scheme): offer a draft with the new ones.
            outdated = scheme_rungs_with_outdated_counts(scheme=scheme)
            context["outdated_rungs"] = outdated
            context["outdated_grades"] = ", ".join(str(rung.grade) for rung in outdated)
            context["quarterly_counts"] = DEFAULT_COUNTS[Cadence.QUARTERLY]
        return super().change_view(request, object_id, form_url, context)

    def save_model(self, request: HttpRequest, obj: GradingScheme, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = acting_user(request.user)
        super().save_model(request, obj, form, change)

    @admin.action(description=gettext_lazy("Activate the selected draft"), permissions=["change"])
    def activate_scheme(self, request: HttpRequest, queryset: QuerySet[GradingScheme]) -> None:
        schemes = list(queryset[:2])
        if len(schemes) != 1:
            self.message_user(request, _("Select exactly one draft to activate."), messages.ERROR)
            return
        try:
            scheme = scheme_activate(scheme=schemes[0], by=acting_user(request.user))
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(
            request,
            _("%(scheme)s is now active; the previously active scheme was retired.")
            % {"scheme": scheme},
            messages.SUCCESS,
        )

    @admin.action(description=gettext_lazy("Create a new draft version"), permissions=["change"])
    def revise_schemes(
        self, request: HttpRequest, queryset: QuerySet[GradingScheme]
    ) -> HttpResponseRedirect | None:
        drafts = [
            scheme_revise(scheme=s, by=acting_user(request.user)) for s in queryset.order_by("pk")
        ]
        self.message_user(
            request,
            ngettext("Created draft %(drafts)s.", "Created drafts %(drafts)s.", len(drafts))
            % {"drafts": ", ".join(str(d) for d in drafts)},
            messages.SUCCESS,
        )
        if len(drafts) == 1:
            # One scheme revised (e.g. from its change page): go straight to the new draft.
            return HttpResponseRedirect(
                reverse("admin:grading_gradingscheme_change", args=[drafts[0].pk])
            )
        return None

    @admin.action(
        description=gettext_lazy("Create a new draft version with the new default counts"),
        permissions=["change"],
    )
    def revise_with_default_counts(
        self, request: HttpRequest, queryset: QuerySet[GradingScheme]
    ) -> HttpResponseRedirect | None:
        drafts = [
            scheme_revise_with_default_counts(scheme=s, by=acting_user(request.user))
            for s in queryset.order_by("pk")
        ]
        self.message_user(
            request,
            ngettext(
                "Created draft %(drafts)s: its quarterly grades warn after 2 reviews under "
                "target and propose a downgrade after 3. Check it, then activate it.",
                "Created drafts %(drafts)s: their quarterly grades warn after 2 reviews under "
                "target and propose a downgrade after 3. Check them, then activate one.",
                len(drafts),
            )
            % {"drafts": ", ".join(str(d) for d in drafts)},
            messages.SUCCESS,
        )
        if len(drafts) == 1:
            return HttpResponseRedirect(
                reverse("admin:grading_gradingscheme_change", args=[drafts[0].pk])
            )
        return None

    @admin.action(description=gettext_lazy("Retire the selected schemes"), permissions=["change"])
    def retire_schemes(self, request: HttpRequest, queryset: QuerySet[GradingScheme]) -> None:
        was_active = queryset.filter(status=GradingScheme.Status.ACTIVE).exists()
        retired = [
            scheme_retire(scheme=s, by=acting_user(request.user)) for s in queryset.order_by("pk")
        ]
        self.message_user(
            request,
            ngettext("Retired %(count)d scheme.", "Retired %(count)d schemes.", len(retired))
            % {"count": len(retired)},
            messages.SUCCESS,
        )
        if was_active:
            self.message_user(
                request,
                _("No scheme is active now: grading runs will not start until one is activated."),
                messages.WARNING,
            )
