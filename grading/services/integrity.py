"""The integrity check of grades and their history (`manage.py check_grades`, a daily job).

Verifies what the invariants of docs/architecture.md promise, on the data as it is: pins hold,
the audit history ends on each customer's actual grade, one snapshot and at most one change per
customer and run, each applied change audited once, and every run's counters equal the rows it
applied. Each check is a few set-based queries; each violation names the customer or run and
what disagrees (docs/operations.md, "Checking grades").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from common.roles import OPERATIONS
from common.services import NotificationDraft, notification_send_many
from grading.models import GradeChange, GradingRun

#: At most this many violations are listed per check (the count is always exact).
LISTED_PER_CHECK = 100


@dataclass(frozen=True, slots=True)
class Violation:
    check: str
    message: str
    customer_id: int | None = None
    run_id: int | None = None


def _rows(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _grade_names() -> dict[int, str]:
    from grading.models import Grade

    return {pk: str(name) for pk, name in Grade.objects.values_list("pk", "name")}


def _latest_audit_disagrees(run_ids: Sequence[int] | None) -> list[Violation]:
    """Every graded customer's latest audit row (by time, then id) names their grade."""
    rows = _rows(
        "SELECT cg.customer_id, c.code, cg.grade_id, a.new_grade_id"
        " FROM grading_customergrade cg"
        " JOIN customers_customer c ON c.id = cg.customer_id"
        " LEFT JOIN (SELECT customer_id, new_grade_id, ROW_NUMBER() OVER"
        "   (PARTITION BY customer_id ORDER BY created_at DESC, id DESC) AS position"
        "   FROM grading_gradeauditentry) a"
        "  ON a.customer_id = cg.customer_id AND a.position = 1"
        " WHERE a.new_grade_id IS NULL OR a.new_grade_id <> cg.grade_id"
        " ORDER BY cg.customer_id"
    )
    names = _grade_names()
    return [
        Violation(
            "audit_disagrees",
            _("%(code)s: grade %(grade)s, but the latest audit entry says %(audit)s")
            % {
                "code": code,
                "grade": names.get(grade, grade),
                "audit": names.get(audit, audit) if audit is not None else _("none"),
            },
            customer_id=pk,
        )
        for pk, code, grade, audit in rows
    ]


def _pins(run_ids: Sequence[int] | None) -> list[Violation]:
    """An active override holds its grade, at most one is active, and the row says pinned."""
    names = _grade_names()
    found = [
        Violation(
            "pin_undone",
            _("%(code)s: pinned to grade %(pin)s, but has grade %(grade)s")
            % {"code": code, "pin": names.get(pin, pin), "grade": names.get(grade, grade)},
            customer_id=pk,
        )
        for pk, code, pin, grade in _rows(
            "SELECT o.customer_id, c.code, o.grade_id, cg.grade_id FROM grading_gradeoverride o"
            " JOIN grading_customergrade cg ON cg.customer_id = o.customer_id"
            " JOIN customers_customer c ON c.id = o.customer_id"
            " WHERE o.ended_at IS NULL AND o.grade_id <> cg.grade_id ORDER BY o.customer_id"
        )
    ]
    found += [
        Violation(
            "pin_flag",
            _("%(code)s: the grade state says pinned=%(flag)s, the overrides disagree")
            % {"code": code, "flag": bool(flag)},
            customer_id=pk,
        )
        for pk, code, flag in _rows(
            "SELECT cg.customer_id, c.code, cg.pinned FROM grading_customergrade cg"
            " JOIN customers_customer c ON c.id = cg.customer_id"
            " WHERE cg.pinned <> EXISTS (SELECT 1 FROM grading_gradeoverride o"
            "   WHERE o.customer_id = cg.customer_id AND o.ended_at IS NULL)"
            " ORDER BY cg.customer_id"
        )
    ]
    found += [
        Violation(
            "open_twice",
            _("Customer %(id)s has %(n)s active %(what)s") % {"id": pk, "n": n, "what": what},
            customer_id=pk,
        )
        for what, sql in (
            (
                _("overrides"),
                "SELECT customer_id, count(*) FROM grading_gradeoverride"
                " WHERE ended_at IS NULL GROUP BY customer_id HAVING count(*) > 1",
            ),
            (
                _("downgrade proposals"),
                "SELECT customer_id, count(*) FROM grading_gradechange"
                f" WHERE status = '{GradeChange.Status.PROPOSED}'"
                " GROUP BY customer_id HAVING count(*) > 1",
            ),
        )
        for pk, n in _rows(sql)
    ]
    return found


def _run_filter(column: str, run_ids: Sequence[int] | None) -> tuple[str, list[object]]:
    if run_ids is None:
        return "", []
    return f" AND {column} IN ({', '.join(['%s'] * len(run_ids))})", list(run_ids)


