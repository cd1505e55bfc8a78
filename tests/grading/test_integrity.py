"""History is what happened, the integrity check finds what breaks it, and runs that fail say
so (issue #11, items 2-4; docs/architecture.md, invariants 1, 2, 6)."""

import datetime as dt
import threading

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.models import Notification
from grading.models import (
    CustomerGrade,
    GradeAuditEntry,
    GradeChange,
    GradeOverride,
    GradingRun,
    ScoreSnapshot,
)
from grading.pipeline import extract
from grading.pipeline.backends import postgresql
from grading.services import runs as runs_service
from grading.services.integrity import grades_check, grades_check_daily
from grading.services.overrides import grade_override_set
from grading.services.reviews import grade_change_approve
from grading.services.runs import INTERRUPTED, grading_run_execute, runs_fail_stale
from tests.celery_worker import _database_url
from tests.grading.factories import grade, proposal_for
from tests.grading.test_runs import AS_OF, _population

NEXT = dt.date(2026, 5, 1)


def _pins_after_the_extract(monkeypatch, action):
    """Run `action()` right after the run reads the policy state, before it writes."""
    original = extract.extract_state

    def extract_then_act(**kwargs):
        state = original(**kwargs)
        action()
        return state

    monkeypatch.setattr(extract, "extract_state", extract_then_act)


@pytest.mark.django_db
def test_a_pin_set_after_the_extract_is_kept_and_recorded_as_what_happened(monkeypatch, ops):
    """The run decided to move P3 and P4; pins landed before its write: P3 pinned to the
    grade it has (the case a run once undid), P4 to another one. Neither moves, neither gets
    a change or an audit row from the run, their snapshots say "pinned", and the counters
    count what was applied."""
    customers = {c.code: c for c in _population()}
    first = grading_run_execute(as_of=AS_OF)
    CustomerGrade.objects.update(grade=grade("basic"))  # so that the next run upgrades
    GradeAuditEntry.objects.bulk_create(
        GradeAuditEntry(customer_id=pk, new_grade=grade("basic"), source="manual")
        for pk in CustomerGrade.objects.values_list("customer_id", flat=True)
    )
    pins = {"P3": "basic", "P4": "growth"}

    def pin():
        for code, to in pins.items():
            grade_override_set(
                customer=customers[code], grade=grade(to), reason="VIP", expires_on=None, by=ops
            )

    _pins_after_the_extract(monkeypatch, pin)
    run = grading_run_execute(as_of=NEXT)

    assert first.status == run.status == GradingRun.Status.SUCCEEDED
    for code, to in pins.items():
        customer = customers[code]
        assert CustomerGrade.objects.get(customer=customer).grade.code == to
        snapshot = ScoreSnapshot.objects.get(run=run, customer=customer)
        assert (snapshot.action, snapshot.rule, snapshot.grade_after.code) == (
            "pinned",
            "override",
            to,
        )
        assert not GradeChange.objects.filter(run=run, customer=customer).exists()
        assert not GradeAuditEntry.objects.filter(run=run, customer=customer).exists()
    moved = ScoreSnapshot.objects.filter(run=run, action="upgrade").count()
    assert moved >= 1
    assert (run.upgraded, run.pinned) == (moved, 2)
    assert GradeAuditEntry.objects.filter(run=run).count() == moved
    assert grades_check(run_ids=[first.pk, run.pk]) == []


def _load_table_marks(queries):
    return [
        q["sql"] for q in queries if q["sql"].startswith("UPDATE tierhub_snapshot_load SET state")
    ]


