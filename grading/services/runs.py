"""Grading runs: one effective run per (scheme, as_of), idempotent and resumable.

A run row is unique per (scheme, as_of). While it executes, a lock is held: a PostgreSQL
advisory lock (released by the server even if the process dies) or, on SQLite, a
compare-and-swap on the run's status with a staleness timeout. A second beat process or a
redelivered task finds the lock taken or the run finished, and returns without writing.

The whole lifecycle is here: one batch (`_batch_write`: extract, score, decide, write) for a
single-process run and for each shard of a sharded one; one set of status transitions
(`_run_start`, `_run_succeed`, `_run_fail`, `_run_mark_interrupted`); the counters from
`grading.pipeline.write.action_counts`. A sharded run computes the population cut points once
(`grading.services.sharding`), enqueues one Celery task per customer-id range
(`run_shard_execute`) and a chord callback (`run_finish`) records the counts. Failures and
interrupted runs: docs/operations.md, "Runs that fail".

Progress (`_progress_record`): the run row says which phase it is in and how many customers
are written out of how many, written at each phase change and after each shard, never per
customer, and always outside the write transaction (in autocommit), so a run whose write
rolls back still shows the phase it failed in. docs/operations.md, "Grading from the admin".
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Least
from django.utils import timezone
from django.utils.translation import gettext as _

from grading.exceptions import PeriodAlreadyGraded, RunInProgress, SchemeNotGradable
from grading.models import GradingRun, GradingScheme, ScoreSnapshot
from grading.pipeline import decide, extract, partitions, write
from grading.pipeline.rules import SchemeRules, scheme_rules
from grading.scoring import score_facts
from grading.scoring.population import PopulationCuts, scored_cuts
from grading.selectors import scheme_get_active
from grading.services import sharding
from grading.services.as_of import grading_run_as_of_validate
from grading.services.overrides import grade_overrides_expire

logger = logging.getLogger(__name__)

#: A SQLite run still marked running after this long is assumed dead and may be reclaimed.
STALE_AFTER = dt.timedelta(hours=2)
_ADVISORY_NAMESPACE = 0x7469_6572  # "tier": keeps our advisory keys apart from others'


def _run_get_or_create(*, scheme: GradingScheme, as_of: dt.date, triggered_by: str) -> GradingRun:
    try:
        with transaction.atomic():
            run, _ = GradingRun.objects.get_or_create(
                scheme=scheme, as_of=as_of, defaults={"triggered_by": triggered_by}
            )
    except IntegrityError:
        # Another process created it between our SELECT and INSERT.
        run = GradingRun.objects.get(scheme=scheme, as_of=as_of)
    return run


def _progress_record(
    run: GradingRun,
    phase: str,
    *,
    done: int | None = None,
    total: int | None = None,
) -> None:
    """Record the run's phase (and customers done / in all, when given) on the run row.

    A targeted UPDATE of the progress columns only, so it never overwrites the status or
    the counters another writer (a shard's callback) set meanwhile. Called a handful of
    times per run (each phase change), outside the write transaction: see the module doc.
    """
    values: dict[str, object] = {"phase": phase, "progress_at": timezone.now()}
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    GradingRun.objects.filter(pk=run.pk).update(**values)
    for name, value in values.items():
        setattr(run, name, value)


def grading_run_queue(*, as_of: dt.date, scheme: GradingScheme, by: str) -> GradingRun:
    """Create (or reuse) the run of (`scheme`, `as_of`) and enqueue it on commit; return it.

    The Operations' "Grade now" (docs/operations.md): the same checks as every run (an
    as-of after today is refused, AsOfInFuture on `as_of`), a scheme that can grade (active
    or retired: a draft is still being edited, and the runs a scheme made must stay
    explainable by it; SchemeNotGradable on `scheme`), and one run per (scheme, as_of): a
    period already graded raises PeriodAlreadyGraded, one being graded RunInProgress, and
    nothing is enqueued. A failed run is queued again (it resumes and converges), and so is
    one still queued (the task is idempotent: a second one finds the run done or locked).
    `by` is recorded as the run's `triggered_by`. The task is the beat's own
    (`grading.run_grading`), enqueued only once this transaction commits.
    """
    from grading.tasks import run_grading_task

    grading_run_as_of_validate(as_of=as_of)
    if scheme.status == GradingScheme.Status.DRAFT:
        raise SchemeNotGradable(
            _("“%(scheme)s” is a draft: activate it before it grades customers.")
            % {"scheme": scheme},
            field="scheme",
        )
    with transaction.atomic():
        run = _run_get_or_create(scheme=scheme, as_of=as_of, triggered_by=by)
        run = GradingRun.objects.select_for_update().get(pk=run.pk)
        if run.status == GradingRun.Status.SUCCEEDED:
            raise PeriodAlreadyGraded(
                _("%(run)s is graded already: nothing was started.") % {"run": run},
                field="as_of",
            )
        if run.status == GradingRun.Status.RUNNING:
            raise RunInProgress(
                _("%(run)s is being graded already: nothing was started.") % {"run": run},
                field="as_of",
            )
        run.triggered_by = by[:100]  # GradingRun.triggered_by's max_length
        run.status = GradingRun.Status.PENDING
        run.phase = GradingRun.Phase.QUEUED
        run.progress_done = 0
        run.progress_total = 0
        run.progress_at = timezone.now()
        run.save(
            update_fields=[
                "triggered_by",
                "status",
                "phase",
                "progress_done",
                "progress_total",
                "progress_at",
            ]
        )
        as_of_iso, scheme_id = as_of.isoformat(), scheme.pk
        transaction.on_commit(lambda: run_grading_task.delay(as_of_iso, scheme_id))
    return run


def _advisory_try(run_pk: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_ADVISORY_NAMESPACE, run_pk])
        (acquired,) = cursor.fetchone()
    return bool(acquired)


def _advisory_release(run_pk: int) -> None:
    """Release the run's advisory lock; a lost connection has released it already."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_ADVISORY_NAMESPACE, run_pk])
    except DatabaseError:
        connection.close()