def _runs(run_ids: Sequence[int] | None) -> list[Violation]:
    """Each succeeded run's counters equal its applied rows; no duplicate or unaudited rows."""
    succeeded = GradingRun.objects.filter(status=GradingRun.Status.SUCCEEDED)
    if run_ids is not None:
        succeeded = succeeded.filter(pk__in=run_ids)
    runs = {run.pk: run for run in succeeded}
    if not runs:
        return []
    ids = list(runs)
    where, params = _run_filter("run_id", ids)
    snapshots: dict[int, dict[str, int]] = {}
    for run_id, action, n in _rows(
        f"SELECT run_id, action, count(*) FROM grading_scoresnapshot WHERE TRUE{where}"
        " GROUP BY run_id, action",
        params,
    ):
        snapshots.setdefault(run_id, {})[action] = n
    changes: dict[int, dict[str, int]] = {}
    for run_id, direction, n in _rows(
        f"SELECT run_id, direction, count(*) FROM grading_gradechange WHERE TRUE{where}"
        " AND source = 'run' GROUP BY run_id, direction",
        params,
    ):
        changes.setdefault(run_id, {})[direction] = n
    audited: dict[int, int] = dict(
        _rows(
            "SELECT run_id, count(*) FROM grading_gradeauditentry"
            f" WHERE TRUE{where} GROUP BY run_id",
            params,
        )
    )
    found = []
    for pk, run in sorted(runs.items()):
        actions = snapshots.get(pk, {})
        by_direction = changes.get(pk, {})
        expected = {
            "scored": sum(actions.values()),
            "assigned": actions.get("assign", 0),
            "upgraded": actions.get("upgrade", 0),
            "warned": actions.get("warn", 0),
            "downgrade_proposals": actions.get("propose_downgrade", 0),
            "downgraded": actions.get("downgrade", 0),
            "pinned": actions.get("pinned", 0) + actions.get("locked", 0),
        }
        applied = run.assigned + run.upgraded + run.downgraded
        expected_changes = {
            GradeChange.Direction.ASSIGN: run.assigned,
            GradeChange.Direction.UP: run.upgraded,
            GradeChange.Direction.DOWN: run.downgraded + run.downgrade_proposals,
        }
        mismatches = [
            _("%(counter)s is %(value)s, its snapshots say %(rows)s")
            % {"counter": name, "value": getattr(run, name), "rows": rows}
            for name, rows in expected.items()
            if getattr(run, name) != rows
        ]
        mismatches += [
            _("%(n)s %(direction)s changes for a counter of %(counter)s")
            % {"n": by_direction.get(direction, 0), "direction": direction, "counter": value}
            for direction, value in expected_changes.items()
            if by_direction.get(direction, 0) != value
        ]
        if audited.get(pk, 0) != applied:
            mismatches.append(
                _("%(n)s audit rows for %(applied)s applied changes")
                % {"n": audited.get(pk, 0), "applied": applied}
            )
        found += [
            Violation(
                "run_counters", _("Run %(run)s: %(what)s") % {"run": run, "what": text}, run_id=pk
            )
            for text in mismatches
        ]
    found += [
        Violation(
            "change_audit",
            _("Applied change %(id)s has %(n)s audit rows") % {"id": change_id, "n": n},
            customer_id=customer_id,
        )
        for change_id, customer_id, n in _rows(
            "SELECT c.id, c.customer_id, count(a.id) FROM grading_gradechange c"
            " LEFT JOIN grading_gradeauditentry a ON a.change_id = c.id"
            f" WHERE c.status = '{GradeChange.Status.APPLIED}'"
            + _run_filter("c.run_id", ids)[0]
            + " GROUP BY c.id, c.customer_id HAVING count(a.id) <> 1",
            ids,
        )
    ]
    return found


def _stale_runs(run_ids: Sequence[int] | None) -> list[Violation]:
    """Runs still marked running whose process is gone (after `runs_fail_stale` ran)."""
    from grading.services.runs import STALE_AFTER

    cutoff = timezone.now() - STALE_AFTER
    return [
        Violation(
            "run_stuck",
            _("Run %(run)s has been running since %(started)s")
            % {"run": run, "started": run.started_at},
            run_id=run.pk,
        )
        for run in GradingRun.objects.filter(
            status=GradingRun.Status.RUNNING, started_at__lt=cutoff
        )
    ]


CHECKS: tuple[tuple[str, Callable[[Sequence[int] | None], list[Violation]]], ...] = (
    ("audit", _latest_audit_disagrees),
    ("pins", _pins),
    ("runs", _runs),
    ("stuck", _stale_runs),
)


def grades_check(*, run_ids: Iterable[int] | None = None) -> list[Violation]:
    """Return every violation found (the run checks limited to `run_ids` when given)."""
    ids = None if run_ids is None else list(run_ids)
    found: list[Violation] = []
    for _name, check in CHECKS:
        found += check(ids)
    return found


def grades_check_daily(*, today: dt.date | None = None) -> int:
    """The daily job: fail runs left running by a dead process, check, tell Operations.

    Returns the number of violations. Operations get one notification a day (idempotent by
    date) listing the first violations, with a link to the runs in the admin.
    """
    from grading.services.runs import runs_fail_stale

    today = today or timezone.localdate()
    runs_fail_stale()
    found = grades_check()
    if not found:
        return 0
    lines = [f"[{v.check}] {v.message}" for v in found[:LISTED_PER_CHECK]]
    recipients = get_user_model().objects.filter(groups__name=OPERATIONS, is_active=True)
    notification_send_many(
        drafts=[
            NotificationDraft(
                recipient_id=user.pk,
                kind="grades_check",
                params={"count": len(found), "lines": lines},
                dedupe_key=f"grades_check:{today.isoformat()}",
                link=reverse("admin:grading_gradingrun_changelist"),
            )
            for user in recipients
        ]
    )
    return len(found)
