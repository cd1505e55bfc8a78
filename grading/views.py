"""Report pages for operations (staff with `grading.view_gradingrun`) and the what-if view.

Every table can be downloaded: `?export=<table key>&format=csv|xlsx`.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.tabular import write_table
from grading import charts
from grading.models import GradingRun, GradingScheme
from grading.reports import Table
from grading.services.report_cache import (
    previous_run,
    report_builders,
    report_charts,
    report_tables,
)
from grading.services.schedule import period_as_of
from grading.whatif import scheme_what_if

EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def table_download(table: Table, *, name: str, file_format: str) -> HttpResponse:
    """Return `table` as a CSV or XLSX attachment."""
    if file_format not in EXPORT_TYPES:
        raise Http404(_("Unknown export format."))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.{file_format}"
        write_table(path, table.columns, table.rows, kinds=table.kinds)
        content = path.read_bytes()
    response = HttpResponse(content, content_type=EXPORT_TYPES[file_format])
    response["Content-Disposition"] = f'attachment; filename="{name}.{file_format}"'
    return response


def context_query(run: GradingRun, before: GradingRun | None) -> str:
    """Return the query string selecting `run` (and `before`) on the reports page."""
    return f"run={run.pk}" + (f"&before={before.pk}" if before else "")


def _runs(request: HttpRequest) -> tuple[GradingRun | None, GradingRun | None]:
    succeeded = GradingRun.objects.filter(status=GradingRun.Status.SUCCEEDED).select_related(
        "scheme"
    )
    run_id = request.GET.get("run")
    run = get_object_or_404(succeeded, pk=run_id) if run_id else succeeded.first()
    if run is None:
        return None, None
    before_id = request.GET.get("before")
    before = get_object_or_404(succeeded, pk=before_id) if before_id else previous_run(run)
    return run, before


@staff_member_required
@permission_required("grading.view_gradingrun", raise_exception=True)
def reports_view(request: HttpRequest) -> HttpResponse:
    """Render every grading report for one run (default: the latest)."""
    run, before = _runs(request)
    context = {
        **admin.site.each_context(request),
        "title": _("Grading reports"),
        "run": run,
        "before": before,
        "runs": GradingRun.objects.filter(status=GradingRun.Status.SUCCEEDED).select_related(
            "scheme"
        )[:36],
    }
    if run is None:
        return render(request, "reports/index.html", context)
    export = request.GET.get("export")
    if export:
        if export == "pareto" or export not in report_builders(run, before):
            raise Http404(_("Unknown report."))
        # Only the table asked for is computed (or read from the cache).
        table = report_tables(run=run, before=before, keys=[export]).tables[export]
        return table_download(
            table, name=f"{export}-{run.as_of}", file_format=request.GET.get("format", "csv")
        )
    refresh = request.method == "POST" and "recompute" in request.POST
    result = report_tables(run=run, before=before, refresh=refresh)
    if refresh:
        return redirect(f"{request.path}?{context_query(run, before)}")
    tables = dict(result.tables)
    pareto = tables.pop("pareto")
    context["computed_at"] = result.computed_at
    context["report_query"] = context_query(run, before) + "&"
    distribution = tables["distribution"]
    context.update(
        {
            "tables": tables,
            "pareto": pareto,
            "pareto_chart": charts.line_chart(
                pareto.points, x_title=_("share of customers"), y_title=_("share of revenue")
            ),
            "distribution_chart": charts.bar_chart(
                [str(r[0]) for r in distribution.rows],
                [r[1] for r in distribution.rows],
                kind="count",
            ),
            "section_charts": report_charts(tables),
            "revenue_chart": charts.bar_chart(
                [str(r[0]) for r in tables["revenue"].rows],
                [r[3] for r in tables["revenue"].rows],
                kind="percent",
            ),
        }
    )
    return render(request, "reports/index.html", context)


@staff_member_required
@permission_required("grading.view_gradingscheme", raise_exception=True)
def scheme_what_if_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Show how the population would move under scheme `pk` (typically a draft)."""
    scheme = get_object_or_404(GradingScheme, pk=pk)
    as_of_text = request.GET.get("as_of")
    try:
        as_of = dt.date.fromisoformat(as_of_text) if as_of_text else None
    except ValueError:
        as_of = None
    as_of = as_of or period_as_of(timezone.localdate())
    result = scheme_what_if(scheme=scheme, as_of=as_of)
    export = request.GET.get("export")
    if export:
        if export not in result.tables():
            raise Http404(_("Unknown report."))
        return table_download(
            result.tables()[export],
            name=f"what-if-{scheme.name}-v{scheme.version}-{export}",
            file_format=request.GET.get("format", "csv"),
        )
    context = {
        **admin.site.each_context(request),
        "title": _("What-if: %(scheme)s") % {"scheme": scheme},
        "result": result,
        "scheme": scheme,
        "report_query": f"as_of={as_of.isoformat()}&",
    }
    return render(request, "reports/what_if.html", context)
