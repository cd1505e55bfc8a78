"""Redeem a benefit: at most the allowance per period, only while the grade carries it.

docs/architecture.md, invariant 4. Three guards, each enough on its own for one failure mode:

1. a row lock on the customer's `grading.CustomerGrade` serialises this customer's
   redemptions with each other AND with every grade change (runs, reviews, overrides and
   appeals all UPDATE that row), so the grade and the period's count read under the lock
   are the truth at commit time;
2. the slot number (count + 1) with the unique constraint (customer, benefit, period, slot)
   refuses a second writer that slipped past the lock;
3. the unique (customer, idempotency key) turns a retried request into a read of the first.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from benefits.exceptions import (
    AllowanceExhausted,
    BenefitNotEntitled,
    BenefitUnavailable,
    IdempotencyKeyReused,
)
from benefits.models import Benefit, GradeBenefit, Redemption
from benefits.periods import period_key
from benefits.selectors import benefit_get_by_code
from common.exceptions import DomainError
from grading.models import CustomerGrade, Grade

IDEMPOTENCY_KEY_MAX = 100


def redemption_check(
    *, customer_id: int, grade: Grade | None, benefit: Benefit, today: dt.date
) -> tuple[str, int]:
    """Raise the domain error that refuses redeeming `benefit` now; else return (period, used).

    Read-only. `benefit_redeem` calls it under the grade lock; forms call it without the
    lock to show a refusal early (the service still decides).
    """
    if not benefit.is_valid_on(today):
        raise BenefitUnavailable(
            _("“%(benefit)s” is not available on %(day)s.") % {"benefit": benefit, "day": today}
        )
    if grade is None:
        raise BenefitNotEntitled(
            _("The customer has no grade yet, so “%(benefit)s” is not included.")
            % {"benefit": benefit}
        )
    if not GradeBenefit.objects.filter(grade=grade, benefit=benefit).exists():
        raise BenefitNotEntitled(
            _("The grade “%(grade)s” does not include “%(benefit)s”.")
            % {"grade": grade, "benefit": benefit}
        )
    key = period_key(benefit.period, today)
    used = Redemption.objects.filter(
        customer_id=customer_id, benefit=benefit, period_key=key
    ).count()
    if used >= benefit.allowance:
        raise AllowanceExhausted(
            _("“%(benefit)s” is used up: %(used)s of %(allowance)s use(s) in %(period)s.")
            % {"benefit": benefit, "used": used, "allowance": benefit.allowance, "period": key}
        )
    return key, used


def _replay(*, customer_id: int, key: str, benefit_code: str) -> Redemption | None:
    """Return the redemption made earlier with this idempotency key, if any."""
    existing = (
        Redemption.objects.select_related("benefit", "grade")
        .filter(customer_id=customer_id, idempotency_key=key)
        .first()
    )
    if existing is not None and existing.benefit.code != benefit_code:
        raise IdempotencyKeyReused(
            _("This idempotency key was already used to redeem “%(benefit)s”.")
            % {"benefit": existing.benefit}
        )
    return existing


def benefit_redeem(
    *,
    customer_id: int,
    benefit_code: str,
    idempotency_key: str,
    channel: str,
    by: User | None = None,
    today: dt.date | None = None,
) -> Redemption:
    """Redeem `benefit_code` for the customer and return the redemption.

    Idempotent per (customer, idempotency key): a retry returns the first redemption
    (IdempotencyKeyReused, 409, if the key was used for another benefit). Refuses with
    BenefitNotFound (404), BenefitUnavailable / BenefitNotEntitled (403: switched off, out
    of validity, or the customer's CURRENT grade does not carry it) or AllowanceExhausted
    (409: this period's uses are all taken). `today` (project-local date) picks the period.
    """
    key = (idempotency_key or "").strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise DomainError(
            _("An idempotency key of 1 to %(max)s characters is required.")
            % {"max": IDEMPOTENCY_KEY_MAX},
            field="idempotency_key",
        )
    if channel not in Redemption.Channel.values:
        raise ValueError(f"Unknown redemption channel {channel!r}")
    today = today or timezone.localdate()
    with transaction.atomic():
        # Lock the grade row WITHOUT joins: under READ COMMITTED PostgreSQL re-reads a row
        # that a concurrent grade change updated once that change commits, so a downgrade
        # committed first is what we see here; a join would be re-checked against the old
        # grade row instead. (SQLite: the IMMEDIATE transaction already serialises writers.)
        grade_id = (
            CustomerGrade.objects.select_for_update()
            .filter(customer_id=customer_id)
            .values_list("grade_id", flat=True)
            .first()
        )
        replay = _replay(customer_id=customer_id, key=key, benefit_code=benefit_code)
        if replay is not None:
            return replay
        benefit = benefit_get_by_code(benefit_code)
        grade = Grade.objects.get(pk=grade_id) if grade_id is not None else None
        period, used = redemption_check(
            customer_id=customer_id, grade=grade, benefit=benefit, today=today
        )
        assert grade is not None  # redemption_check refuses a customer without a grade
        try:
            with transaction.atomic():
                return Redemption.objects.create(
                    customer_id=customer_id,
                    benefit=benefit,
                    grade=grade,
                    period_key=period,
                    slot=used + 1,
                    idempotency_key=key,
                    channel=channel,
                    cost=benefit.cost_per_use,
                    redeemed_at=timezone.now(),
                    redeemed_by=by if by is not None and by.is_authenticated else None,
                )
        except IntegrityError as exc:
            # Only reachable if a writer bypassed the lock: the constraints decide.
            replay = _replay(customer_id=customer_id, key=key, benefit_code=benefit_code)
            if replay is not None:
                return replay
            raise AllowanceExhausted(
                _("“%(benefit)s” was just redeemed by another request; its uses are taken.")
                % {"benefit": benefit}
            ) from exc
