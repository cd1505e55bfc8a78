"""The account manager's queue: their customers, best grade first, most urgent first.

One query for the page whatever its length: every flag is an `Exists` (or a `CASE` over the
handful of grades) evaluated by the database, so the queue never runs a query per row.
Scoped with `customers.selectors.customer_list_for_user`: a manager sees only their own
customers, Operations see everyone (DESIGN.md invariant 5).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils.translation import gettext_lazy as _

from appeals.labels import grade_label
from appeals.models import Appeal
from benefits.selectors import recommendation_list_open, ticket_list_overdue
from customers.models import Customer
from customers.search import customer_search
from customers.selectors import customer_list_for_user
from grading.models import Grade, GradeChange, GradingScheme, SchemeGrade, ScoreSnapshot
from grading.selectors import run_get_latest_succeeded

#: Points below the next grade's floor that count as "close to the next grade".
CLOSE_TO_NEXT_POINTS = 5
#: How far back an upgrade counts as recent.
RECENT_UPGRADE_DAYS = 30


@dataclass(frozen=True)
class Flag:
    code: str
    label: object
    weight: int  # urgency: the queue sorts by the sum of the weights of a row's flags


FLAGS = (
    Flag("sla", _("Service-ticket SLA breached"), 32),
    Flag("appeal", _("Open appeal"), 16),
    Flag("proposed", _("Downgrade proposed"), 8),
    Flag("follow_up", _("Reach out before downgrade"), 4),
    Flag("close", _("Close to the next grade"), 2),
    Flag("upgraded", _("Recently upgraded"), 1),
    Flag("recommend", _("Related category to suggest"), 1),
)
FLAG_CODES = tuple(flag.code for flag in FLAGS)


def customer_queue_for_user(
    *,
    user: AbstractBaseUser | AnonymousUser,
    now: dt.datetime,
    flag: str = "",
    grade: str = "",
    search: str = "",
) -> QuerySet[Customer]:
    """Return the user's customers annotated with what needs them, ordered for the queue.

    Flags (booleans `flag_<code>`): `follow_up` (the latest run warned or proposed a
    downgrade: reach out), `proposed` (a downgrade proposal waits for review), `appeal`
    (an open appeal), `sla` (an open ticket without first response past the grade's
    first-response target), `upgraded` (an upgrade in the last 30 days), `close` (latest
    composite within 5 points below the next grade's floor in the active scheme),
    `recommend` (an open related-category recommendation from the nudge job).
    Ordered by grade rank (highest first, ungraded last), then urgency, then code.
    Two small queries (latest run, active ladder) build the expression; the SLA flag is
    `benefits.selectors.ticket_list_overdue`, the one definition of an overdue ticket.
    """
    run = run_get_latest_succeeded()
    ladder = list(
        SchemeGrade.objects.filter(scheme__status=GradingScheme.Status.ACTIVE)
        .order_by("grade__rank")
        .values_list("grade_id", "min_score")
    )

    snapshots = ScoreSnapshot.objects.filter(customer=OuterRef("pk"), run=run)
    queryset = customer_list_for_user(user=user).filter(is_active=True)
    queryset = queryset.annotate(
        grade_rank=F("grade_state__grade__rank"),
        composite=Subquery(snapshots.values("composite")[:1])
        if run
        else Value(None, output_field=FloatField()),
        flag_follow_up=Exists(snapshots.filter(action__in=["warn", "propose_downgrade"]))
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
            GradeChange.objects.filter(
                customer=OuterRef("pk"),
                direction=GradeChange.Direction.UP,
                status=GradeChange.Status.APPLIED,
                created_at__gte=now - dt.timedelta(days=RECENT_UPGRADE_DAYS),
            )
        ),
        flag_recommend=Exists(recommendation_list_open().filter(customer=OuterRef("pk"))),
    )
    queryset = queryset.annotate(flag_close=_close_to_next(ladder))
    queryset = queryset.annotate(
        urgency=sum(
            (
                Case(
                    When(**{f"flag_{f.code}": True}, then=Value(f.weight)),
                    default=Value(0),
                    output_field=IntegerField(),
                )
                for f in FLAGS
            ),
            start=Value(0),
        )
    )
    if flag in FLAG_CODES:
        queryset = queryset.filter(**{f"flag_{flag}": True})
    if grade:
        queryset = queryset.filter(grade_state__grade__code=grade)
    queryset = customer_search(queryset, term=search)
    return queryset.order_by(F("grade_rank").desc(nulls_last=True), "-urgency", "code")


def _close_to_next(ladder: list[tuple[int, object]]) -> Case | Value:
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


def grade_choices() -> list[tuple[str, str]]:
    """Return (code, translated name) of every grade, best first, for the queue's filter."""
    return [(g.code, grade_label(g)) for g in Grade.objects.order_by("-rank").only("code", "name")]
