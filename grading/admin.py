"""Admin for grades, schemes, runs and the audited grade history.

Status and grade columns are read-only here: grades change through services (runs, review
decisions, overrides, appeals), never by editing a row.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from customers.admin import CustomerScopedAdmin
from grading.models import (
    CustomerGrade,
    Grade,
    GradeAuditEntry,
    GradeChange,
    GradeOverride,
    GradingRun,
    GradingScheme,
    SchemeGrade,
    ScoreSnapshot,
)


class ReadOnlyAdminMixin:
    """Rows written only by services: browse, never add, edit or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Grade)
class GradeAdmin(SimpleHistoryAdmin):
    list_display = (
        "name",
        "code",
        "rank",
        "review_cadence",
        "service_level",
        "first_response_minutes",
    )
    search_fields = ("code", "name")
    ordering = ("-rank",)


class SchemeGradeInline(admin.TabularInline):
    model = SchemeGrade
    extra = 0
    autocomplete_fields = ("grade",)
    fields = (
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


@admin.register(GradingScheme)
class GradingSchemeAdmin(SimpleHistoryAdmin):
    list_display = ("name", "version", "status", "window_days", "rfm_method", "activated_at")
    list_filter = ("status", "rfm_method")
    search_fields = ("name", "description")
    readonly_fields = (
        "status",
        "created_by",
        "created_at",
        "activated_at",
        "retired_at",
        "based_on",
    )
    inlines = (SchemeGradeInline,)


@admin.register(GradingRun)
class GradingRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "as_of",
        "scheme",
        "status",
        "scored",
        "upgraded",
        "warned",
        "downgrade_proposals",
        "downgraded",
        "unchanged",
        "duration_seconds",
    )
    list_filter = ("status", "scheme")
    list_select_related = ("scheme",)
    date_hierarchy = "as_of"


@admin.register(ScoreSnapshot)
class ScoreSnapshotAdmin(ReadOnlyAdminMixin, CustomerScopedAdmin):
    list_display = (
        "customer",
        "run",
        "r_score",
        "f_score",
        "m_score",
        "rfm_label",
        "composite",
        "computed_grade",
        "grade_after",
        "action",
    )
    list_filter = ("run", "rfm_label", "rfm_segment", "lifecycle", "pyramid", "action")
    list_select_related = ("customer", "run__scheme", "computed_grade", "grade_after")
    search_fields = ("customer__code", "customer__name")
    show_full_result_count = False


@admin.register(CustomerGrade)
class CustomerGradeAdmin(ReadOnlyAdminMixin, CustomerScopedAdmin):
    list_display = ("customer", "grade", "since", "periods_under", "last_run")
    list_filter = ("grade",)
    list_select_related = ("customer", "grade", "last_run__scheme")
    search_fields = ("customer__code", "customer__name")
    show_full_result_count = False


@admin.register(GradeChange)
class GradeChangeAdmin(ReadOnlyAdminMixin, CustomerScopedAdmin):
    list_display = (
        "customer",
        "from_grade",
        "to_grade",
        "direction",
        "status",
        "source",
        "rule",
        "created_at",
        "decided_by",
    )
    list_filter = ("status", "direction", "source", "to_grade")
    list_select_related = ("customer", "from_grade", "to_grade", "decided_by")
    search_fields = ("customer__code", "customer__name", "reason")
    date_hierarchy = "created_at"


@admin.register(GradeOverride)
class GradeOverrideAdmin(CustomerScopedAdmin, SimpleHistoryAdmin):
    list_display = (
        "customer",
        "grade",
        "source",
        "expires_on",
        "created_by",
        "created_at",
        "ended_at",
    )
    list_filter = ("source", "grade")
    list_select_related = ("customer", "grade", "created_by")
    search_fields = ("customer__code", "customer__name", "reason")
    autocomplete_fields = ("customer",)
    readonly_fields = ("source", "created_by", "created_at", "ended_at", "ended_by", "end_reason")


@admin.register(GradeAuditEntry)
class GradeAuditEntryAdmin(ReadOnlyAdminMixin, CustomerScopedAdmin):
    list_display = ("customer", "old_grade", "new_grade", "source", "actor", "reason", "created_at")
    list_filter = ("source", "new_grade")
    list_select_related = ("customer", "old_grade", "new_grade", "actor")
    search_fields = ("customer__code", "customer__name", "reason")
    date_hierarchy = "created_at"
    verbose_name = _("grade audit history")