@contextmanager
def _run_lock(run: GradingRun) -> Iterator[bool]:
    """Hold the run's lock for the block; yield False when another process holds it."""
    if connection.vendor == "postgresql":
        acquired = _advisory_try(run.pk)
        try:
            yield acquired
        finally:
            if acquired:
                _advisory_release(run.pk)
        return
    stale = timezone.now() - STALE_AFTER
    claimed = GradingRun.objects.filter(
        Q(status__in=[GradingRun.Status.PENDING, GradingRun.Status.FAILED])
        | Q(status=GradingRun.Status.RUNNING, started_at__lt=stale),
        pk=run.pk,
    ).update(status=GradingRun.Status.RUNNING, started_at=timezone.now())
    yield claimed == 1


def grading_run_execute(
    *,
    as_of: dt.date,
    scheme: GradingScheme | None = None,
    triggered_by: str = "",
    shards: int | None = None,
    from_orders: bool = False,
) -> GradingRun:
    """Grade every active customer at `as_of` with `scheme` (default: the active one).

    The facts come from the customer facts kept as orders arrive where they can, else from
    the orders; `from_orders` reads the orders (in one process, never sharded), the check
    that both agree (docs/grading.md, "Customer facts").

    Idempotent: a finished run is returned as is; a failed or killed one resumes and converges
    to the same snapshots and changes without duplicates. Returns the run (check `status`:
    a run held by another process is returned still `running`).

    Above `GRADING_SHARD_THRESHOLD` active customers (or with `shards` > 1) the run shards:
    this call computes the population cut points, enqueues one Celery task per customer-id
    range and returns the run still `running`; the last shard's callback finishes it.

    Raises AsOfInFuture for an `as_of` after today (every caller: command, task, beat).
    """
    grading_run_as_of_validate(as_of=as_of)
    scheme = scheme or scheme_get_active()
    runs_fail_stale()
    run = _run_get_or_create(scheme=scheme, as_of=as_of, triggered_by=triggered_by)
    if run.status == GradingRun.Status.SUCCEEDED:
        return run
    with _run_lock(run) as acquired:
        if not acquired:
            logger.info("Run %s is held by another process; skipping.", run.pk)
            return run
        run.refresh_from_db()
        if run.status == GradingRun.Status.SUCCEEDED:
            return run
        # A pin past its expiry date is ended before the extract, so the decisions and the
        # write's guard (CustomerGrade.pinned) agree on who is pinned.
        grade_overrides_expire(today=timezone.localdate())
        if (
            run.status == GradingRun.Status.RUNNING
            and run.shards > 1
            and run.started_at is not None
            and run.started_at > timezone.now() - STALE_AFTER
        ):
            # Its shards are in flight on the workers; the callback will finish it.
            return run
        shard_count = shards if shards is not None else sharding.shard_count_for_population()
        if from_orders:
            shard_count = 1
        if shard_count > 1:
            return _run_shards_start(run=run, shards=shard_count)
        started = time.monotonic()
        _run_start(run)
        try:
            _execute(run, from_orders=from_orders)
        except Exception:
            _run_fail(run, error=traceback.format_exc(limit=20), started=started)
            raise
        run.duration_seconds = time.monotonic() - started
        run.save(update_fields=["duration_seconds", "phase_seconds"])
    return run


