"""Plain-language explanation of a grade, and what the next grade needs (an estimate).

Pure functions over plain values: no ORM, no settings, no clock (`today` and the snapshot's
facts come in as arguments), so every sentence and number is unit-tested alone. The portal
and the manager pages build the inputs from the latest `ScoreSnapshot` and the active
scheme (`portal.selectors`).

The next-grade numbers are an *estimate*: they hold the potential and cooperation values
fixed, assume a new order makes the customer as recent as the best customers, and read the
cut points (the lowest order count / net purchases that earned each F / M score) from the
latest run. The next run re-scores the whole population, so the real cut points move.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grading.scoring.rules import LIFECYCLE_STAGES, RFM_LABELS

#: Human names of the RFM label codes (docs/grading.md: codes are stable, labels translatable).
RFM_LABEL_NAMES: Mapping[str, object] = {
    "champions": gettext_lazy("Champions"),
    "loyal": gettext_lazy("Loyal"),
    "potential_loyalist": gettext_lazy("Potential loyalist"),
    "recent": gettext_lazy("Recent"),
    "promising": gettext_lazy("Promising"),
    "needs_attention": gettext_lazy("Needs attention"),
    "about_to_sleep": gettext_lazy("About to sleep"),
    "at_risk": gettext_lazy("At risk"),
    "cant_lose": gettext_lazy("Can't lose them"),
    "hibernating": gettext_lazy("Hibernating"),
    "lost": gettext_lazy("Lost"),
    "prospect": gettext_lazy("Prospect"),
}
RFM_LABEL_HINTS: Mapping[str, object] = {
    "champions": gettext_lazy("You buy recently, often and a lot: among our best customers."),
    "loyal": gettext_lazy("You buy regularly and recently."),
    "potential_loyalist": gettext_lazy("Recent buyer with room to buy more often."),
    "recent": gettext_lazy("You bought recently, but not often yet."),
    "promising": gettext_lazy("A recent buyer with a few orders."),
    "needs_attention": gettext_lazy("Average recency, frequency and spend."),
    "about_to_sleep": gettext_lazy("It has been a while since your last order."),
    "at_risk": gettext_lazy("You used to buy often, but not lately."),
    "cant_lose": gettext_lazy("A big buyer in the past who has not ordered lately."),
    "hibernating": gettext_lazy("Few, small and long-ago orders."),
    "lost": gettext_lazy("No order for a long time."),
    "prospect": gettext_lazy("No order yet."),
}
LIFECYCLE_NAMES: Mapping[str, object] = {
    "prospect": gettext_lazy("Prospect (no order yet)"),
    "new": gettext_lazy("New customer"),
    "churned": gettext_lazy("Churned (no order for over a year)"),
    "dormant": gettext_lazy("Dormant (no order for over six months)"),
    "growing": gettext_lazy("Growing (buying more than before)"),
    "mature": gettext_lazy("Established customer"),
}
assert set(RFM_LABEL_NAMES) == set(RFM_LABELS)
assert set(LIFECYCLE_NAMES) == set(LIFECYCLE_STAGES)


def rfm_label_name(code: str) -> str:
    """Return the translated name of an RFM label code (the code itself if unknown)."""
    return str(RFM_LABEL_NAMES.get(code, code))


def lifecycle_name(code: str) -> str:
    """Return the translated name of a lifecycle stage code (the code itself if unknown)."""
    return str(LIFECYCLE_NAMES.get(code, code))


@dataclass(frozen=True, slots=True)
class Facts:
    """The values of one snapshot the explanation reads (money in currency units)."""

    as_of: dt.date
    window_days: int
    recency_days: int | None
    frequency: int
    monetary: Decimal
    r_score: int
    f_score: int
    m_score: int
    rfm_label: str
    lifecycle: str
    historical: float
    potential: float
    cooperation: float
    composite: float
    growth_points: int = 0


@dataclass(frozen=True, slots=True)
class Weights:
    """The scheme weights the composite is made of (docs/grading.md: H, then the composite)."""

    r: float = 1.0
    f: float = 1.0
    m: float = 1.0
    historical: float = 0.6
    potential: float = 0.3
    cooperation: float = 0.1

    def historical_gain(self, dr: int, df: int, dm: int) -> float:
        """Return the composite points gained when R/F/M scores rise by dr/df/dm."""
        total = self.r + self.f + self.m
        if total <= 0:
            return 0.0
        return self.historical * 100 * (self.r * dr + self.f * df + self.m * dm) / (4 * total)


@dataclass(frozen=True, slots=True)
class CutPoints:
    """Per score, the lowest order count (F) and net purchases (M) that earned it.

    `best_recency_score` is the R score an order placed just before the run earns.
    Scores missing from a mapping are treated as out of reach.
    """

    frequency: Mapping[int, int]
    monetary: Mapping[int, Decimal]
    best_recency_score: int = 5


@dataclass(frozen=True, slots=True)
class Target:
    """The next grade: its floor and hard gates."""

    name: str
    min_score: float
    min_frequency: int = 0
    min_monetary: Decimal = Decimal("0")


@dataclass(frozen=True, slots=True)
class Needs:
    """What the next grade needs, estimated. `orders`/`amount` are None when out of reach."""

    grade: str
    gap: float
    deadline: dt.date
    orders: int | None
    amount: Decimal | None
    qualifies_now: bool


@dataclass(frozen=True, slots=True)
class Dimension:
    """One line of the explanation: what was measured, how it compares, what counted."""

    key: str
    title: str
    value: str
    comparison: str
    counted: str


def next_run_date(today: dt.date, *, cadence: str) -> dt.date:
    """Return the date of the next run after `today`: the 1st of next month, or of the next
    quarter for a quarterly grade (a run dated D grades orders placed before D)."""
    # Months counted from 1 and allowed past 12 (13 = next January).
    month = ((today.month - 1) // 3 + 1) * 3 + 1 if cadence == "quarterly" else today.month + 1
    year = today.year + (month - 1) // 12
    return dt.date(year, (month - 1) % 12 + 1, 1)


#: What the latest grading decided, for the rules that need no count (grading.policy.RULES).
DECISION_SENTENCES: Mapping[str, object] = {
    "override": gettext_lazy(
        "Our team has set your grade to %(grade)s; gradings do not change it while it lasts."
    ),
    "appeal_lock": gettext_lazy(
        "After your accepted appeal, your grade %(grade)s is held until its next review."
    ),
    "first_grading": gettext_lazy("Your first grading placed you in %(grade)s."),
    "score_above_grade": gettext_lazy("Your score reached %(grade)s, so you moved up at once."),
    "same_grade": gettext_lazy("At its latest review you met everything %(grade)s requires."),
    "within_hysteresis": gettext_lazy(
        "At its latest review your score was just under the minimum of %(grade)s, but within "
        "its margin, and you met its other requirements: you keep %(grade)s."
    ),
    "proposal_withdrawn": gettext_lazy(
        "At its latest review you met what %(grade)s requires again, so the proposal to lower "
        "your grade was withdrawn."
    ),
}


def decision_sentence(
    *,
    rule: str,
    action: str,
    grade: str,
    cadence: str,
    count: int,
    downgrade_after: int | None,
    next_review: dt.date,
) -> str:
    """Return what the latest grading decided about the customer's grade, in words.

    `rule` and `action` are the snapshot's (`grading.policy`), `grade` the name of the grade
    it judged (the one held before the run; for a first grading or an upgrade, the new one),
    `count` the consecutive reviews under target after the run, `cadence` and
    `downgrade_after` those of that grade's rung (None: unknown), `next_review` the date of
    the next run that reviews it. An unknown rule gives "".
    """
    from django.utils.formats import date_format
    from django.utils.translation import ngettext

    values: dict[str, Any] = {"grade": grade, "n": count, "m": downgrade_after}
    values["date"] = date_format(next_review, "MONTH_DAY_FORMAT")
    if rule in DECISION_SENTENCES:
        return str(DECISION_SENTENCES[rule]) % values
    # "After m reviews in a row below them ..." when the rung's count is known.
    later = (
        ngettext(
            " After %(m)d review in a row below them, it may be lowered by one grade.",
            " After %(m)d reviews in a row below them, it may be lowered by one grade.",
            downgrade_after,
        )
        if downgrade_after
        else ""
    )
    if rule == "on_target_not_due":
        if cadence == "quarterly":
            review = _("%(grade)s is reviewed once a quarter; the next review is on %(date)s.")
        else:
            review = _("%(grade)s is next reviewed on %(date)s.")
        return (_("You meet what %(grade)s requires.") + " " + review) % values
    if rule == "cadence_not_due":
        below = _(
            "You are currently below what %(grade)s requires. It is reviewed once a quarter: "
            "nothing changes before the review on %(date)s."
        )
        return (below + later) % values
    if rule == "downgrade_after" and action == "downgrade":
        values["n"] = downgrade_after or count  # the count restarts with the lower grade
        sentence = ngettext(
            "You were below what %(grade)s requires at %(n)d review in a row, so your grade "
            "was lowered by one step.",
            "You were below what %(grade)s requires at %(n)d reviews in a row, so your grade "
            "was lowered by one step.",
            values["n"],
        )
        return sentence % values
    counted = {
        "pending_review": ngettext(
            "You have been below what %(grade)s requires at %(n)d review in a row. A "
            "proposal to lower your grade by one step is waiting for our team's review.",
            "You have been below what %(grade)s requires at %(n)d reviews in a row. A "
            "proposal to lower your grade by one step is waiting for our team's review.",
            count,
        ),
        "downgrade_after": ngettext(
            "You were below what %(grade)s requires at %(n)d review in a row, so lowering "
            "your grade by one step was proposed; our team will review it.",
            "You were below what %(grade)s requires at %(n)d reviews in a row, so lowering "
            "your grade by one step was proposed; our team will review it.",
            count,
        ),
        "warn_after": ngettext(
            "You have been below what %(grade)s requires at %(n)d review in a row: your "
            "account manager will get in touch.",
            "You have been below what %(grade)s requires at %(n)d reviews in a row: your "
            "account manager will get in touch.",
            count,
        )
        + later,
        "under_target": ngettext(
            "At its latest review you were below what %(grade)s requires (%(n)d review in a row).",
            "At its latest review you were below what %(grade)s requires (%(n)d reviews in a row).",
            count,
        )
        + later,
    }
    return counted[rule] % values if rule in counted else ""


def _score_for(value: Decimal | int, cuts: Mapping[int, Decimal] | Mapping[int, int]) -> int:
    reached = [score for score, floor in cuts.items() if value >= floor]
    return max(reached, default=1)


def next_grade_needs(
    *,
    facts: Facts,
    target: Target,
    weights: Weights,
    cuts: CutPoints,
    deadline: dt.date,
    max_orders: int = 50,
) -> Needs:
    """Return how many more orders, or how much more net purchase, would reach `target`.

    Orders: the smallest n (<= max_orders) such that n more orders at the customer's
    average order value lift the composite to the target's min_score and meet its gates.
    Amount: the smallest extra net purchase (in one or more orders) that does the same by
    reaching a higher M score; None when purchases alone cannot close the gap (the other
    components must grow too) or one order of any size is already enough. Estimates only:
    potential and cooperation stay as they are, cut points are those of the latest run.
    """
    gap = round(target.min_score - facts.composite, 4)
    gates_met = facts.frequency >= target.min_frequency and facts.monetary >= target.min_monetary
    if gap <= 0 and gates_met:
        return Needs(target.name, 0.0, deadline, 0, Decimal("0"), qualifies_now=True)

    current_f = max(facts.f_score, _score_for(facts.frequency, cuts.frequency))
    current_m = max(facts.m_score, _score_for(facts.monetary, cuts.monetary))
    new_r = max(facts.r_score, cuts.best_recency_score)
    average = facts.monetary / facts.frequency if facts.frequency else Decimal("0")

    def reaches(extra_orders: int, extra_amount: Decimal) -> bool:
        frequency = facts.frequency + extra_orders
        monetary = facts.monetary + extra_amount
        f = max(current_f, _score_for(frequency, cuts.frequency))
        m = max(current_m, _score_for(monetary, cuts.monetary))
        gain = weights.historical_gain(new_r - facts.r_score, f - facts.f_score, m - facts.m_score)
        return (
            # Snapshot composites are rounded to 4 decimals: allow for that rounding.
            gain >= gap - 1e-3
            and frequency >= target.min_frequency
            and monetary >= target.min_monetary
        )

    orders = next((n for n in range(1, max_orders + 1) if reaches(n, average * n)), None)

    amount: Decimal | None = None
    if not reaches(1, Decimal("0")):
        levels = sorted(
            {v for v in cuts.monetary.values() if v > facts.monetary}
            | ({target.min_monetary} if target.min_monetary > facts.monetary else set())
        )
        for level in levels:
            if reaches(1, level - facts.monetary):
                amount = (level - facts.monetary).quantize(Decimal("1"), rounding=ROUND_CEILING)
                break
    return Needs(target.name, max(gap, 0.0), deadline, orders, amount, qualifies_now=False)


def needs_sentence(needs: Needs) -> str:
    """Return the next-grade estimate as one sentence, e.g. "2 more orders or 3,000 more in
    net purchases by 30 June would reach Key"."""
    from django.utils.formats import date_format
    from django.utils.translation import ngettext

    from common.formatting import money

    by = date_format(needs.deadline - dt.timedelta(days=1), "MONTH_DAY_FORMAT")
    if needs.qualifies_now:
        return _("Your score already reaches %(grade)s: the run on %(date)s will upgrade you.") % {
            "grade": needs.grade,
            "date": date_format(needs.deadline, "MONTH_DAY_FORMAT"),
        }
    parts = []
    if needs.orders:
        parts.append(
            ngettext("%(n)d more order", "%(n)d more orders", needs.orders) % {"n": needs.orders}
        )
    if needs.amount:
        parts.append(_("%(amount)s more in net purchases") % {"amount": money(needs.amount)})
    if not parts:
        return _(
            "Purchases alone would not reach %(grade)s before %(date)s: your potential and "
            "cooperation scores count too (growth tasks, reviews, referrals, campaigns)."
        ) % {"grade": needs.grade, "date": by}
    return _("%(what)s by %(date)s would reach %(grade)s (an estimate).") % {
        "what": _(" or ").join(parts),
        "date": by,
        "grade": needs.grade,
    }


