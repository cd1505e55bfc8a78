"""Read functions of the benefits app: entitlements, redemptions, growth progress, service levels.

Entitlements are derived from the customer's current grade on every read. Lists that staff
see are narrowed by `customers.selectors.scope_for_user` (docs/architecture.md, invariant 5).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from benefits.exceptions import BenefitNotFound
from benefits.models import Benefit, GradeBenefit, GrowthTask, Recommendation, Redemption
from benefits.periods import period_key
from common.sentinels import UNREAD, Unread
from common.translated import localized
from common.versions import versioned
from customers.models import Customer, PointsEntry, ServiceTicket
from customers.selectors import scope_for_user
from grading.models import CustomerGrade, Grade
from grading.selectors import LADDER_TTL, LADDER_VERSION

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType
    from django_stubs_ext import WithAnnotations

# ----------------------------------------------------------------------------------- catalog


def benefit_get_by_code(code: str) -> Benefit:
    """Return the benefit with `code` or raise BenefitNotFound (404)."""
    benefit = Benefit.objects.filter(code=code).first()
    if benefit is None:
        raise BenefitNotFound(_("No benefit is called “%(code)s”.") % {"code": code})
    return benefit


def benefit_list() -> QuerySet[Benefit]:
    """Return the catalog with the grades carrying each benefit (two queries when listed)."""
    return Benefit.objects.prefetch_related("grades").order_by("name")


def benefit_catalog_by_grade(*, today: dt.date | None = None) -> dict[int, list[Benefit]]:
    """Return {grade id: benefits available today}, for publishing every grade's benefits.

    One query, kept in the cache until a benefit or a grade's benefits change
    (`grading.selectors.LADDER_VERSION`; docs/operations.md, "Caches"); benefits switched
    off or outside their validity are left out, each grade's by name.
    """
    day = today or timezone.localdate()
    return versioned(
        LADDER_VERSION,
        f"benefit-catalog:{day:%Y-%m-%d}",
        lambda: _catalog_read(day),
        ttl=LADDER_TTL,
    )


def _catalog_read(today: dt.date) -> dict[int, list[Benefit]]:
    links = (
        GradeBenefit.objects.filter(benefit__is_active=True)
        .filter(Q(benefit__valid_from__isnull=True) | Q(benefit__valid_from__lte=today))
        .filter(Q(benefit__valid_until__isnull=True) | Q(benefit__valid_until__gte=today))
        .select_related("benefit")
        .order_by("benefit__name")
    )
    catalog: dict[int, list[Benefit]] = defaultdict(list)
    for link in links:
        catalog[link.grade_id].append(link.benefit)
    return dict(catalog)


# ------------------------------------------------------------------------------ entitlements


@dataclass(frozen=True)
class Entitlement:
    """A benefit the customer's current grade carries, with this period's use."""

    benefit: Benefit
    grade: Grade
    period_key: str
    used: int

    @property
    def remaining(self) -> int:
        return max(self.benefit.allowance - self.used, 0)


def customer_current_grade(customer: Customer | int) -> Grade | None:
    """Return the customer's current grade (None before their first grading)."""
    customer_id = customer if isinstance(customer, int) else customer.pk
    state = CustomerGrade.objects.select_related("grade").filter(customer_id=customer_id).first()
    return state.grade if state else None


def entitlement_list_for_customer(
    *,
    customer: Customer | int,
    today: dt.date | None = None,
    grade: Grade | Unread | None = UNREAD,
) -> list[Entitlement]:
    """Return what the customer may redeem today: their current grade's benefits and use.

    One query for this period's redemption counts, the grade's benefits coming from the
    cached catalog (`benefit_catalog_by_grade`), and one for the customer's grade unless
    the caller has just read it (`grade`, None for none). A customer with no grade yet has
    no entitlements; a benefit switched off or outside its validity is left out. Used-up
    benefits stay in the list with `remaining` 0.
    """
    today = today or timezone.localdate()
    customer_id = customer if isinstance(customer, int) else customer.pk
    if isinstance(grade, Unread):
        grade = customer_current_grade(customer_id)
    if grade is None:
        return []
    benefits = benefit_catalog_by_grade(today=today).get(grade.pk, [])
    keys = {b.pk: period_key(b.period, today) for b in benefits}
    used = {
        (benefit_id, key): n
        for benefit_id, key, n in Redemption.objects.filter(
            customer_id=customer_id, benefit_id__in=list(keys), period_key__in=set(keys.values())
        )
        .values_list("benefit_id", "period_key")
        .annotate(n=Count("id"))
        .values_list("benefit_id", "period_key", "n")
        .order_by()
    }
    return [
        Entitlement(
            benefit=b, grade=grade, period_key=keys[b.pk], used=used.get((b.pk, keys[b.pk]), 0)
        )
        for b in benefits
    ]


