"""A lived-in demo: a year of grading and operations on top of the demo customers.

`demo_history_seed` replays the twelve monthly periods before today, oldest first, through
the real services, so `make run` opens on history and the demo exercises the real paths
(docs/operations.md, "The demo"):

- each period is graded by `grading_run_execute` (the run lifecycle of
  `grading/services/runs.py`) and its account managers notified (`run_notify`);
- account managers record follow-ups on the customers a run warned about
  (`follow_up_create`);
- operations review the run's downgrade proposals a few days later, approving or rejecting
  most (`grade_change_approve` / `grade_change_reject`); the last period's proposals and
  some older ones still wait;
- customers appeal some downgrades (`appeal_file`); older appeals are accepted (which locks
  the grade: `appeal_accept`), rejected or withdrawn, recent ones are still open, under
  review or waiting (some past the review SLA);
- customers redeem the benefits their grade carries (`benefit_redeem`);
- a customer portal login is made if missing (`customer`, the demo password):
  `demo_customer_login_ensure`;
- the active scheme's provisional upgrades are turned on last, so from then on an order
  that earns a higher grade upgrades its customer at once
  (`scheme_provisional_upgrades_set`, docs/grading-policy.md).

Each month's operations happen at their own moment: the clock (`django.utils.timezone.now`)
is set to that moment while the services run, so timestamps, appeal windows, SLAs, lock
expiry and the reports' windows are those of a real year. The customers app cannot import
grading, benefits or appeals (docs/architecture.md, "Layers"); this interface app may.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from appeals.models import Appeal, FollowUp
from appeals.services import (
    appeal_accept,
    appeal_file,
    appeal_reject,
    appeal_start_review,
    appeal_withdraw,
    follow_up_create,
)
from benefits.models import Redemption
from benefits.periods import Period
from benefits.selectors import benefit_catalog_by_grade
from benefits.services.redemptions import benefit_redeem
from common.dates import local_midnight
from common.exceptions import DomainError
from customers.models import CustomerAccount
from customers.services.demo import DEMO_PASSWORD, MANAGER_USERNAMES, OPS_USERNAME
from grading.models import CustomerGrade, GradeChange, GradingRun, ScoreSnapshot
from grading.selectors import scheme_get_active
from grading.services.notifications import run_notify
from grading.services.reviews import grade_change_approve, grade_change_reject
from grading.services.runs import grading_run_execute
from grading.services.schedule import period_as_of
from grading.services.schemes import scheme_provisional_upgrades_set

Progress = Callable[[str, int], None]

#: Monthly periods graded: a year of history.
DEMO_PERIODS = 12
#: The demo's customer portal login (password: the demo password), made by the history seed.
DEMO_CUSTOMER_USERNAME = "customer"
DEMO_CUSTOMER_EMAIL = "customer@tierhub.local"
#: Share of a run's warnings an account manager follows up on.
FOLLOW_UP_RATE = 0.3
#: What operations do with a run's downgrade proposals (the rest wait for review).
APPROVE_RATE, REJECT_RATE = 0.5, 0.25
#: Share of downgrades in force that customers appeal (the first of each period always is,
#: so a small demo has appeals too).
APPEAL_RATE = 0.12
#: Where the appeals filed before the last two periods end, in turn: every state shows
#: however few appeals there are; "open" ones are past the review SLA by now.
OLD_APPEAL_OUTCOMES = ("accept", "reject", "withdraw", "reject", "accept", "open", "reject")
#: The last two periods' appeals, in turn: waiting, or being looked at.
RECENT_APPEAL_OUTCOMES = ("submitted", "under_review")
#: Chance that a customer redeems a benefit in a month, by the grade's rank from the top,
#: and at most this many redemptions a month: enough for the reports' usage and cost per
#: grade, few enough that `make run` stays quick (each is a locked transaction).
REDEEM_RATES = (0.3, 0.2, 0.1, 0.03, 0.01)
REDEMPTIONS_PER_MONTH = 40

FOLLOW_UP_OUTCOMES = (
    "Called the buyer: orders paused while their own client renegotiates; expects to resume.",
    "Sent the volume-rebate offer for next month; they will consider a larger order.",
    "Met the purchasing lead: moving part of their game-card volume to us again.",
    "No answer by phone; left a message and sent an e-mail.",
    "Explained what keeps the grade; agreed on a monthly order plan.",
)
FOLLOW_UP_NEXT_STEPS = (
    "Call again in two weeks to confirm the next order.",
    "Send the volume-rebate offer and follow up by e-mail.",
    "Visit the purchasing lead next month.",
)
APPEAL_REASONS = (
    "Our orders were delayed by a supplier problem on your side; we ordered as usual after.",
    "Two large orders were booked under our sister company's account.",
    "We paid a big order on the 1st: it belongs to the last period.",
    "Seasonal business: we always buy less in these months and more at year end.",
)
ACCEPT_NOTES = (
    "Confirmed: the orders under the sister account count. Grade restored for one period.",
    "Confirmed the supplier delay; the grade is kept for one review period.",
)
REJECT_NOTES = (
    "The purchases in the window are below the grade's minimum even with the late order.",
    "No evidence of orders booked elsewhere; the downgrade stands.",
)


@dataclass
class HistorySummary:
    """What `demo_history_seed` did."""

    runs: int = 0
    approved: int = 0
    rejected: int = 0
    pending: int = 0
    appeals: int = 0
    follow_ups: int = 0
    redemptions: int = 0


@contextmanager
def _clock(moment: dt.datetime) -> Iterator[None]:
    """Run the block as if it were `moment` (every service reads `timezone.now()`)."""
    with mock.patch.object(timezone, "now", return_value=moment):
        yield


class _Timeline:
    """Moments of the replayed year: a day of a period plus an office hour, never after now."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.tz = timezone.get_default_timezone()

    def at(self, day: dt.date, hour: float) -> dt.datetime:
        moment = dt.datetime.combine(day, dt.time.min, self.tz) + dt.timedelta(hours=hour)
        # The last period's days may run into today: nothing happens after the real now.
        return min(moment, self.now - dt.timedelta(minutes=1))