def _standing(score: int) -> str:
    # Scores are quintiles: a score k sits roughly in the top (6 - k) * 20% of customers.
    if score >= 5:
        return _("Among the top fifth of customers.")
    if score <= 1:
        return _("In the lowest fifth of customers.")
    return _("Better than about %(pct)d%% of customers.") % {"pct": (score - 1) * 20}


def dimensions(facts: Facts) -> list[Dimension]:
    """Return the plain-language lines explaining a snapshot, one per dimension.

    Amounts read as `common.formatting.money` (the currency of settings.TIERHUB_CURRENCY).
    """
    from django.utils.formats import date_format

    from common.formatting import money as money_text

    as_of = date_format(facts.as_of, "DATE_FORMAT")
    window = _("the %(days)d days before %(date)s") % {"days": facts.window_days, "date": as_of}
    counted = _("Orders with status paid or completed count; refunds are deducted.")
    if facts.recency_days is None:
        recency = _("No counted order yet.")
    else:
        recency = _("Your last counted order was %(days)d days before %(date)s.") % {
            "days": facts.recency_days,
            "date": as_of,
        }
    money = money_text(facts.monetary)
    return [
        Dimension(
            "recency", _("How recently you ordered"), recency, _standing(facts.r_score), counted
        ),
        Dimension(
            "frequency",
            _("How often you order"),
            _("%(n)d counted orders in %(window)s.") % {"n": facts.frequency, "window": window},
            _standing(facts.f_score),
            counted,
        ),
        Dimension(
            "monetary",
            _("How much you buy"),
            _("%(amount)s net purchases in %(window)s.") % {"amount": money, "window": window},
            _standing(facts.m_score),
            _("Net = order amount minus refunded amount."),
        ),
        Dimension(
            "segment",
            _("Your buying pattern"),
            rfm_label_name(facts.rfm_label),
            str(RFM_LABEL_HINTS.get(facts.rfm_label, "")),
            lifecycle_name(facts.lifecycle),
        ),
        Dimension(
            "composite",
            _("Your overall score"),
            _("%(score)s of 100") % {"score": _points(facts.composite)},
            _("Purchase history %(h)s, potential %(p)s, cooperation %(c)s (each of 100).")
            % {
                "h": _points(facts.historical),
                "p": _points(facts.potential),
                "c": _points(facts.cooperation),
            },
            _("Growth points earned in the window: %(points)d.") % {"points": facts.growth_points},
        ),
    ]