def _run_start(run: GradingRun, *, shards: int = 1, cuts: PopulationCuts | None = None) -> None:
    """running: claimed by this process (or its shards), no error."""
    run.status = GradingRun.Status.RUNNING
    run.started_at = timezone.now()
    run.error = ""
    run.shards = shards
    # A sharded run has computed its cut points already: its shards score, decide and write.
    run.phase = GradingRun.Phase.EXTRACT if shards <= 1 else GradingRun.Phase.SCORE
    run.progress_done = 0
    run.progress_total = 0 if cuts is None else _population_size()
    run.progress_at = run.started_at
    fields = [
        "status",
        "started_at",
        "error",
        "shards",
        "phase",
        "progress_done",
        "progress_total",
        "progress_at",
    ]
    if cuts is not None:
        run.population_cuts = cuts.to_json()
        fields.append("population_cuts")
    run.save(update_fields=fields)


def _run_succeed(
    run: GradingRun, *, counts: dict[str, int] | None, phases: dict[str, float] | None = None
) -> None:
    """succeeded, with its counters (given, or counted from its snapshots); the follow-ups
    are enqueued on commit. Call inside the transaction that wrote its last rows."""
    counts = counts if counts is not None else run_counts(run)
    for name in RUN_COUNTERS:
        setattr(run, name, counts.get(name, 0))
    run.status = GradingRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.phase = GradingRun.Phase.FINISHING
    run.progress_done = run.progress_total = run.scored
    run.progress_at = run.finished_at
    fields = [
        *RUN_COUNTERS,
        "status",
        "finished_at",
        "phase",
        "progress_done",
        "progress_total",
        "progress_at",
    ]
    if phases is not None:
        run.phase_seconds = phases
        fields.append("phase_seconds")
    if run.shards > 1 and run.started_at:
        run.duration_seconds = (run.finished_at - run.started_at).total_seconds()
        fields.append("duration_seconds")
    run.save(update_fields=fields)
    run_id = run.pk
    transaction.on_commit(lambda: run_followups_enqueue(run_id))


def _run_fail(run: GradingRun, *, error: str, started: float) -> None:
    """Record that `run` failed with `error`, on a new connection if the old one is gone.

    A dropped database connection is the common failure: the run's transaction is lost and
    so is the connection the failure would be written on. It is closed and the failure
    written on a fresh one; if the database is still unreachable, the next run attempt or
    the daily integrity job (`runs_fail_stale`) records it.
    """
    values = {
        "status": GradingRun.Status.FAILED,
        "error": error,
        "finished_at": timezone.now(),
        "duration_seconds": time.monotonic() - started,
    }
    for attempt in (1, 2):
        try:
            GradingRun.objects.filter(pk=run.pk).update(**values)
            break
        except DatabaseError:
            connection.close()
            if attempt == 2:
                logger.exception("Run %s failed and the failure could not be recorded.", run.pk)
                return
    for name, value in values.items():
        setattr(run, name, value)


#: What a run stopped with no process to record it says (`runs_fail_stale`).
INTERRUPTED = (
    "Interrupted: the process running it stopped before it finished (its database session "
    "ended, or it was killed). Run it again: it resumes and converges."
)


def runs_fail_stale(*, now: dt.datetime | None = None) -> list[GradingRun]:
    """Mark runs left `running` by a process that is gone as failed; return them.

    On PostgreSQL an unsharded run whose advisory lock nobody holds is dead at once (the
    server released the lock with the session). A sharded run, or any run on SQLite, is
    dead when it started more than `STALE_AFTER` ago. The status is swapped only while it
    still says running, so a run finishing meanwhile is left alone.
    """
    now = now or timezone.now()
    failed = []
    for run in GradingRun.objects.filter(status=GradingRun.Status.RUNNING):
        if connection.vendor == "postgresql" and run.shards <= 1:
            if not _advisory_try(run.pk):
                continue  # its process is alive and holds it
            try:
                marked = _run_mark_interrupted(run, now=now)
            finally:
                _advisory_release(run.pk)
        elif run.started_at is None or run.started_at < now - STALE_AFTER:
            marked = _run_mark_interrupted(run, now=now)
        else:
            continue
        if marked:
            failed.append(run)
    return failed