@pytest.mark.django_db
def test_the_load_table_is_marked_only_when_a_state_write_was_refused(monkeypatch, ops):
    """On PostgreSQL the written rows are marked in the run's load table only to tell the
    refused ones apart (`write._states_write`): a run with none leaves it as loaded, one
    with a pin landed after the extract marks it (and the test above shows the marks
    matter)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite marks the written rows whatever happens")
    customers = {c.code: c for c in _population()}
    with CaptureQueriesContext(connection) as plain:
        grading_run_execute(as_of=AS_OF)
    CustomerGrade.objects.update(grade=grade("basic"))  # so that the next run upgrades
    _pins_after_the_extract(
        monkeypatch,
        lambda: grade_override_set(
            customer=customers["P3"], grade=grade("basic"), reason="VIP", expires_on=None, by=ops
        ),
    )
    with CaptureQueriesContext(connection) as refused:
        run = grading_run_execute(as_of=NEXT)

    assert _load_table_marks(plain.captured_queries) == []
    assert ScoreSnapshot.objects.get(run=run, customer=customers["P3"]).action == "pinned"
    assert len(_load_table_marks(refused.captured_queries)) == 1


@pytest.mark.django_db
def test_a_grade_approved_during_the_run_is_left_alone_and_said_so(monkeypatch, ops):
    """A downgrade proposal approved between the run's extract and its write: the run's
    decision (taken on the old grade) is refused and recorded as "changed during run"."""
    customers = {c.code: c for c in _population()}
    grading_run_execute(as_of=AS_OF)
    customer = customers["P4"]
    state = CustomerGrade.objects.get(customer=customer)
    change = proposal_for(customer, from_code=state.grade.code, to_code="basic")

    _pins_after_the_extract(
        monkeypatch, lambda: grade_change_approve(change_ids=[change.pk], by=ops, note="OK")
    )
    # A quarter start: the run reviews the customer's grade and means to reset the count.
    run = grading_run_execute(as_of=dt.date(2026, 7, 1))

    snapshot = ScoreSnapshot.objects.get(run=run, customer=customer)
    assert CustomerGrade.objects.get(customer=customer).grade.code == "basic"
    assert (snapshot.action, snapshot.rule) == ("keep", "changed_during_run")
    assert snapshot.grade_after.code == "basic"
    assert not GradeChange.objects.filter(run=run, customer=customer, direction="up").exists()
    assert grades_check(run_ids=[run.pk]) == []  # (the factory's proposal has a made-up run)


@pytest.mark.django_db
def test_check_grades_is_clean_after_runs_and_exits_zero(capsys):
    _population()
    grading_run_execute(as_of=AS_OF)
    grading_run_execute(as_of=NEXT)

    call_command("check_grades")

    assert "No violations found." in capsys.readouterr().out


@pytest.mark.django_db
def test_check_grades_lists_each_violation_and_exits_non_zero(capsys, ops):
    customers = {c.code: c for c in _population()}
    run = grading_run_execute(as_of=AS_OF)
    # A grade changed behind the history's back, a pin undone, a flag out of step, a
    # counter that disagrees with the rows.
    CustomerGrade.objects.filter(customer=customers["P0"]).update(grade=grade("strategic"))
    override = grade_override_set(
        customer=customers["P1"], grade=grade("key"), reason="VIP", expires_on=None, by=ops
    )
    CustomerGrade.objects.filter(customer=customers["P1"]).update(grade=grade("basic"))
    CustomerGrade.objects.filter(customer=customers["P2"]).update(pinned=True)
    GradingRun.objects.filter(pk=run.pk).update(upgraded=run.upgraded + 3)

    with pytest.raises(SystemExit) as exit_info:
        call_command("check_grades")

    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "[audit_disagrees] P0:" in out
    assert f"[pin_undone] P1: pinned to grade {override.grade.name}, but has grade Basic" in out
    assert "[pin_flag] P2:" in out
    assert "[run_counters]" in out
    assert "upgraded is" in out
    checks = {v.check for v in grades_check()}
    assert checks == {"audit_disagrees", "pin_undone", "pin_flag", "run_counters"}


@pytest.mark.django_db
def test_the_daily_job_tells_operations_once_a_day(ops):
    customers = _population()
    grading_run_execute(as_of=AS_OF)
    assert grades_check_daily() == 0
    assert not Notification.objects.filter(kind="grades_check").exists()

    CustomerGrade.objects.filter(customer=customers[0]).update(grade=grade("strategic"))
    assert grades_check_daily() == 1
    assert grades_check_daily() == 1  # the same day: no second message

    note = Notification.objects.get(kind="grades_check")
    assert note.recipient == ops
    assert "1 problems found" in note.title
    assert "[audit_disagrees] P0:" in note.body


@pytest.mark.django_db
def test_an_override_past_its_expiry_is_ended_before_the_run_reads_pins(ops):
    """Decisions and the write's guard agree: a pin that expired yesterday no longer pins."""
    customers = {c.code: c for c in _population()}
    grading_run_execute(as_of=AS_OF)
    customer = customers["P4"]
    override = grade_override_set(
        customer=customer, grade=grade("basic"), reason="Trial", expires_on=None, by=ops
    )
    GradeOverride.objects.filter(pk=override.pk).update(expires_on=AS_OF)

    run = grading_run_execute(as_of=NEXT)

    override.refresh_from_db()
    assert override.ended_at is not None
    assert override.end_reason == "expired"
    assert ScoreSnapshot.objects.get(run=run, customer=customer).action != "pinned"
    assert not CustomerGrade.objects.get(customer=customer).pinned
    assert grades_check() == []