def _points(value: float) -> str:
    # One decimal, never "-0.0"; floors so a score is never shown above what it is.
    return f"{math.floor(value * 10) / 10:.1f}"


#: A provisional upgrade and what the next run made of it (`grading.selectors.ProvisionalUpgrade`).
PROVISIONAL_SENTENCES: Mapping[str, object] = {
    "pending": gettext_lazy(
        "Upgraded provisionally to %(grade)s on %(date)s, as soon as your orders earned it; "
        "the next grading confirms it."
    ),
    "confirmed": gettext_lazy(
        "Upgraded provisionally to %(grade)s on %(date)s; confirmed by the run of %(period)s."
    ),
    "held": gettext_lazy(
        "Upgraded provisionally to %(grade)s on %(date)s; held by hysteresis in the run of "
        "%(period)s: your score is just below %(grade)s, within its margin."
    ),
    "below": gettext_lazy(
        "Upgraded provisionally to %(grade)s on %(date)s; the run of %(period)s found your "
        "score below %(grade)s, so the grade's usual reviews apply."
    ),
}


def provisional_sentence(*, verdict: str, grade: str, day: dt.date, period: str) -> str:
    """Return a provisional upgrade's sentence: when, to which grade, and the next run's verdict.

    `verdict` is "pending", "confirmed", "held" or "below"; `period` the period of the run
    that judged it (ignored while pending). An unknown verdict gives "".
    """
    from django.utils.formats import date_format

    sentence = PROVISIONAL_SENTENCES.get(verdict)
    if sentence is None:
        return ""
    return str(sentence) % {
        "grade": grade,
        "date": date_format(day, "DATE_FORMAT"),
        "period": period,
    }