def _run_mark_interrupted(run: GradingRun, *, now: dt.datetime) -> bool:
    marked = GradingRun.objects.filter(pk=run.pk, status=GradingRun.Status.RUNNING).update(
        status=GradingRun.Status.FAILED, error=INTERRUPTED, finished_at=now
    )
    if marked:
        logger.warning("Run %s was left running by a process that is gone: failed.", run.pk)
        run.status, run.error, run.finished_at = GradingRun.Status.FAILED, INTERRUPTED, now
    return bool(marked)


def _no_lap(phase: str) -> None:
    return None


def _no_progress(phase: str, *, done: int | None = None, total: int | None = None) -> None:
    return None


def _population_size() -> int:
    """Customers a run grades (the active ones): a sharded run's progress total."""
    from customers.models import Customer

    return Customer.objects.filter(is_active=True).count()


def _batch_write(
    run: GradingRun,
    rules: SchemeRules,
    *,
    id_range: tuple[int, int] | None = None,
    cuts: PopulationCuts | None = None,
    lap: Callable[[str], None] = _no_lap,
    progress: Callable[..., None] = _no_progress,
    then: Callable[[dict[str, int], bool], None] | None = None,
    from_orders: bool = False,
) -> int:
    """Extract, score, decide and write one batch (the population, or one customer-id
    range with fixed cut points); return the customers written.

    Customers already written by an interrupted attempt keep their rows and are skipped. The
    write is one transaction; `then(counts, complete)` runs inside it, where `complete`
    says the batch's counts are the whole run's (a clean first attempt of a whole run).
    `progress(phase, done=, total=)` is told each phase as it starts, outside the write
    transaction.
    """
    facts = extract.extract_facts(
        as_of=run.as_of, params=rules.params, id_range=id_range, from_orders=from_orders
    )
    lap("extract")
    progress(GradingRun.Phase.SCORE, total=len(facts))
    scores = score_facts(facts, params=rules.params, ladder=rules.ladder, cuts=cuts)
    # A whole-population batch keeps its cut points (a sharded run stored them at its start):
    # provisional upgrades between runs score single customers against them
    # (grading.services.provisional). Read off the scored frame, before any resume filter.
    kept_cuts = scored_cuts(scores, params=rules.params).to_json() if cuts is None else None
    written_before = ScoreSnapshot.objects.filter(run=run)
    if id_range is not None:
        written_before = written_before.filter(
            customer_id__gte=id_range[0], customer_id__lt=id_range[1]
        )
    done = set(written_before.values_list("customer_id", flat=True))
    if done:
        scores = scores[~scores.index.isin(list(done))]
    lap("score")
    progress(GradingRun.Phase.DECIDE, done=len(done))
    state = extract.extract_state(as_of=run.as_of, customer_ids=scores.index)
    decisions = decide.decide(scores, state, rules=rules, as_of=run.as_of)
    lap("decide")
    progress(GradingRun.Phase.WRITE)
    with transaction.atomic():
        written = write.write_results(
            run=run, scores=scores, decisions=decisions, rules=rules, now=timezone.now()
        )
        if kept_cuts is not None:
            GradingRun.objects.filter(pk=run.pk).update(population_cuts=kept_cuts)
            run.population_cuts = kept_cuts
        if then is not None:
            complete = id_range is None and not done and written.get("scored", 0) == len(scores)
            then(written, complete)
    return len(scores)


def _execute(run: GradingRun, *, from_orders: bool = False) -> None:
    """Grade the whole population in one batch and mark the run succeeded with it."""
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[phase] = round(now - clock, 3)
        clock = now

    def succeed(written: dict[str, int], complete: bool) -> None:
        # A clean first attempt: this batch's rows are all the run has, so its counts are
        # the run's (saves counting a million snapshots again).
        lap("write")
        _run_succeed(run, counts=written if complete else None, phases=phases)

    def progress(phase: str, *, done: int | None = None, total: int | None = None) -> None:
        _progress_record(run, phase, done=done, total=total)

    _batch_write(
        run,
        scheme_rules(run.scheme),
        lap=lap,
        progress=progress,
        then=succeed,
        from_orders=from_orders,
    )
    # The commit (and any foreign-key check still deferred) is timed too; recorded with the
    # duration once the run is committed.
    lap("commit")


