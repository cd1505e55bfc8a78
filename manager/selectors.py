"""The account manager's queue: their customers, best grade first, most urgent first.

A page reads the needs table (`appeals.models.QueueNeeds`, maintained by
`manager.needs`): an index range scan of one page of rows plus a count, whatever
the number of customers (issue #19). Scoped like `customers.selectors.customer_list_for_user`:
a manager sees only their own customers, Operations see everyone (docs/architecture.md,
invariant 5).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from appeals.labels import grade_label
from appeals.models import Appeal, FollowUp, QueueNeeds
from common.versions import versioned
from customers.search import customer_search
from customers.selectors import scope_for_user
from grading.models import Grade
from grading.selectors import LADDER_TTL, LADDER_VERSION
from manager.needs import (
    CLOSE_TO_NEXT_POINTS,
    RECENT_UPGRADE_DAYS,
    WEIGHTS,
    queue_needs_refresh_due,
)

__all__ = ["CLOSE_TO_NEXT_POINTS", "FLAGS", "FLAG_CODES", "RECENT_UPGRADE_DAYS"]


@dataclass(frozen=True)
class Flag:
    code: str
    label: object
    weight: int  # urgency: the queue sorts by the sum of the weights of a row's flags


FLAGS = (
    Flag("sla", _("Service-ticket SLA breached"), WEIGHTS["sla"]),
    Flag("proposed", _("Downgrade proposed"), WEIGHTS["proposed"]),
    Flag("follow_up", _("Reach out before downgrade"), WEIGHTS["follow_up"]),
    Flag("appeal", _("Open appeal"), WEIGHTS["appeal"]),
    Flag("close", _("Close to the next grade"), WEIGHTS["close"]),
    Flag("upgraded", _("Recently upgraded"), WEIGHTS["upgraded"]),
    Flag("recommend", _("Related category to suggest"), WEIGHTS["recommend"]),
)
FLAG_CODES = tuple(flag.code for flag in FLAGS)


def customer_queue_for_user(
    *,
    user: AbstractBaseUser | AnonymousUser,
    now: dt.datetime,
    flag: str = "",
    grade: str = "",
    search: str = "",
) -> QuerySet[QueueNeeds]:
    """Return the user's customers' queue rows (what needs them), ordered for the queue.

    Flags (booleans `flag_<code>`): `follow_up` (the latest run warned or proposed a
    downgrade: reach out), `proposed` (a downgrade proposal waits for review), `appeal`
    (an open appeal), `sla` (an open ticket without first response past the grade's
    first-response target), `upgraded` (an upgrade in the last 30 days), `close` (latest
    composite within 5 points below the next grade's floor in the active scheme),
    `recommend` (an open related-category recommendation from the nudge job); `urgency`
    is the sum of their weights (manager.needs.WEIGHTS). Ordered by urgency (most urgent
    first), then value (grade rank, highest first, ungraded last), then code: the order of
    the table's index. Rows carry `code`, `name`, `grade` (the customer's grade, kept in
    the table and checked with the rest: one join fewer than through the grade state),
    `composite` and `account_manager` like the customers they stand for, and
    `last_contact_at` (the latest follow-up) and `appeal_filed_at` (the oldest open appeal;
    its answer is due APPEAL_REVIEW_SLA_DAYS later, `appeal_due_at`), one correlated
    subquery per row of the page.
    """
    queue_needs_refresh_due(now=now)
    rows = scope_for_user(QueueNeeds.objects.all(), user=user).select_related(
        "customer", "grade", "account_manager"
    )
    if flag in FLAG_CODES:
        rows = rows.filter(**{f"flag_{flag}": True})
    if grade:
        rows = rows.filter(grade__code=grade)
    rows = customer_search(rows, term=search, prefix="customer__")
    rows = rows.annotate(
        last_contact_at=Subquery(
            FollowUp.objects.filter(customer_id=OuterRef("customer_id"))
            .order_by("-created_at")
            .values("created_at")[:1]
        ),
        appeal_filed_at=Subquery(
            Appeal.objects.filter(
                customer_id=OuterRef("customer_id"), status__in=Appeal.OPEN_STATUSES
            )
            .order_by("created_at")
            .values("created_at")[:1]
        ),
    )
    return rows.order_by("-urgency", "-grade_rank", "code")


def appeal_due_at(filed_at: dt.datetime | None) -> dt.datetime | None:
    """Return when an appeal filed at `filed_at` must be answered (the review SLA)."""
    if filed_at is None:
        return None
    return filed_at + dt.timedelta(days=int(settings.APPEAL_REVIEW_SLA_DAYS))


def grade_choices() -> list[tuple[str, str]]:
    """Return (code, translated name) of every grade, best first, for the queue's filter.

    Kept in the cache per language until a grade changes (`LADDER_VERSION`).
    """

    def read() -> list[tuple[str, str]]:
        grades = Grade.objects.order_by("-rank").only("code", "name")
        return [(g.code, grade_label(g)) for g in grades]

    language = translation.get_language() or ""
    return versioned(LADDER_VERSION, f"grade-choices:{language}", read, ttl=LADDER_TTL)
