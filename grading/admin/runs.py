"""Grading runs and their snapshots: written only by the engine, browsed here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from common import formatting
from common.admin import ModelAdmin
from common.durations import duration_display
from common.exceptions import ConflictError, DomainError
from common.listing import choices_filter
from customers.admin import CustomerScopedAdmin
from grading.admin.base import ReadOnlyAdminMixin
from grading.forms import GradeNowForm, add_domain_error
from grading.labels import (
    ACTION_LABELS,
    LIFECYCLE_LABELS,
    PYRAMID_LABELS,
    RFM_LABEL_LABELS,
    action_label,
    choices,
    rfm_label_label,
)
from grading.models import GradingRun, ScoreSnapshot
from grading.scoring.rules import RFM_SEGMENTS
from grading.selectors import run_progress
from grading.services.runs import grading_run_queue

#: Who may start a run ("Grade now"): Operations (migration 0012).
RUN_PERMISSION = "grading.run_grading"


@admin.register(GradingRun)
class GradingRunAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """The runs, read-only; "Grade now" starts one, and a running run shows its progress.

    Starting a run needs `grading.run_grading` (Operations); the progress endpoint answers
    anyone who may view runs. docs/operations.md, "Grading from the admin".
    """

    list_display = (
        "as_of",
        "scheme",
        "progress",
        "scored",
        "upgraded",
        "warned",
        "downgrade_proposals",
        "downgraded",
        "unchanged",
        "duration",
    )
    list_filter = ("status", "scheme")
    list_select_related = ("scheme",)
    date_hierarchy = "as_of"
    # The progress panel above the fields shows phase and customers done; the duration is
    # shown for people ("1 min 12 s"), not as the stored float.
    exclude = (
        "phase_seconds",
        "population_cuts",
        "duration_seconds",
        "phase",
        "progress_done",
        "progress_total",
        "progress_at",
    )
    readonly_fields = ("duration", "phase_durations")

    class Media:
        css = {"all": ("css/run-progress.css",)}
        js = ("js/run-progress.js",)

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("grade-now/", view(self.grade_now_view), name="{}_{}_grade_now".format(*info)),
            path(
                "<path:object_id>/progress/",
                view(self.progress_view),
                name="{}_{}_progress".format(*info),
            ),
            *super().get_urls(),
        ]

    def has_run_permission(self, request: HttpRequest) -> bool:
        """Starting a run needs `grading.run_grading` (Operations)."""
        return request.user.has_perm(RUN_PERMISSION)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "may_grade_now": self.has_run_permission(request)}
        return super().changelist_view(request, context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        run = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if run is not None:
            context["run_progress"] = run_progress(run=run)
            context["title"] = str(run)
        return super().change_view(request, object_id, form_url, context)

    def grade_now_view(self, request: HttpRequest) -> HttpResponse:
        """The "Grade now" form: queue a run, then open its page to watch it."""
        if not self.has_run_permission(request):
            raise PermissionDenied
        form = GradeNowForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            scheme, as_of = form.cleaned_data["scheme"], form.cleaned_data["as_of"]
            try:
                run = grading_run_queue(as_of=as_of, scheme=scheme, by=request.user.get_username())
            except ConflictError as error:
                # Graded or being graded: say so, and show that run rather than the form.
                self.message_user(request, error.message, messages.WARNING)
                existing = GradingRun.objects.get(scheme=scheme, as_of=as_of)
                return redirect(self._run_url(existing))
            except DomainError as error:
                add_domain_error(form, error)
            else:
                self.message_user(
                    request,
                    _("%(run)s is queued: its progress shows below.") % {"run": run},
                    messages.SUCCESS,
                )
                return redirect(self._run_url(run))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Grade now"),
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/grading/gradingrun/grade_now.html", context)

    def progress_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """The run's progress as JSON, for the page's polling script (staff who may view)."""
        run = self.get_object(request, unquote(object_id))
        if run is None:
            raise Http404
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        response = JsonResponse(run_progress(run=run).as_json())
        response["Cache-Control"] = "no-store"
        return response

    def _run_url(self, run: GradingRun) -> str:
        return reverse("admin:grading_gradingrun_change", args=[run.pk])

    @admin.display(description=_("status"), ordering="status")
    def progress(self, run: GradingRun) -> str:
        """The status; a failed run says why, one not finished yet shows its live progress
        (polled by a script)."""
        state = run_progress(run=run)
        if state.error:
            return format_html(
                '{}<br><span class="run-failure">{}</span>', state.status_label, state.error
            )
        if state.finished:
            return state.status_label
        url = reverse("admin:grading_gradingrun_progress", args=[run.pk])
        return format_html(
            '<div class="run-progress" data-run-progress-url="{}" data-run-reload="1">'
            '<progress max="100" value="{}">{} %</progress> '
            '<span data-run-field="status_label">{}</span> · '
            '<span data-run-field="phase_label">{}</span> · '
            '<span data-run-field="percent">{}</span> % · '
            '<span data-run-field="customers">{}</span> · '
            '<span data-run-field="elapsed">{}</span> · '
            '<span data-run-field="eta">{}</span>'
            "</div>",
            url,
            state.percent,
            state.percent,
            state.status_label,
            state.phase_label,
            state.percent,
            state.customers_display,
            state.elapsed_display,
            state.eta_display,
        )

    @admin.display(description=_("duration"), ordering="duration_seconds")
    def duration(self, run: GradingRun) -> str:
        return duration_display(run.duration_seconds)

    @admin.display(description=_("time per phase"))
    def phase_durations(self, run: GradingRun) -> str:
        names = {**dict(GradingRun.Phase.choices), "commit": _("Committing")}
        order = list(names)  # the pipeline's order; JSON may hold them in any order
        timed = sorted(
            (run.phase_seconds or {}).items(),
            key=lambda item: order.index(item[0]) if item[0] in order else len(order),
        )
        text = " · ".join(
            f"{names.get(phase, phase)} {duration_display(seconds)}" for phase, seconds in timed
        )
        return text or "—"


@admin.register(ScoreSnapshot)
class ScoreSnapshotAdmin(ReadOnlyAdminMixin, CustomerScopedAdmin):
    list_display = (
        "customer",
        "run",
        "r_score",
        "f_score",
        "m_score",
        "rfm_label_name",
        "composite_score",
        "computed_grade",
        "grade_after",
        "action_name",
    )
    # Choices from the scoring package (by their labels), never a SELECT DISTINCT over
    # millions of snapshots.
    list_filter = (
        "run",
        choices_filter("rfm_label", _("RFM label"), choices(RFM_LABEL_LABELS)),
        choices_filter("rfm_segment", _("RFM segment"), RFM_SEGMENTS),
        choices_filter("lifecycle", _("lifecycle stage"), choices(LIFECYCLE_LABELS)),
        choices_filter("pyramid", _("value pyramid"), choices(PYRAMID_LABELS)),
        choices_filter("action", _("decision"), choices(ACTION_LABELS)),
    )
    list_select_related = ("customer", "run__scheme", "computed_grade", "grade_after")
    search_fields = ("customer__code", "customer__name")

    @admin.display(description=_("RFM label"), ordering="rfm_label")
    def rfm_label_name(self, obj: ScoreSnapshot) -> str:
        return rfm_label_label(obj.rfm_label)

    @admin.display(description=_("composite"), ordering="composite")
    def composite_score(self, obj: ScoreSnapshot) -> str:
        return formatting.score(obj.composite)

    @admin.display(description=_("decision"), ordering="action")
    def action_name(self, obj: ScoreSnapshot) -> str:
        return action_label(obj.action)