def demo_periods(today: dt.date, periods: int = DEMO_PERIODS) -> list[dt.date]:
    """Return the as-of dates of the `periods` monthly runs up to today's, oldest first."""
    latest = period_as_of(today)
    index = latest.year * 12 + latest.month - 1
    return [
        dt.date((index - back) // 12, (index - back) % 12 + 1, 1)
        for back in reversed(range(periods))
    ]


def demo_history_seed(
    *,
    seed: int = 42,
    today: dt.date | None = None,
    periods: int = DEMO_PERIODS,
    progress: Progress | None = None,
) -> HistorySummary:
    """Grade the demo customers over `periods` months and operate on the results.

    Deterministic for a given seed and population. Months already graded are skipped by
    the runs themselves (idempotent), but the operations would repeat: call it once, on a
    fresh demo (the command's `--if-empty` guards `make run`). Raises DomainError when
    the demo logins are missing (`demo_seed` creates them).
    """
    report: Progress = progress or (lambda _step, _n: None)
    users = get_user_model().objects.in_bulk(
        [OPS_USERNAME, *MANAGER_USERNAMES], field_name="username"
    )
    if OPS_USERNAME not in users:
        raise DomainError(_("The demo logins are missing: seed the demo customers first."))
    ops = users[OPS_USERNAME]
    managers = {user.pk: user for name, user in users.items() if name != OPS_USERNAME}
    rng = np.random.Generator(np.random.PCG64(seed + 1))
    today = today or timezone.localdate()
    # Nothing happens after the real now, nor after the `today` the customers were made for.
    timeline = _Timeline(min(timezone.now(), local_midnight(today + dt.timedelta(days=1))))
    dates = demo_periods(today, periods)
    summary = HistorySummary()
    appeal_numbers = itertools.count()
    report("history", 0)
    for index, as_of in enumerate(dates):
        last = index == len(dates) - 1
        recent = index >= len(dates) - 2
        with _clock(timeline.at(as_of, 2)):
            run = grading_run_execute(as_of=as_of, triggered_by="demo")
            if run.status != GradingRun.Status.SUCCEEDED:
                raise DomainError(
                    _("The demo run of %(date)s did not finish: %(error)s")
                    % {"date": as_of, "error": run.error or run.status}
                )
            run_notify(run_id=run.pk)
        summary.runs += 1
        # A month of operations commits once: a few hundred service calls, each its own
        # transaction (a savepoint here), would otherwise each wait for a disk flush.
        with transaction.atomic():
            summary.follow_ups += _follow_ups(run, rng, timeline, managers, as_of)
            if not last:
                # Older periods are worked off completely; the last few leave a backlog.
                approved, rejected = _reviews(
                    run, rng, timeline, ops, as_of, backlog=index >= len(dates) - 3
                )
                summary.approved += approved
                summary.rejected += rejected
            summary.appeals += _appeals(
                run, rng, timeline, ops, managers, as_of, recent=recent, counter=appeal_numbers
            )
            summary.redemptions += _redemptions(rng, timeline, as_of)
        report("history", 1)
    summary.pending = GradeChange.objects.filter(status=GradeChange.Status.PROPOSED).count()
    demo_customer_login_ensure(by=ops)
    # From now on an order that earns a higher grade upgrades its customer at once (after
    # the history: the year's runs are the only grading of the past).
    scheme_provisional_upgrades_set(scheme=scheme_get_active(), enabled=True, by=ops)
    return summary


def demo_customer_login_ensure(*, by: User) -> CustomerAccount | None:
    """Give the demo a customer portal login (`customer` / the demo password) if missing.

    The customer is one of `manager`'s (the printed manager login) with the latest applied
    downgrade, so the portal shows an appealable downgrade; else any graded customer.
    None when the demo has no graded customer yet.
    """
    user_model = get_user_model()
    existing = CustomerAccount.objects.filter(user__username=DEMO_CUSTOMER_USERNAME).first()
    if existing is not None:
        return existing
    downgraded = (
        GradeChange.objects.filter(
            direction=GradeChange.Direction.DOWN,
            status=GradeChange.Status.APPLIED,
            customer__account_manager__username=MANAGER_USERNAMES[0],
            customer__is_active=True,
        )
        .order_by("-created_at", "-id")
        .values_list("customer_id", flat=True)
        .first()
    )
    customer_id = downgraded or (
        CustomerGrade.objects.filter(customer__is_active=True)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
        .first()
    )
    if customer_id is None:
        return None
    with transaction.atomic():
        user = user_model.objects.create_user(
            username=DEMO_CUSTOMER_USERNAME,
            email=DEMO_CUSTOMER_EMAIL,
            password=DEMO_PASSWORD,
        )
        return CustomerAccount.objects.create(user=user, customer_id=customer_id, invited_by=by)


def _follow_ups(
    run: GradingRun,
    rng: np.random.Generator,
    timeline: _Timeline,
    managers: dict[int, User],
    as_of: dt.date,
) -> int:
    """Account managers call some of the customers the run warned about."""
    warned = list(
        ScoreSnapshot.objects.filter(
            run=run, action="warn", customer__account_manager__isnull=False
        )
        .select_related("customer")
        .order_by("customer_id")
    )
    done = 0
    for snapshot in warned:
        if rng.random() >= FOLLOW_UP_RATE:
            continue
        customer = snapshot.customer
        manager = managers.get(customer.account_manager_id or 0)
        if manager is None:
            continue
        with _clock(timeline.at(as_of + dt.timedelta(days=int(rng.integers(1, 7))), 10.5)):
            # The warning follow-up (预警沟通) that clears the queue's "reach out" need.
            follow_up_create(
                customer=customer,
                kind=FollowUp.Kind.WARNING,
                outcome=FOLLOW_UP_OUTCOMES[int(rng.integers(0, len(FOLLOW_UP_OUTCOMES)))],
                next_step=FOLLOW_UP_NEXT_STEPS[int(rng.integers(0, len(FOLLOW_UP_NEXT_STEPS)))],
                by=manager,
            )
        done += 1
    return done


def _reviews(
    run: GradingRun,
    rng: np.random.Generator,
    timeline: _Timeline,
    ops: User,
    as_of: dt.date,
    *,
    backlog: bool,
) -> tuple[int, int]:
    """Operations decide proposals a week after the run: with `backlog`, most of this run's
    (a quarter wait); without, every proposal still waiting, this run's and older ones."""
    waiting = GradeChange.objects.filter(status=GradeChange.Status.PROPOSED)
    proposals = list(
        (waiting.filter(run=run) if backlog else waiting)
        .order_by("id")
        .values_list("id", flat=True)
    )
    roll = rng.random(len(proposals))
    if not backlog:
        roll *= APPROVE_RATE + REJECT_RATE  # nothing left waiting
    approve = [pk for pk, r in zip(proposals, roll, strict=True) if r < APPROVE_RATE]
    reject = [
        pk
        for pk, r in zip(proposals, roll, strict=True)
        if APPROVE_RATE <= r < APPROVE_RATE + REJECT_RATE
    ]
    with _clock(timeline.at(as_of + dt.timedelta(days=7), 15)):
        if approve:
            grade_change_approve(
                change_ids=approve,
                by=ops,
                note="Confirmed with the account manager: purchases stay low.",
            )
        if reject:
            grade_change_reject(
                change_ids=reject,
                by=ops,
                reason="Large order announced for next month; keep the grade for now.",
            )
    return len(approve), len(reject)


def _appeals(
    run: GradingRun,
    rng: np.random.Generator,
    timeline: _Timeline,
    ops: User,
    managers: dict[int, User],
    as_of: dt.date,
    *,
    recent: bool,
    counter: Iterator[int],
) -> int:
    """Customers appeal some of this period's downgrades; operations decide the older ones.

    `counter` numbers the appeals across periods, so their outcomes take turns."""
    downgrades = list(
        GradeChange.objects.filter(
            run=run,
            direction=GradeChange.Direction.DOWN,
            status__in=[GradeChange.Status.APPLIED, GradeChange.Status.PROPOSED],
        )
        .select_related("customer")
        .order_by("id")
    )
    filed = 0
    for position, change in enumerate(downgrades):
        if position and rng.random() >= APPEAL_RATE:
            continue
        filed_at = timeline.at(as_of + dt.timedelta(days=int(rng.integers(8, 13))), 11)
        with _clock(filed_at):
            try:
                appeal = appeal_file(
                    customer=change.customer,
                    change_id=change.pk,
                    reason=APPEAL_REASONS[int(rng.integers(0, len(APPEAL_REASONS)))],
                    by=None,
                )
            except DomainError:
                continue  # no longer appealable (superseded, window closed)
        filed += 1
        outcomes = RECENT_APPEAL_OUTCOMES if recent else OLD_APPEAL_OUTCOMES
        outcome = outcomes[next(counter) % len(outcomes)]
        _appeal_decide(appeal, outcome, rng, timeline, ops, managers, filed_at)
    return filed


def _appeal_decide(
    appeal: Appeal,
    outcome: str,
    rng: np.random.Generator,
    timeline: _Timeline,
    ops: User,
    managers: dict[int, User],
    filed_at: dt.datetime,
) -> None:
    """Move one appeal to `outcome` a few days after it was filed."""
    decided_at = filed_at + dt.timedelta(days=int(rng.integers(1, 9)), hours=4)
    with _clock(min(decided_at, timeline.now - dt.timedelta(seconds=30))):
        if outcome == "under_review":
            appeal_start_review(appeal_id=appeal.pk, by=ops)
        elif outcome == "accept":
            appeal_accept(
                appeal_id=appeal.pk,
                by=ops,
                note=ACCEPT_NOTES[int(rng.integers(0, len(ACCEPT_NOTES)))],
            )
        elif outcome == "reject":
            appeal_reject(
                appeal_id=appeal.pk,
                by=ops,
                note=REJECT_NOTES[int(rng.integers(0, len(REJECT_NOTES)))],
            )
        elif outcome == "withdraw":
            # The account manager withdraws it on the customer's request.
            appeal_withdraw(
                appeal_id=appeal.pk,
                customer=appeal.customer,
                by=managers.get(appeal.customer.account_manager_id or 0, ops),
                note="The customer resolved it with their account manager.",
            )
        # "submitted" and "open": left waiting.


def _redemptions(rng: np.random.Generator, timeline: _Timeline, as_of: dt.date) -> int:
    """Graded customers redeem benefits of their grade during the period."""
    catalog = {
        grade_id: [b for b in benefits if b.period == Period.MONTH]
        for grade_id, benefits in benefit_catalog_by_grade(today=as_of).items()
    }
    graded = list(
        CustomerGrade.objects.filter(grade__isnull=False)
        .order_by("customer_id")
        .values_list("customer_id", "grade_id", "grade__rank")
    )
    if not graded:
        return 0
    top_rank = max(rank for _c, _g, rank in graded)
    done = 0
    for position in rng.permutation(len(graded)).tolist():
        customer_id, grade_id, rank = graded[position]
        if done >= REDEMPTIONS_PER_MONTH:
            break
        offers = catalog.get(grade_id) or []
        rate = REDEEM_RATES[min(top_rank - rank, len(REDEEM_RATES) - 1)]
        if not offers or rng.random() >= rate:
            continue
        benefit = offers[int(rng.integers(0, len(offers)))]
        day = as_of + dt.timedelta(days=int(rng.integers(0, 27)))
        with _clock(timeline.at(day, 9 + 8 * float(rng.random()))):
            try:
                benefit_redeem(
                    customer_id=customer_id,
                    benefit_code=benefit.code,
                    idempotency_key=f"demo-{as_of:%Y%m}-{customer_id}",
                    channel=Redemption.Channel.PORTAL,
                    today=timezone.localdate(),
                )
            except DomainError:
                continue  # the grade changed or the allowance is used: as in real life
        done += 1
    return done
