"""Report pages for operations (staff with `grading.view_gradingrun`) and the what-if view.

Every table can be downloaded: `?export=<table key>&format=csv|xlsx`.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from common.actors import acting_user
from common.exceptions import DomainError
from customers.tabular import write_table
from grading import charts
from grading.models import GradeChange, GradingRun, GradingScheme
from grading.reports import Table
from grading.services.report_cache import (
    previous_run,
    report_builders,
    report_charts,
    report_tables,
)
from grading.services.schedule import period_as_of
from grading.services.schemes import scheme_activate
from grading.whatif import (
    scheme_what_if,
    what_if_mover_rows,
    what_if_mover_table,
    what_if_movers,
    what_if_moves,
)

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


#: Movers listed per page of the what-if view.
MOVERS_PER_PAGE = 50


def _what_if_as_of(request: HttpRequest) -> dt.date:
    """Return the as-of date asked for (`as_of`), else the current period's start."""
    as_of_text = request.GET.get("as_of") or request.POST.get("as_of")
    try:
        as_of = dt.date.fromisoformat(as_of_text) if as_of_text else None
    except ValueError:
        as_of = None
    return as_of or period_as_of(timezone.localdate())


def _scheme_in_words(scheme: GradingScheme) -> str:
    return _("“%(name)s” version %(version)s") % {"name": scheme.name, "version": scheme.version}


@staff_member_required
@permission_required("grading.view_gradingscheme", raise_exception=True)
def scheme_what_if_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Show how the population would move under scheme `pk` (typically a draft).

    Lists the customers who would change grade, filterable by move (`move=key>growth`) and
    direction (`direction=up|down|assign`), 50 a page; `export=movers` downloads them (CSV
    with a byte-order mark, so spreadsheet programs read it as UTF-8, or XLSX). The scoring
    is cached per (draft, as-of) (`grading.whatif`); a POST with "recompute" scores again.
    """
    scheme = get_object_or_404(GradingScheme, pk=pk)
    as_of = _what_if_as_of(request)
    if request.method == "POST":
        scheme_what_if(scheme=scheme, as_of=as_of, refresh=True)
        return redirect(f"{request.path}?as_of={as_of.isoformat()}")
    result = scheme_what_if(scheme=scheme, as_of=as_of)
    moves = what_if_moves(result)
    move = request.GET.get("move", "")
    move = move if move in {key for key, _label, _count in moves} else ""
    direction = request.GET.get("direction", "")
    direction = direction if direction in GradeChange.Direction.values else ""
    movers = what_if_movers(result, move=move, direction=direction)
    export = request.GET.get("export")
    file_format = request.GET.get("format", "csv")
    name = f"what-if-{scheme.name}-v{scheme.version}"
    if export == "movers":
        # A CSV gets its BOM from write_table, as every table download does.
        return table_download(
            what_if_mover_table(result, movers), name=f"{name}-movers", file_format=file_format
        )
    if export:
        if export not in result.tables():
            raise Http404(_("Unknown report."))
        return table_download(
            result.tables()[export], name=f"{name}-{export}", file_format=file_format
        )
    page = Paginator(range(len(movers)), MOVERS_PER_PAGE).get_page(request.GET.get("page"))
    page_movers = movers.iloc[page.start_index() - 1 : page.end_index()] if len(movers) else movers
    filters = {"as_of": as_of.isoformat(), "move": move, "direction": direction}
    context = {
        **admin.site.each_context(request),
        "title": _("What-if: %(scheme)s") % {"scheme": scheme},
        "result": result,
        "scheme": scheme,
        "report_query": f"as_of={as_of.isoformat()}&",
        "moves": moves,
        "move": move,
        "direction": direction,
        "directions": GradeChange.Direction.choices,
        "movers_count": len(movers),
        "movers": what_if_mover_rows(result, page_movers),
        "page": page,
        "movers_query": urlencode({k: v for k, v in filters.items() if v}),
        "can_activate": scheme.status == GradingScheme.Status.DRAFT
        and request.user.has_perm("grading.change_gradingscheme"),
    }
    return render(request, "reports/what_if.html", context)


@staff_member_required
@permission_required("grading.change_gradingscheme", raise_exception=True)
def scheme_activate_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Activate draft `pk` from its what-if page: a confirmation page, then the service.

    `scheme_activate` checks the scheme (a draft, a ladder that can grade), retires the
    active scheme and writes the history rows (who, when) in one transaction; a refusal is
    shown on the what-if page.
    """
    scheme = get_object_or_404(GradingScheme, pk=pk)
    as_of = _what_if_as_of(request)
    what_if_url = f"{reverse('reports:what-if', args=[scheme.pk])}?as_of={as_of.isoformat()}"
    if scheme.status != GradingScheme.Status.DRAFT:
        messages.error(
            request,
            _("Only a draft can be activated; %(scheme)s is %(status)s.")
            % {"scheme": _scheme_in_words(scheme), "status": scheme.get_status_display().lower()},
        )
        return redirect(what_if_url)
    active = GradingScheme.objects.filter(status=GradingScheme.Status.ACTIVE).first()
    if request.method == "POST":
        try:
            activated = scheme_activate(scheme=scheme, by=acting_user(request.user))
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(what_if_url)
        messages.success(
            request,
            (
                _(
                    "%(scheme)s is now the active grading scheme; %(previous)s was retired. "
                    "The next grading run grades with it."
                )
                if active is not None
                else _("%(scheme)s is now the active grading scheme.")
            )
            % {
                "scheme": _scheme_in_words(activated),
                "previous": _scheme_in_words(active) if active is not None else "",
            },
        )
        return redirect(reverse("admin:grading_gradingscheme_change", args=[activated.pk]))
    result = scheme_what_if(scheme=scheme, as_of=as_of)
    context = {
        **admin.site.each_context(request),
        "title": _("Activate %(scheme)s?") % {"scheme": _scheme_in_words(scheme)},
        "scheme": scheme,
        "scheme_words": _scheme_in_words(scheme),
        "active_words": _scheme_in_words(active) if active is not None else "",
        "result": result,
        "as_of": as_of,
        "what_if_url": what_if_url,
    }
    return render(request, "reports/what_if_activate.html", context)
