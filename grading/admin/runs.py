"""Grading runs and their snapshots: written only by the engine, browsed here."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from customers.admin import CustomerScopedAdmin
from grading.admin.base import ReadOnlyAdminMixin
from grading.models import GradingRun, ScoreSnapshot


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
        "failure",
    )
    list_filter = ("status", "scheme")
    list_select_related = ("scheme",)
    date_hierarchy = "as_of"

    @admin.display(description=_("why it failed"))
    def failure(self, run: GradingRun) -> str:
        """The last line of a failed run's error: the exception, or why it was interrupted."""
        if run.status != GradingRun.Status.FAILED or not run.error:
            return ""
        return run.error.strip().splitlines()[-1][:200]


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
