"""The reports page's tables, computed once per run and kept in the cache.

A finished run's snapshots never change, so its heavy report tables (a GROUP BY over a
million snapshots, the window's orders, redemptions and tickets) are computed once: right
after the run commits (`reports_warm`, a Celery task, in every language of the site) or on
the first view, then served from the cache (`settings.CACHES`: a file cache under var/ on
the embedded default, Redis in production) for `TIERHUB_REPORT_CACHE_SECONDS`. Late data (an
order imported after the run into its window) shows after that time or when ops press
"Recompute" (`refresh=True`). Cheap tables that do not belong to one run (movement across
runs, appeals of the last twelve months) are always computed fresh.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone, translation

from grading import reports
from grading.models import GradingRun

#: Bump when a report's shape changes, so old cached tables are ignored.
CACHE_VERSION = 2
#: grading's own tables of one run, heavy at scale: cached (and every registered section
#: with `per_run`). Everything else is computed per request.
CACHED_CORE = frozenset(
    {
        "distribution",
        "revenue",
        "repurchase",
        "lifecycle",
        "pyramid",
        "transitions",
        "pareto",
    }
)


def cached_keys() -> frozenset[str]:
    """Return the keys of the tables kept in the cache."""
    return CACHED_CORE | {s.key for s in reports.registered_reports() if s.per_run}


@dataclass(frozen=True)
class ReportTables:
    """The page's tables by key, and when the oldest cached one was computed."""

    tables: dict[str, Any]
    computed_at: dt.datetime | None


def previous_run(run: GradingRun) -> GradingRun | None:
    """Return the latest succeeded run before `run` (the transition matrix's default)."""
    return (
        GradingRun.objects.filter(status=GradingRun.Status.SUCCEEDED, as_of__lt=run.as_of)
        .select_related("scheme")
        .first()
    )


def report_builders(
    run: GradingRun,
    before: GradingRun | None,
    context: reports.ReportContext | None = None,
) -> dict[str, Callable[[], Any]]:
    """Return {key: function computing the table} of the reports page, in page order.

    grading's own tables, then each section other apps registered, placed after the table it
    names. Every value is a `reports.Table` except "pareto" (a `reports.Pareto`). The tables
    share the language-neutral reads of `context` (a new one when None; `reports_warm` passes
    one for every language).
    """
    context = reports.ReportContext(run=run, before=before) if context is None else context
    # Computed at most once per context: the run's snapshot cells (one scan of its snapshots
    # for the per-grade, per-stage and per-layer tables) and the window's orders (the page's
    # one scan of the orders table); stages gives two tables per language.
    stages = functools.cache(lambda: reports.stage_distribution(run=run, cells=context.cells))
    builders: dict[str, Callable[[], Any]] = {
        "distribution": lambda: reports.value_distribution(run=run, cells=context.cells),
        "movement": reports.grade_movement,
        "revenue": lambda: reports.revenue_profit_share(
            run=run, orders=context.window_orders, cells=context.cells
        ),
        "repurchase": lambda: reports.repurchase_by_grade(run=run, cells=context.cells),
        "lifecycle": lambda: stages()[0],
        "pyramid": lambda: stages()[1],
    }
    if before is not None:
        builders["transitions"] = lambda: reports.transition_matrix(
            before=before,
            after=run,
            counts=context.read(
                "transitions", lambda: reports.transition_counts(before=before, after=run)
            ),
        )
    for section in reports.registered_reports():
        items = list(builders.items())
        keys = [key for key, _build in items]
        position = keys.index(section.after) + 1 if section.after in keys else len(items)
        items.insert(position, (section.key, functools.partial(section.build, context)))
        builders = dict(items)
    builders["pareto"] = lambda: context.read("pareto", lambda: reports.pareto_curve(run=run))
    return builders


def report_charts(tables: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (title, SVG) of every registered section's chart whose table is in `tables`."""
    return [
        section.chart(tables[section.key])
        for section in reports.registered_reports()
        if section.chart is not None and section.key in tables
    ]


def _key(run: GradingRun, before: GradingRun | None, name: str) -> str:
    language = translation.get_language() or settings.LANGUAGE_CODE
    before_id = before.pk if before is not None else 0
    return f"tierhub:reports:v{CACHE_VERSION}:{run.pk}:{before_id}:{name}:{language}"


def report_tables(
    *,
    run: GradingRun,
    before: GradingRun | None,
    keys: list[str] | None = None,
    refresh: bool = False,
    context: reports.ReportContext | None = None,
) -> ReportTables:
    """Return the page's tables (or only `keys`), cached ones from the cache when there.

    Titles and column names are translated, so the cache holds one copy per language.
    `refresh` recomputes the cached tables and stores them again; `context` shares the
    language-neutral reads with other calls (`report_builders`).
    """
    builders = report_builders(run, before, context)
    wanted = keys if keys is not None else list(builders)
    timeout = settings.TIERHUB_REPORT_CACHE_SECONDS
    cached = cached_keys()
    tables: dict[str, Any] = {}
    oldest: dt.datetime | None = None
    for name in wanted:
        build = builders[name]
        if name not in cached:
            tables[name] = build()
            continue
        key = _key(run, before, name)
        hit = None if refresh else cache.get(key)
        if hit is None:
            hit = (build(), timezone.now())
            cache.set(key, hit, timeout)
        tables[name], computed_at = hit
        oldest = computed_at if oldest is None else min(oldest, computed_at)
    return ReportTables(tables=tables, computed_at=oldest)


def report_tables_cached(
    *, run: GradingRun, before: GradingRun | None, keys: list[str]
) -> dict[str, Any]:
    """Return those of the cached tables `keys` that are in the cache now; compute nothing.

    For pages that show a run's alarms without paying for the reports (the admin's
    dashboard): a table not computed yet is simply absent.
    """
    found = cache.get_many([_key(run, before, name) for name in keys if name in cached_keys()])
    tables = {}
    for name in keys:
        hit = found.get(_key(run, before, name))
        if hit is not None:
            tables[name] = hit[0]
    return tables


def reports_warm(*, run_id: int) -> int:
    """Compute and cache run `run_id`'s report tables in every site language; return tables.

    Called after a run commits, so the first ops who open the page do not wait for a
    million-snapshot aggregation. Does nothing for a run that did not succeed. The figures
    are read once (one `reports.ReportContext` for every language: the run's snapshot cells,
    the window's orders, each section's reads) and only the words differ per language.
    """
    run = (
        GradingRun.objects.filter(pk=run_id, status=GradingRun.Status.SUCCEEDED)
        .select_related("scheme")
        .first()
    )
    if run is None:
        return 0
    before = previous_run(run)
    context = reports.ReportContext(run=run, before=before)
    keys = [name for name in report_builders(run, before, context) if name in cached_keys()]
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            report_tables(run=run, before=before, keys=keys, refresh=True, context=context)
    return len(keys) * len(settings.LANGUAGES)