# ------------------------------------------------------------------------------- redemptions


def redemption_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Redemption]:
    """Return the redemptions of customers `user` may see, newest first, joins included."""
    queryset = Redemption.objects.select_related(
        "customer", "benefit", "grade", "redeemed_by"
    ).order_by("-redeemed_at", "-id")
    return scope_for_user(queryset, user=user, customer_path="customer")


def redemption_list_for_customer(*, customer: Customer, limit: int = 50) -> list[Redemption]:
    """Return the customer's latest redemptions (for their portal page), newest first."""
    return list(
        Redemption.objects.filter(customer=customer)
        .select_related("benefit", "grade")
        .order_by("-redeemed_at", "-id")[:limit]
    )


def benefit_usage_by_grade(*, start: dt.datetime, end: dt.datetime) -> list[dict[str, object]]:
    """Return per grade (at redemption) the redemptions and their cost in [start, end).

    One grouped query, highest grade first; for the benefit-usage and cost-to-serve reports.
    """
    rows = (
        Redemption.objects.filter(redeemed_at__gte=start, redeemed_at__lt=end)
        .values("grade_id", "grade__code", "grade__rank", grade_name=localized("grade__name"))
        .annotate(
            redemptions=Count("id"), cost=Sum("cost"), customers=Count("customer", distinct=True)
        )
        .order_by("-grade__rank")
    )
    return [
        {
            "grade": row["grade__code"],
            "grade_name": row["grade_name"],
            "redemptions": row["redemptions"],
            "customers": row["customers"],
            "cost": row["cost"] or Decimal("0"),
        }
        for row in rows
    ]


# ------------------------------------------------------------------------------ growth points


@dataclass(frozen=True)
class GrowthTaskProgress:
    """A growth task as a customer sees it: what it pays and what they earned from it."""

    task: GrowthTask
    completions: int
    points_earned: int

    @property
    def done(self) -> bool:
        return self.completions > 0 and not self.task.repeatable


def growth_task_progress_for_customer(*, customer: Customer) -> list[GrowthTaskProgress]:
    """Return every active growth task with the customer's credits for it (two queries)."""
    tasks = list(GrowthTask.objects.filter(is_active=True).order_by("code"))
    earned = {
        code: (n, points)
        for code, n, points in PointsEntry.objects.filter(customer=customer)
        .values_list("task_code")
        .annotate(n=Count("id"), points=Sum("points"))
        .values_list("task_code", "n", "points")
        .order_by()
    }
    return [
        GrowthTaskProgress(
            task=t,
            completions=earned.get(t.code, (0, 0))[0],
            points_earned=earned.get(t.code, (0, 0))[1],
        )
        for t in tasks
    ]


# ---------------------------------------------------------------------------- recommendations


def recommendation_list_open() -> QuerySet[Recommendation]:
    """Return every open recommendation (unscoped: callers filter by their customers)."""
    return Recommendation.objects.filter(status=Recommendation.Status.OPEN)


def recommendation_list_for_customer(*, customer: Customer) -> list[Recommendation]:
    """Return the customer's open recommendations, newest first (one query)."""
    return list(
        recommendation_list_open()
        .filter(customer=customer)
        .select_related("category", "based_on")
        .order_by("-created_at", "-id")
    )


def recommendation_list_for_user(
    *, user: AbstractBaseUser | AnonymousUser, status: str | None = Recommendation.Status.OPEN
) -> QuerySet[Recommendation]:
    """Return recommendations on `user`'s queue (open ones by default), newest first."""
    queryset = Recommendation.objects.select_related("customer", "category", "based_on")
    if status is not None:
        queryset = queryset.filter(status=status)
    return scope_for_user(
        queryset.order_by("-created_at", "-id"), user=user, customer_path="customer"
    )


# ----------------------------------------------------------------------------- service levels


class Minutes(Func):
    """An integer column of minutes as a duration, so it can be added to a timestamp."""

    output_field = DurationField()

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> _AsSqlType:
        return self.as_sql(
            compiler, connection, template="make_interval(mins => %(expressions)s)", **extra_context
        )

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> _AsSqlType:
        # Django keeps SQLite durations as integer microseconds.
        return self.as_sql(
            compiler, connection, template="(%(expressions)s * 60000000)", **extra_context
        )


class SlaAnnotations(TypedDict):
    """What `ticket_sla_annotate` adds to each ticket."""

    sla_minutes: int | None
    sla_grade_name: str | None
    sla_deadline: dt.datetime | None