#: The run's counters (`GradingRun` fields), from `write.action_counts` plus "scored".
RUN_COUNTERS = (
    "scored",
    "assigned",
    "upgraded",
    "warned",
    "downgrade_proposals",
    "downgraded",
    "pinned",
    "unchanged",
)


def run_counts(run: GradingRun) -> dict[str, int]:
    """Return the run's counters from its snapshots (right however many attempts wrote them)."""
    actions = dict(
        ScoreSnapshot.objects.filter(run=run)
        .values_list("action")
        .annotate(n=Count("id"))
        .values_list("action", "n")
    )
    return {**write.action_counts(actions), "scored": sum(actions.values())}


# ----------------------------------------------------------------------------- sharded runs


def _run_shards_start(*, run: GradingRun, shards: int) -> GradingRun:
    """Phase one: compute the cut points, then enqueue one task per range (on commit).

    The run's `phase_seconds` gets the cut-point phase (`cuts`) here and each shard's own
    timings (`shards`) as it finishes (`run_shard_execute`).
    """
    from celery import chord

    from grading.tasks import finish_run_task, grade_shard_task

    started = time.perf_counter()
    rules = scheme_rules(run.scheme)
    _progress_record(run, GradingRun.Phase.EXTRACT, done=0, total=0)
    ranges = sharding.shard_ranges(shards=shards)
    cuts = sharding.run_cuts_compute(run=run, rules=rules, ranges=ranges)
    with transaction.atomic():
        run.phase_seconds = {"cuts": round(time.perf_counter() - started, 3), "shards": []}
        run.save(update_fields=["phase_seconds"])
        _run_start(run, shards=len(ranges), cuts=cuts)
        # The shards write the run's snapshots concurrently, each in its own transaction:
        # its partition exists before any of them starts (grading.pipeline.partitions).
        partitions.partition_ensure(run.pk)
        header = [grade_shard_task.s(run.pk, low, high) for low, high in ranges]
        transaction.on_commit(lambda: chord(header)(finish_run_task.si(run.pk)))
    return run


def run_shard_execute(*, run_id: int, low: int, high: int) -> int:
    """Phase two: score, decide and write customers with ids in [low, high); return rows."""
    run = GradingRun.objects.select_related("scheme").get(pk=run_id)
    cuts = PopulationCuts.from_json(run.population_cuts)
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[phase] = round(now - clock, 3)
        clock = now

    written = _batch_write(
        run,
        scheme_rules(run.scheme),
        id_range=(low, high),
        cuts=cuts,
        lap=lap,
        then=lambda counts, complete: lap("write"),
    )
    lap("commit")
    _shard_record(run_id, {"low": low, "high": high, "customers": written, **phases})
    return written


def _shard_record(run_id: int, shard: dict[str, float | int]) -> None:
    """Count a finished shard's customers in the run's progress and keep its timings.

    After the shard's commit, one short transaction per shard, the run row locked so two
    shards finishing at once both land in `phase_seconds["shards"]`. A shard run again after
    a crash replaces its entry and counts only the customers it wrote this time; the cap
    keeps a miscount from showing more than 100%, and the callback sets the exact figures.
    """
    with transaction.atomic():
        run = GradingRun.objects.select_for_update().only("phase_seconds").get(pk=run_id)
        phases = dict(run.phase_seconds or {})
        others = [
            s
            for s in phases.get("shards", [])
            if (s["low"], s["high"]) != (shard["low"], shard["high"])
        ]
        phases["shards"] = sorted([*others, shard], key=lambda s: s["low"])
        GradingRun.objects.filter(pk=run_id).update(
            phase_seconds=phases,
            progress_done=Least(F("progress_done") + shard["customers"], F("progress_total")),
            progress_at=timezone.now(),
        )


def run_finish(*, run_id: int) -> GradingRun:
    """Record a sharded run's counts and mark it succeeded (idempotent).

    Called again for a run it already finished (a redelivered callback), it enqueues the
    follow-ups once more: they are idempotent, and the first call may have died between its
    commit and their publish.
    """
    with transaction.atomic():
        run = GradingRun.objects.select_for_update().get(pk=run_id)
        if run.status == GradingRun.Status.SUCCEEDED:
            transaction.on_commit(lambda: run_followups_enqueue(run_id))
            return run
        _run_succeed(run, counts=None)
    return run


def run_followups_enqueue(run_id: int) -> None:
    """Enqueue what follows a finished run (call on commit): the account managers'
    notifications and the computing of its report tables."""
    from grading.tasks import notify_run_task, reports_warm_task

    notify_run_task.delay(run_id)
    reports_warm_task.delay(run_id)
