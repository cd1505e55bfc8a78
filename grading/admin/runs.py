"""Grading runs and their snapshots: written only by the engine, browsed here."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
)
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from common import formatting
from common.admin import ModelAdmin
from common.durations import duration_display
from common.exceptions import ConflictError, DomainError
from common.listing import KeysFirstPaginator, choices_filter
from customers.admin import CustomerScopedAdmin
from customers.admin_io import FORMATS
from customers.tabular import write_table
from grading.admin.base import ReadOnlyAdminMixin
from grading.exports import score_export_frame
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


#: The run's counters, shown grouped by `formatting.count` (`<name>_count` on the admin).
COUNT_FIELDS = (
    "scored",
    "assigned",
    "upgraded",
    "warned",
    "downgrade_proposals",
    "downgraded",
    "unchanged",
    "pinned",
)


def _verbose_name(name: str) -> Any:
    """The (lazy, translated) verbose name of the run's field `name`."""
    field = GradingRun._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.verbose_name


def _count_display(name: str) -> Any:
    """A display method showing the run's counter `name` grouped: 1,444."""

    def display(self: Any, run: GradingRun) -> str:
        return formatting.count(getattr(run, name))

    return admin.display(description=_verbose_name(name), ordering=name)(display)


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
        "scored_count",
        "upgraded_count",
        "warned_count",
        "downgrade_proposals_count",
        "downgraded_count",
        "unchanged_count",
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
        "snapshots_archived_at",
        "snapshots_archive",
        "snapshots_archived_rows",
        "snapshots_archived_by",
    )
    # The counters read as people read numbers ("1,444", "2,000"), not as stored integers.
    fields = (
        "scheme",
        "as_of",
        "status",
        "triggered_by",
        "started_at",
        "finished_at",
        "shards_count",
        *(f"{name}_count" for name in COUNT_FIELDS),
        "error",
        "duration",
        "phase_durations",
        "snapshots_kept",
    )
    readonly_fields = (
        "shards_count",
        *(f"{name}_count" for name in COUNT_FIELDS),
        "duration",
        "phase_durations",
        "snapshots_kept",
    )

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
            path(
                "<path:object_id>/snapshots/",
                view(self.archive_download_view),
                name="{}_{}_snapshots".format(*info),
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

    def archive_download_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """An archived run's scores (the `export_scores` columns) read from its Parquet file,
        as CSV or XLSX (`?format=`), for staff who may view runs."""
        run = self.get_object(request, unquote(object_id))
        if run is None or not run.snapshots_archive:
            raise Http404
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        file_format = request.GET.get("format", "csv")
        if file_format not in FORMATS:
            raise Http404(_("Unknown file format."))
        try:
            frame, _source = score_export_frame(as_of=run.as_of, scheme=run.scheme)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return redirect(self._run_url(run))
        handle, name = tempfile.mkstemp(suffix=f".{file_format}", prefix="run-scores-")
        os.close(handle)
        try:
            # Missing values (a prospect's recency) as empty cells, not pandas' NA.
            cells = frame.astype(object).where(frame.notna(), None)
            write_table(name, list(frame.columns), cells.itertuples(index=False, name=None))
            workbook = open(name, "rb")  # noqa: SIM115 (closed by the response)
        finally:
            os.unlink(name)
        return FileResponse(
            workbook,
            as_attachment=True,
            filename=f"scores-{run.as_of.isoformat()}-run-{run.pk}.{file_format}",
            content_type=FORMATS[file_format],
        )

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

    @admin.display(description=_verbose_name("shards"))
    def shards_count(self, run: GradingRun) -> str:
        return formatting.count(run.shards)

    @admin.display(description=_("duration"), ordering="duration_seconds")
    def duration(self, run: GradingRun) -> str:
        return duration_display(run.duration_seconds)

    @admin.display(description=_("snapshots"))
    def snapshots_kept(self, run: GradingRun) -> str:
        """Where the run's snapshots are: in the database, or archived (with downloads) or
        dropped by retention (docs/operations.md, "Snapshots and retention")."""
        if run.snapshots_archived_at is None:
            return str(_("In the database: explanations and history read them directly."))
        when = date_format(timezone.localtime(run.snapshots_archived_at), "DATETIME_FORMAT")
        if not run.snapshots_archive:
            return _(
                "Dropped by retention on %(when)s without an archive: the run's counts and "
                "changes remain, its per-customer scores are gone."
            ) % {"when": when}
        url = reverse("admin:grading_gradingrun_snapshots", args=[run.pk])
        link = '<a class="text-primary-600 dark:text-primary-500" href="{}?format={}">{}</a>'
        return format_html(
            '<span data-testid="snapshots-kept">{}<br>{} · ' + link + " · " + link + "</span>",
            _(
                "Archived on %(when)s: the scores left the database for a Parquet file "
                "(customers: %(rows)s). Explanations of this run are no longer shown."
            )
            % {"when": when, "rows": formatting.count(run.snapshots_archived_rows)},
            _("Download the scores"),
            url,
            "csv",
            "CSV",
            url,
            "xlsx",
            "XLSX",
        )

    @admin.display(description=_("time per phase"))
    def phase_durations(self, run: GradingRun) -> str:
        names = {
            "cuts": capfirst(GradingRun._meta.get_field("population_cuts").verbose_name),
            **dict(GradingRun.Phase.choices),
            "commit": _("Committing"),
        }
        order = list(names)  # the pipeline's order; JSON may hold them in any order
        # A sharded run also keeps each shard's timings (a list, under "shards"): left out.
        timed = sorted(
            (
                (phase, seconds)
                for phase, seconds in (run.phase_seconds or {}).items()
                if isinstance(seconds, int | float)
            ),
            key=lambda item: order.index(item[0]) if item[0] in order else len(order),
        )
        text = " · ".join(
            f"{names.get(phase, phase)} {duration_display(seconds)}" for phase, seconds in timed
        )
        return text or "—"


for _name in COUNT_FIELDS:
    setattr(GradingRunAdmin, f"{_name}_count", _count_display(_name))


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
    # One partition per run (docs/operations.md, "Snapshots and retention"): the page's keys
    # first, so a planner without current statistics on the parent never sorts every row.
    paginator = KeysFirstPaginator

    @admin.display(description=_("RFM label"), ordering="rfm_label")
    def rfm_label_name(self, obj: ScoreSnapshot) -> str:
        return rfm_label_label(obj.rfm_label)

    @admin.display(description=_("composite"), ordering="composite")
    def composite_score(self, obj: ScoreSnapshot) -> str:
        return formatting.score(obj.composite)

    @admin.display(description=_("decision"), ordering="action")
    def action_name(self, obj: ScoreSnapshot) -> str:
        return action_label(obj.action)