def ticket_sla_annotate(
    queryset: QuerySet[ServiceTicket],
) -> QuerySet[WithAnnotations[ServiceTicket, SlaAnnotations]]:
    """Annotate tickets with their grade's `sla_minutes` and first-response `sla_deadline`.

    The grade is the customer's CURRENT grade; tickets of ungraded customers, or of grades
    without a target, get NULLs and never count as breaches.
    """
    return queryset.annotate(
        sla_minutes=F("customer__grade_state__grade__first_response_minutes"),
        sla_grade_name=localized("customer__grade_state__grade__name"),
    ).annotate(
        sla_deadline=ExpressionWrapper(
            F("opened_at") + Minutes("sla_minutes"), output_field=DateTimeField()
        )
    )


def _breached(now: dt.datetime) -> Q:
    """Answered after the deadline, or still unanswered with the deadline passed at `now`."""
    return Q(first_response_at__isnull=False, first_response_at__gt=F("sla_deadline")) | Q(
        first_response_at__isnull=True, sla_deadline__lt=now
    )


def ticket_sla_breaches(
    *, user: AbstractBaseUser | AnonymousUser, now: dt.datetime | None = None
) -> QuerySet[ServiceTicket]:
    """Return tickets of `user`'s customers whose first response breached the grade's SLA.

    Computed in the database in one query: a ticket breaches when its first response came
    after `opened_at + first_response_minutes`, or has not come and that deadline is
    before `now`. Oldest deadline first; `sla_deadline`, `sla_minutes` and `sla_grade_name`
    are annotated, the customer is joined.
    """
    now = now or timezone.now()
    queryset = ticket_sla_annotate(ServiceTicket.objects.select_related("customer"))
    queryset = (
        queryset.filter(sla_minutes__isnull=False)
        .filter(_breached(now))
        .order_by("sla_deadline", "id")
    )
    return scope_for_user(queryset, user=user, customer_path="customer")


def ticket_list_overdue(*, now: dt.datetime | None = None) -> QuerySet[ServiceTicket]:
    """Return open tickets still waiting for a first response past their grade's target.

    Unscoped (callers narrow it: the manager queue correlates it with each customer). The
    "act now" subset of `ticket_sla_breaches`: closed tickets and late answers are history.
    """
    now = now or timezone.now()
    return ticket_sla_annotate(
        ServiceTicket.objects.filter(first_response_at__isnull=True, closed_at__isnull=True)
    ).filter(sla_minutes__isnull=False, sla_deadline__lt=now)


def ticket_list_for_customer(
    *, customer: Customer, now: dt.datetime | None = None, limit: int = 20
) -> list[ServiceTicket]:
    """Return the customer's latest tickets with their SLA: `sla_deadline`, `sla_breached`.

    One query. The target is the first-response time of the customer's CURRENT grade; a
    ticket breaches as in `ticket_sla_breaches` (answered late, or unanswered past the
    deadline at `now`). No target: `sla_deadline` is None and `sla_breached` False.
    """
    now = now or timezone.now()
    queryset = ticket_sla_annotate(ServiceTicket.objects.filter(customer=customer)).annotate(
        sla_breached=Case(
            When(Q(sla_minutes__isnull=False) & _breached(now), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )
    return list(queryset.order_by("-opened_at", "-id")[:limit])


def sla_breach_summary_by_grade(
    *,
    user: AbstractBaseUser | AnonymousUser,
    now: dt.datetime | None = None,
    opened_after: dt.datetime | None = None,
    opened_before: dt.datetime | None = None,
) -> list[dict[str, object]]:
    """Return per current grade: tickets, breaches, open breaches and the breach rate.

    One grouped query over the tickets `user` may see (optionally opened in
    [opened_after, opened_before)), highest grade first; the rate is breaches / tickets.
    """
    now = now or timezone.now()
    queryset = ticket_sla_annotate(ServiceTicket.objects.all()).filter(sla_minutes__isnull=False)
    if opened_after is not None:
        queryset = queryset.filter(opened_at__gte=opened_after)
    if opened_before is not None:
        queryset = queryset.filter(opened_at__lt=opened_before)
    queryset = scope_for_user(queryset, user=user, customer_path="customer")
    rows = (
        queryset.values(
            grade=F("customer__grade_state__grade__code"),
            grade_name=localized("customer__grade_state__grade__name"),
            rank=F("customer__grade_state__grade__rank"),
            target_minutes=F("customer__grade_state__grade__first_response_minutes"),
        )
        .annotate(
            tickets=Count("id"),
            breaches=Count("id", filter=_breached(now)),
            open_breaches=Count("id", filter=Q(first_response_at__isnull=True) & _breached(now)),
        )
        .order_by("-rank")
    )
    return [
        {
            **{k: row[k] for k in ("grade", "grade_name", "target_minutes", "tickets")},
            "breaches": row["breaches"],
            "open_breaches": row["open_breaches"],
            "breach_rate": row["breaches"] / row["tickets"] if row["tickets"] else 0.0,
        }
        for row in rows
    ]
