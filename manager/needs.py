"""The manager queue's needs table (`appeals.models.QueueNeeds`): compute, refresh, check.

`needs_compute` is the definition: one query computing every need of the given customers
from the source tables (the latest run's snapshots, grade changes, appeals, tickets,
recommendations, the active ladder). The table holds its result, kept up to date by
`queue_needs_refresh` for the customers an event touched (wired in `connect_signals`: saves
and deletes of the inputs, review decisions through `grading.signals.grade_changes_decided`,
a run succeeding and a scheme changing rebuild everything), and
by `queue_needs_refresh_due`, which flips the two time-dependent needs (SLA breached,
recently upgraded) once their instant passes. `queue_needs_diff` compares the table with a
full recomputation (`manage.py queue_needs_check`).

Paths that write inputs in bulk without signals (`bulk_create`, `QuerySet.update`) outside a
grading run send `customers.signals.customers_written_in_bulk` with the customers they
touched, which refreshes those rows in their transaction. Whatever still drifts, the nightly
`queue_needs_check_daily` finds, repairs (those customers only) and reports to Operations
(docs/operations.md, "The manager queue's needs table").
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    Exists,
    F,
    FloatField,
    Max,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.db.models.signals import post_delete, post_save
from django.urls import reverse
from django.utils import timezone

from appeals.models import Appeal, FollowUp, QueueNeeds
from appeals.selectors import WARNING_ACTIONS
from benefits.selectors import recommendation_list_open, ticket_list_overdue, ticket_sla_annotate
from common.roles import OPERATIONS
from common.services import NotificationDraft, notification_send_many
from customers.models import Customer, ServiceTicket
from grading.models import GradeChange, GradingScheme, SchemeGrade, ScoreSnapshot
from grading.selectors import run_get_latest_succeeded

#: Points below the next grade's floor that count as "close to the next grade".
CLOSE_TO_NEXT_POINTS = 5
#: How far back an upgrade counts as recent (declared by the table's model, which the
#: dashboard's counts read too).
RECENT_UPGRADE_DAYS = QueueNeeds.RECENT_UPGRADE_DAYS
#: Urgency weight of each need: the queue sorts by the sum of a row's weights, urgency
#: first (issue 14): a breached ticket SLA outweighs everything below it together, then a
#: proposed downgrade, a warning without follow-up, an open appeal, then the chances to
#: reach out (close to the next grade, recently upgraded, a category to suggest).
#: appeals/migrations/0007 recomputes stored rows with these weights.
WEIGHTS = {
    "sla": 128,
    "proposed": 64,
    "follow_up": 32,
    "appeal": 16,
    "close": 4,
    "upgraded": 2,
    "recommend": 1,
}
FIELDS = (
    "account_manager_id",
    "code",
    "grade_id",
    "grade_rank",
    "composite",
    *(f"flag_{code}" for code in WEIGHTS),
    "urgency",
    "sla_due_at",
    "upgraded_at",
)
CHUNK = 20_000


def needs_compute(
    *, now: dt.datetime, customer_ids: Iterable[int] | None = None
) -> QuerySet[Customer]:
    """Return the active customers (all, or `customer_ids`) annotated with every need.

    Annotations: `grade_id_`, `grade_rank_`, `composite`, `flag_<code>`, `sla_due_at`,
    `upgraded_at`. Two small queries first (the latest run, the active ladder).
    """
    run = run_get_latest_succeeded()
    ladder = list(
        SchemeGrade.objects.filter(scheme__status=GradingScheme.Status.ACTIVE)
        .order_by("grade__rank")
        .values_list("grade_id", "min_score")
    )
    queryset = Customer.objects.filter(is_active=True)
    if customer_ids is not None:
        queryset = queryset.filter(pk__in=list(customer_ids))
    snapshots = ScoreSnapshot.objects.filter(customer=OuterRef("pk"), run=run)
    upgrades = GradeChange.objects.filter(
        customer=OuterRef("pk"),
        direction=GradeChange.Direction.UP,
        status=GradeChange.Status.APPLIED,
    )
    unanswered = ticket_sla_annotate(
        ServiceTicket.objects.filter(
            customer=OuterRef("pk"), first_response_at__isnull=True, closed_at__isnull=True
        )
    ).filter(sla_minutes__isnull=False)
    queryset = queryset.annotate(
        grade_id_=F("grade_state__grade_id"),
        grade_rank_=F("grade_state__grade__rank"),
        composite=Subquery(snapshots.values("composite")[:1])
        if run
        else Cast(Value(None), FloatField()),  # typed: INSERT ... SELECT needs a float
        # A warning or proposal of the latest run not yet answered by a warning follow-up.
        flag_follow_up=Exists(
            snapshots.filter(action__in=WARNING_ACTIONS).filter(
                ~Exists(
                    FollowUp.objects.filter(
                        customer_id=OuterRef("customer_id"),
                        run_id=OuterRef("run_id"),
                        kind=FollowUp.Kind.WARNING,
                    )
                )
            )
        )
        if run
        else Value(False, output_field=BooleanField()),
        flag_proposed=Exists(
            GradeChange.objects.filter(customer=OuterRef("pk"), status=GradeChange.Status.PROPOSED)
        ),
        flag_appeal=Exists(
            Appeal.objects.filter(customer=OuterRef("pk"), status__in=Appeal.OPEN_STATUSES)
        ),
        flag_sla=Exists(ticket_list_overdue(now=now).filter(customer=OuterRef("pk"))),
        flag_upgraded=Exists(
            upgrades.filter(created_at__gte=now - dt.timedelta(days=RECENT_UPGRADE_DAYS))
        ),
        flag_recommend=Exists(recommendation_list_open().filter(customer=OuterRef("pk"))),
        sla_due_at=Subquery(
            unanswered.order_by("sla_deadline").values("sla_deadline")[:1],
            output_field=DateTimeField(),
        ),
        upgraded_at=Subquery(
            upgrades.order_by().values("customer").annotate(last=Max("created_at")).values("last")
        ),
    )
    return queryset.annotate(flag_close=_close_to_next(ladder))


def _close_to_next(ladder: Sequence[tuple[int, Decimal]]) -> Case | Value:
    # ladder: (grade id, min_score) from the lowest grade up; the next grade of ladder[i]
    # is ladder[i + 1].
    whens = [
        When(
            grade_state__grade_id=grade_id,
            composite__gte=float(next_min) - CLOSE_TO_NEXT_POINTS,
            composite__lt=float(next_min),
            then=Value(True),
        )
        for (grade_id, _min), (_next_id, next_min) in itertools.pairwise(ladder)
    ]
    if not whens:
        return Value(False, output_field=BooleanField())
    return Case(*whens, default=Value(False), output_field=BooleanField())


def _rows(queryset: QuerySet[Customer]) -> Iterable[dict[str, Any]]:
    values = queryset.values(
        "pk",
        "account_manager_id",
        "code",
        "grade_id_",
        "grade_rank_",
        "composite",
        "sla_due_at",
        "upgraded_at",
        *(f"flag_{code}" for code in WEIGHTS),
    )
    for row in values.iterator(chunk_size=2000):
        flags = {f"flag_{code}": bool(row[f"flag_{code}"]) for code in WEIGHTS}
        yield {
            "customer_id": row["pk"],
            "account_manager_id": row["account_manager_id"],
            "code": row["code"],
            "grade_id": row["grade_id_"],
            "grade_rank": -1 if row["grade_rank_"] is None else row["grade_rank_"],
            "composite": row["composite"],
            **flags,
            "urgency": sum(w for code, w in WEIGHTS.items() if flags[f"flag_{code}"]),
            "sla_due_at": row["sla_due_at"],
            "upgraded_at": row["upgraded_at"],
        }


def queue_needs_refresh(
    *, customer_ids: Iterable[int] | None = None, now: dt.datetime | None = None
) -> int:
    """Recompute the rows of `customer_ids` (None: every customer); return rows written.

    Inactive or deleted customers lose their row. The rows are computed and written by the
    database (`INSERT ... SELECT`), one transaction per chunk of customers.
    """
    now = now or timezone.now()
    if customer_ids is None:
        with transaction.atomic():
            QueueNeeds.objects.all().delete()
        ids = Customer.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
        chunks: Iterable[tuple[int, ...]] = itertools.batched(ids.iterator(chunk_size=CHUNK), CHUNK)
    else:
        chunks = itertools.batched(sorted(set(customer_ids)), CHUNK)
    written = 0
    for chunk in chunks:
        with transaction.atomic():
            if connection.vendor == "postgresql" and len(chunk) > 1000:
                with connection.cursor() as cursor:
                    # JIT compiling the many subqueries costs more than it saves here.
                    cursor.execute("SET LOCAL jit = off")
            QueueNeeds.objects.filter(customer_id__in=chunk).delete()
            written += _insert(needs_compute(now=now, customer_ids=chunk))
    return written


#: Select alias -> column of the table, for `_insert`.
_COLUMNS = {
    "n_customer": "customer_id",
    "n_manager": "account_manager_id",
    "n_code": "code",
    "n_grade": "grade_id",
    "n_rank": "grade_rank",
    "composite": "composite",
    **{f"flag_{code}": f"flag_{code}" for code in WEIGHTS},
    "sla_due_at": "sla_due_at",
    "upgraded_at": "upgraded_at",
}


def _insert(queryset: QuerySet[Customer]) -> int:
    selected = queryset.annotate(
        n_customer=F("pk"),
        n_manager=F("account_manager_id"),
        n_code=F("code"),
        n_grade=F("grade_state__grade_id"),
        n_rank=Coalesce(F("grade_state__grade__rank"), Value(-1)),
    ).values_list(*_COLUMNS)
    aliases = list(selected.query.annotation_select)  # the SELECT's column order
    sql, params = selected.query.sql_with_params()
    quote = connection.ops.quote_name
    urgency = " + ".join(
        f"CASE WHEN q.{quote(f'flag_{code}')} THEN {weight} ELSE 0 END"
        for code, weight in WEIGHTS.items()
    )
    columns = ", ".join(quote(_COLUMNS[alias]) for alias in aliases)
    outer = ", ".join(f"q.{quote(alias)}" for alias in aliases)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(QueueNeeds._meta.db_table)} ({columns}, {quote('urgency')})"
            f" SELECT {outer}, {urgency} FROM ({sql}) q",
            params,
        )
        return cursor.rowcount


def queue_needs_refresh_due(*, now: dt.datetime) -> int:
    """Flip the SLA and recent-upgrade needs whose instant has passed at `now` (indexed).

    A row is flipped when its flag disagrees with the clock: SLA breached once `sla_due_at`
    has passed, recently upgraded while `upgraded_at` is within RECENT_UPGRADE_DAYS; its
    urgency gains or loses the need's weight. Every queue page runs this first, so it is
    written as two plain statements (the ORM took ~2 ms of CPU to build them per page;
    bench/README.md, "Capacity, issue #19"), each served by the partial indexes on
    `sla_due_at` and `upgraded_at`.
    """
    table = connection.ops.quote_name(QueueNeeds._meta.db_table)
    since = now - dt.timedelta(days=RECENT_UPGRADE_DAYS)
    changed = 0
    # (flag, when the clock says it is on, when off, the instant compared, its weight)
    flips = (
        ("flag_sla", "sla_due_at < %s", "sla_due_at >= %s", now, WEIGHTS["sla"]),
        ("flag_upgraded", "upgraded_at >= %s", "upgraded_at < %s", since, WEIGHTS["upgraded"]),
    )
    with connection.cursor() as cursor:
        for flag, on, off, instant, weight in flips:
            at = connection.ops.adapt_datetimefield_value(instant)
            # SET sees the row as it was: the old flag picks the sign of the weight.
            cursor.execute(
                f"UPDATE {table} SET {flag} = NOT {flag},"
                f" urgency = urgency + CASE WHEN {flag} THEN -{int(weight)} ELSE {int(weight)} END"
                f" WHERE (NOT {flag} AND {on}) OR ({flag} AND {off})",
                [at, at],
            )
            changed += cursor.rowcount
    return changed


def queue_needs_diff(*, now: dt.datetime, limit: int = 20) -> tuple[int, list[str]]:
    """Compare the table with a full recomputation at `now`: (differences, first few)."""
    found = _differences(now=now)
    return len(found), [problem for _customer_id, problem in found[:limit]]


def _differences(*, now: dt.datetime) -> list[tuple[int, str]]:
    """(customer id, what differs) of every row that differs from a recomputation at `now`.

    Chunk by chunk of active customers (the stored and the recomputed rows of CHUNK
    customers at a time, so memory stays flat at a million customers), then one query for
    the rows of customers no longer active (or deleted).
    """
    queue_needs_refresh_due(now=now)
    found: list[tuple[int, str]] = []
    ids = Customer.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
    for chunk in itertools.batched(ids.iterator(chunk_size=CHUNK), CHUNK):
        stored = {
            row["customer_id"]: row
            for row in QueueNeeds.objects.filter(customer_id__in=chunk).values(
                "customer_id", *FIELDS
            )
        }
        for row in _rows(needs_compute(now=now, customer_ids=chunk)):
            have = stored.get(row["customer_id"])
            if have is None:
                found.append((row["customer_id"], f"{row['code']}: missing"))
                continue
            wrong = [f for f in FIELDS if not _same(have[f], row[f])]
            if wrong:
                problem = ", ".join(f"{f} {have[f]!r} != {row[f]!r}" for f in wrong)
                found.append((row["customer_id"], f"{row['code']}: {problem}"))
    active = Customer.objects.filter(pk=OuterRef("customer_id"), is_active=True)
    gone = QueueNeeds.objects.filter(~Exists(active)).order_by("customer_id")
    for customer_id, code in gone.values_list("customer_id", "code"):
        found.append((customer_id, f"{code} (customer {customer_id}): not an active customer"))
    return found


#: Differences listed in the nightly check's message (the count says how many in all).
LISTED = 20


def queue_needs_check_daily(*, now: dt.datetime | None = None) -> int:
    """The nightly job: compare the table with a recomputation, repair, tell Operations.

    Rebuilds only the customers whose rows differ (a missing row is written, a stale one
    rewritten, the row of a customer no longer active removed), in one transaction with
    the comparison's repair. Returns the number of differences found. When there were any,
    Operations get one notification a day (idempotent by date) with the first few: a
    difference means a write path bypassed the refresh (docs/operations.md, "The manager
    queue's needs table").
    """
    now = now or timezone.now()
    found = _differences(now=now)
    if not found:
        return 0
    today = timezone.localdate(now)
    with transaction.atomic():
        queue_needs_refresh(customer_ids=[customer_id for customer_id, _ in found], now=now)
        recipients = get_user_model().objects.filter(groups__name=OPERATIONS, is_active=True)
        notification_send_many(
            drafts=[
                NotificationDraft(
                    recipient_id=user.pk,
                    kind="queue_needs_check",
                    params={
                        "count": len(found),
                        "lines": [problem for _, problem in found[:LISTED]],
                    },
                    dedupe_key=f"queue_needs_check:{today.isoformat()}",
                    link=reverse("manager:queue"),
                )
                for user in recipients
            ]
        )
    return len(found)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1e-9
    return a == b


# ----------------------------------------------------------------------------- signals
# A customer's refresh runs at once, inside the writer's transaction (it sees the uncommitted
# row and rolls back with it): one customer's row is a few index probes.


def _touch(sender: type, instance: Any, **kwargs: Any) -> None:
    """Refresh the row of the saved or deleted instance's customer."""
    customer_id = instance.pk if isinstance(instance, Customer) else instance.customer_id
    if customer_id is not None:
        queue_needs_refresh(customer_ids=[customer_id])


def _rebuild(sender: type, instance: Any, **kwargs: Any) -> None:
    """A run succeeded (new snapshots and grades) or the ladder changed: rebuild every row.

    In a Celery task once the transaction commits, so a run does not wait for it: until it
    finishes (about a minute at a million customers) the queue shows the previous run.
    """
    from grading.models import GradingRun
    from manager.tasks import queue_needs_rebuild_task

    if not settings.QUEUE_NEEDS_REBUILD_AFTER_RUN:
        return
    if isinstance(instance, GradingRun) and instance.status != GradingRun.Status.SUCCEEDED:
        return
    rebuild = queue_needs_rebuild_task.delay
    if any(entry[1] == rebuild for entry in connection.run_on_commit):
        return  # once per transaction
    transaction.on_commit(rebuild)


def _decided(sender: type, customer_ids: list[int], **kwargs: Any) -> None:
    """Review decisions write changes and grades in bulk (no post_save): refresh their rows."""
    queue_needs_refresh(customer_ids=customer_ids)


def _written_in_bulk(sender: type, customer_ids: list[int], **kwargs: Any) -> None:
    """Imports, nudges and overrides wrote an input in bulk (no post_save): refresh the rows
    of those customers, set-based, in the writer's transaction. Models the needs do not
    read (orders, complaints, ...) refresh nothing."""
    if sender in _inputs():
        queue_needs_refresh(customer_ids=customer_ids)


def _inputs() -> tuple[type, ...]:
    """The models whose rows the needs read, per customer (saves refresh that customer)."""
    from benefits.models import Recommendation
    from grading.models import CustomerGrade

    return (
        Customer,
        ServiceTicket,
        Appeal,
        FollowUp,
        GradeChange,
        CustomerGrade,
        Recommendation,
        ScoreSnapshot,
    )


def connect_signals() -> None:
    """Wire the inputs' saves and deletes to the table (called from AppConfig.ready)."""
    from customers.signals import customers_written_in_bulk
    from grading.models import GradingRun
    from grading.signals import grade_changes_decided

    grade_changes_decided.connect(_decided, dispatch_uid="queue_needs_changes_decided")
    customers_written_in_bulk.connect(_written_in_bulk, dispatch_uid="queue_needs_bulk")

    for model in _inputs():
        post_save.connect(_touch, sender=model, dispatch_uid=f"queue_needs_{model.__name__}")
        post_delete.connect(_touch, sender=model, dispatch_uid=f"queue_needs_del_{model.__name__}")
    for ladder_model in (GradingRun, GradingScheme, SchemeGrade):
        post_save.connect(
            _rebuild, sender=ladder_model, dispatch_uid=f"queue_needs_all_{ladder_model.__name__}"
        )
