"""Grading runs and their snapshots: written only by the engine, browsed here."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from common.listing import choices_filter
from customers.admin import CustomerScopedAdmin
from grading.admin.base import ReadOnlyAdminMixin
from grading.models import GradingRun, ScoreSnapshot
from grading.policy import ACTIONS
from grading.scoring.rules import LIFECYCLE_STAGES, PYRAMID_LAYERS, RFM_LABELS, RFM_SEGMENTS
from grading.services.runs import INTERRUPTED


@admin.register(GradingRun)
class GradingRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "as_of",
        "scheme",
        "status",
        "failure",
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

    @admin.display(description=_("why it failed"))
    def failure(self, run: GradingRun) -> str:
        """The last line of a failed run's error: the exception, or why it was interrupted."""
        if run.status != GradingRun.Status.FAILED or not run.error:
            return ""
        if run.error == INTERRUPTED:  # stored in English; shown in the reader's language
            return str(
                _(
                    "Interrupted: the process running it stopped before it finished. Run it "
                    "again: it resumes and converges."
                )
            )
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
    # Choices from the scoring package, never a SELECT DISTINCT over millions of snapshots.
    list_filter = (
        "run",
        choices_filter("rfm_label", _("RFM label"), RFM_LABELS),
        choices_filter("rfm_segment", _("RFM segment"), RFM_SEGMENTS),
        choices_filter("lifecycle", _("lifecycle stage"), LIFECYCLE_STAGES),
        choices_filter("pyramid", _("value pyramid"), PYRAMID_LAYERS),
        choices_filter("action", _("decision"), ACTIONS),
    )
    list_select_related = ("customer", "run__scheme", "computed_grade", "grade_after")
    search_fields = ("customer__code", "customer__name")