# ------------------------------------------------------------------------ runs that fail


@pytest.mark.django_db
def test_a_run_stopped_on_sqlite_is_marked_failed_after_the_stale_period():
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL knows at once, from the advisory lock")
    _population()
    run = grading_run_execute(as_of=AS_OF)
    fresh = timezone.now() - dt.timedelta(minutes=5)
    GradingRun.objects.filter(pk=run.pk).update(status="running", started_at=fresh)
    assert runs_fail_stale() == []

    GradingRun.objects.filter(pk=run.pk).update(
        started_at=timezone.now() - runs_service.STALE_AFTER - dt.timedelta(minutes=1)
    )
    assert [r.pk for r in runs_fail_stale()] == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", INTERRUPTED)


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_run_whose_process_is_gone_is_failed_at_once_and_one_alive_is_not():
    """PostgreSQL: nobody holds a dead run's advisory lock; a live run's lock is held."""
    _population()
    dead = grading_run_execute(as_of=AS_OF)
    alive = grading_run_execute(as_of=NEXT)
    GradingRun.objects.filter(pk__in=[dead.pk, alive.pk]).update(
        status="running", started_at=timezone.now()
    )
    url = _database_url().replace("postgres://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute(
            "SELECT pg_advisory_lock(%s, %s)", [runs_service._ADVISORY_NAMESPACE, alive.pk]
        )
        assert [r.pk for r in runs_fail_stale()] == [dead.pk]
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, dead.error) == ("failed", INTERRUPTED)
    assert alive.status == "running"


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_run_whose_connection_drops_is_failed_with_its_error_and_a_rerun_converges(
    monkeypatch,
):
    """The database session is terminated in the middle of the write: the run is recorded
    failed at once (on a new connection), with the error; running it again converges."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    _population()
    original = postgresql.customers_hold
    url = _database_url().replace("postgres://", "postgresql://")

    def hold_then_drop(table, rows):
        held = original(table, rows)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        with psycopg.connect(url, autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", [pid])
        return held

    monkeypatch.setattr(postgresql, "customers_hold", hold_then_drop)
    with pytest.raises(Exception):  # noqa: B017, PT011  (whatever psycopg raises)
        grading_run_execute(as_of=AS_OF)
    monkeypatch.setattr(postgresql, "customers_hold", original)

    run = GradingRun.objects.get(as_of=AS_OF)
    assert run.status == GradingRun.Status.FAILED
    assert "terminat" in run.error.lower() or "connection" in run.error.lower()
    assert not ScoreSnapshot.objects.filter(run=run).exists()

    again = grading_run_execute(as_of=AS_OF)
    assert again.status == GradingRun.Status.SUCCEEDED
    assert ScoreSnapshot.objects.filter(run=run).count() == 6
    assert grades_check() == []


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_threads_checking_stale_runs_fail_a_dead_run_once():
    _population()
    dead = grading_run_execute(as_of=AS_OF)
    GradingRun.objects.filter(pk=dead.pk).update(status="running", started_at=timezone.now())
    results = []

    def check():
        try:
            results.append([r.pk for r in runs_fail_stale()])
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [dead.pk]]


@pytest.mark.django_db
def test_the_runs_list_says_why_a_run_failed_in_the_readers_language(ops, client):
    from django.utils import translation

    _population()
    run = grading_run_execute(as_of=AS_OF)
    GradingRun.objects.filter(pk=run.pk).update(status="failed", error=INTERRUPTED)
    client.force_login(ops)

    english = client.get("/admin/grading/gradingrun/").content.decode()
    with translation.override("zh-hans"):
        chinese = client.get(
            "/admin/grading/gradingrun/", headers={"accept-language": "zh-hans"}
        ).content.decode()

    assert "Interrupted: the process running it stopped before it finished." in english
    assert "已中断" in chinese
