"""Explain a grade change from its run's snapshot: every input fact, every component score,
the rule that fired and what the policy did (docs/grading.md: "any grade can be explained")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common.formatting import count, money, percent, score
from grading.labels import (
    action_label,
    lifecycle_label,
    pyramid_label,
    rfm_label_label,
    rfm_segment_label,
    rule_name,
)
from grading.models import Cadence, GradeChange, GradingRun, SchemeGrade, ScoreSnapshot
from grading.policy import cadences_due
from grading.selectors import rung_get_for_snapshot, snapshot_get_for_change

#: Input facts of the window, in docs/grading.md order.
INPUT_FIELDS: tuple[tuple[str, Promise], ...] = (
    ("recency_days", _("Days since the last order (R)")),
    ("frequency", _("Orders in the window (F)")),
    ("monetary", _("Net purchases in the window (M)")),
    ("categories", _("Distinct categories")),
    ("first_half_amount", _("Purchases, first half of the window")),
    ("second_half_amount", _("Purchases, second half of the window")),
    ("gap_cv", _("Variation of the gaps between orders")),
    ("campaign_invitations", _("Campaign invitations")),
    ("campaign_joins", _("Campaigns joined")),
    ("referrals", _("Referrals")),
    ("complaints", _("Complaints")),
    ("reviews", _("Product reviews")),
    ("on_time_orders", _("Orders fulfilled or paid on time")),
    ("rated_orders", _("Orders with a known on-time flag")),
    ("growth_points", _("Growth points")),
)

#: Component scores, from R/F/M up to the composite.
SCORE_FIELDS: tuple[tuple[str, Promise], ...] = (
    ("r_score", _("R score (1-5)")),
    ("f_score", _("F score (1-5)")),
    ("m_score", _("M score (1-5)")),
    ("rfm_segment", _("RFM segment")),
    ("rfm_label", _("RFM label")),
    ("lifecycle", _("Lifecycle stage")),
    ("pyramid", _("Value pyramid layer")),
    ("historical", _("Historical value H (0-100)")),
    ("breadth", _("Category breadth")),
    ("stability", _("Repurchase stability")),
    ("growth", _("Growth")),
    ("industry_prior", _("Industry prior")),
    ("potential", _("Potential value P (0-100)")),
    ("campaign_rate", _("Campaign participation rate")),
    ("referral_score", _("Referral score")),
    ("complaint_score", _("Complaint score")),
    ("on_time_rate", _("On-time rate")),
    ("review_score", _("Review score")),
    ("points_bonus", _("Growth-points bonus")),
    ("cooperation", _("Cooperation value C (0-100)")),
    ("composite", _("Composite score")),
)

#: What each policy rule means (grading.policy.RULES; docs/grading-policy.md has the table).
RULE_LABELS: dict[str, Promise] = {
    "override": _("An override pins the grade: the run does not change it, the count stays at 0."),
    "appeal_lock": _(
        "An accepted appeal locks the grade for one review period: the run does not change "
        "it, the count stays at 0."
    ),
    "first_grading": _("First grading: the customer gets the computed grade."),
    "score_above_grade": _(
        "The computed grade ranks above the current one: upgraded at once (at any run), the "
        "count resets and a pending downgrade proposal is withdrawn."
    ),
    "on_target_not_due": _(
        "On target, but this run does not review the grade (a quarterly grade is reviewed "
        "only by runs dated 1 January, April, July or October): the count stays as it was."
    ),
    "cadence_not_due": _(
        "Under target, but this run does not review the grade (a quarterly grade is reviewed "
        "only by runs dated 1 January, April, July or October): the count stays as it was."
    ),
    "proposal_withdrawn": _(
        "A review found the customer on target again: the pending downgrade proposal is "
        "withdrawn (superseded) and the count resets."
    ),
    "same_grade": _("A review found the composite earning the current grade: the count resets."),
    "within_hysteresis": _(
        "A review found every gate of the grade met and the composite under its minimum but "
        "within the hysteresis margin: on target, the count resets."
    ),
    "pending_review": _(
        "A review found the customer under target; a downgrade proposal already waits for "
        "review, so no second one is made. The count goes up."
    ),
    "downgrade_after": _(
        "Under target at the grade's “downgrade after” consecutive reviews: a one-step "
        "downgrade, proposed for review or applied."
    ),
    "warn_after": _(
        "Under target at the grade's “warn after” consecutive reviews or more: the manager is "
        "asked to reach out."
    ),
    "under_target": _(
        "A review found the customer under target (a gate of the grade failed, or the "
        "composite is below its minimum minus the margin): the count goes up, no warning yet."
    ),
    "changed_during_run": _(
        "The grade was changed by someone else while the run was writing; the run left it."
    ),
}

#: Rules that fire for a customer judged against their grade's rung (not pinned, not new).
JUDGED_RULES = frozenset(
    {
        "on_target_not_due",
        "cadence_not_due",
        "proposal_withdrawn",
        "same_grade",
        "within_hysteresis",
        "pending_review",
        "downgrade_after",
        "warn_after",
        "under_target",
    }
)
#: Rules of a customer found under target (reviewed or not).
UNDER_TARGET_RULES = frozenset(
    {"cadence_not_due", "pending_review", "downgrade_after", "warn_after", "under_target"}
)


@dataclass(frozen=True)
class Explanation:
    """What the change page shows under the change's own fields."""

    snapshot: ScoreSnapshot | None
    inputs: list[tuple[Promise, Any]]
    scores: list[tuple[Promise, Any]]
    rule: str
    rule_name: str
    rule_label: str
    action: str
    action_label: str
    customer_url: str
    run_url: str | None
    policy: list[tuple[Promise, Any]] = field(default_factory=list)
    #: No snapshot because retention took the run's snapshots out of the database (archived
    #: to a file the run's page offers, or dropped): docs/operations.md.
    archived: bool = False


def _ratio(value: Any) -> str:
    """A rate or component in 0..1 as a percentage: 0.7523 reads 75.23%."""
    return percent(None if value is None else value * 100)


#: How each snapshot column reads (common.formatting; docs/contributing.md, "Numbers for
#: people"): a code by its translated label (grading.labels), money with its currency, counts
#: grouped, the components in 0..1 as percentages, the other scores with two decimals.
FORMATS: dict[str, Callable[[Any], str]] = {
    "rfm_segment": rfm_segment_label,
    "rfm_label": rfm_label_label,
    "lifecycle": lifecycle_label,
    "pyramid": pyramid_label,
    "recency_days": count,
    "frequency": count,
    "monetary": money,
    "categories": count,
    "first_half_amount": money,
    "second_half_amount": money,
    "gap_cv": score,
    "campaign_invitations": count,
    "campaign_joins": count,
    "referrals": count,
    "complaints": count,
    "reviews": count,
    "on_time_orders": count,
    "rated_orders": count,
    "growth_points": count,
    "r_score": count,
    "f_score": count,
    "m_score": count,
    "historical": score,
    "breadth": _ratio,
    "stability": _ratio,
    "growth": _ratio,
    "industry_prior": _ratio,
    "potential": score,
    "campaign_rate": _ratio,
    "referral_score": _ratio,
    "complaint_score": _ratio,
    "on_time_rate": _ratio,
    "review_score": _ratio,
    "points_bonus": score,
    "cooperation": score,
    "composite": score,
}


def _rows(snapshot: ScoreSnapshot, fields: tuple[tuple[str, Promise], ...]) -> list[Any]:
    return [(label, FORMATS[name](getattr(snapshot, name))) for name, label in fields]


def policy_rows(snapshot: ScoreSnapshot, rung: SchemeGrade) -> list[tuple[Promise, Any]]:
    """Return how the policy judged the snapshot against the rung of the grade it held.

    The facts behind the rule in words: whether the run reviewed the rung, each hard gate
    met or not, the composite against the minimum and the margin, and the counts.
    """

    def verdict(met: bool) -> str:
        return gettext("met") if met else gettext("not met")

    reviewed = rung.cadence in cadences_due(snapshot.run.as_of)
    floor = rung.min_score - rung.hysteresis
    rows: list[tuple[Promise, Any]] = [
        (
            _("Judged against"),
            gettext("%(grade)s, reviewed %(cadence)s")
            % {"grade": rung.grade, "cadence": Cadence(rung.cadence).label.lower()},
        ),
        (
            _("Reviewed by this run"),
            gettext("yes")
            if reviewed
            else gettext("no: a quarterly grade is reviewed on 1 January, April, July, October"),
        ),
    ]
    if rung.min_frequency:
        rows.append(
            (
                _("Gate: orders in the window"),
                gettext("%(value)s, needs %(gate)s or more: %(verdict)s")
                % {
                    "value": count(snapshot.frequency),
                    "gate": count(rung.min_frequency),
                    "verdict": verdict(snapshot.frequency >= rung.min_frequency),
                },
            )
        )
    if rung.min_monetary:
        rows.append(
            (
                _("Gate: net purchases in the window"),
                gettext("%(value)s, needs %(gate)s or more: %(verdict)s")
                % {
                    "value": money(snapshot.monetary),
                    "gate": money(rung.min_monetary),
                    "verdict": verdict(snapshot.monetary >= rung.min_monetary),
                },
            )
        )
    rows += [
        (
            _("Composite against the grade"),
            gettext(
                "%(composite)s; minimum %(minimum)s, margin %(margin)s: on target from "
                "%(floor)s when every gate is met"
            )
            % {
                "composite": score(snapshot.composite),
                "minimum": score(rung.min_score),
                "margin": score(rung.hysteresis),
                "floor": score(floor),
            },
        ),
        (
            _("Under target"),
            gettext("yes") if snapshot.rule in UNDER_TARGET_RULES else gettext("no"),
        ),
        (
            _("Counts of the grade"),
            gettext(
                "warn after %(warn)s, downgrade after %(down)s consecutive reviews under target"
            )
            % {
                "warn": count(rung.warn_after) if rung.warn_after else gettext("never"),
                "down": count(rung.downgrade_after),
            },
        ),
    ]
    return rows


def explain_change(change: GradeChange) -> Explanation:
    """Return the explanation of `change` (a query for its snapshot, one for its rung)."""
    snapshot = snapshot_get_for_change(change=change)
    rule = snapshot.rule if snapshot else change.rule
    action = snapshot.action if snapshot else ""
    rung = (
        rung_get_for_snapshot(snapshot=snapshot)
        if snapshot is not None and rule in JUDGED_RULES
        else None
    )
    return Explanation(
        snapshot=snapshot,
        inputs=_rows(snapshot, INPUT_FIELDS) if snapshot else [],
        scores=_rows(snapshot, SCORE_FIELDS) if snapshot else [],
        rule=rule,
        rule_name=rule_name(rule) if rule else "",
        rule_label=str(RULE_LABELS.get(rule, "")),
        action=action,
        action_label=action_label(action) if action else "",
        customer_url=reverse("admin:customers_customer_change", args=[change.customer_id]),
        run_url=(
            reverse("admin:grading_gradingrun_change", args=[change.run_id])
            if change.run_id
            else None
        ),
        policy=policy_rows(snapshot, rung) if snapshot is not None and rung is not None else [],
        archived=(
            snapshot is None
            and change.run_id is not None
            and GradingRun.objects.filter(
                pk=change.run_id, snapshots_archived_at__isnull=False
            ).exists()
        ),
    )


def explain_snapshot(snapshot: ScoreSnapshot) -> Explanation:
    """Return the explanation of a customer's snapshot in a run (one query for its rung).

    What the customer page shows for the latest scores: the same inputs, component scores,
    rule and policy verdict as a grade change's page, whether or not the run changed the
    grade. `snapshot` comes with its run (and scheme) and grades joined.
    """
    rule, action = snapshot.rule, snapshot.action
    rung = rung_get_for_snapshot(snapshot=snapshot) if rule in JUDGED_RULES else None
    return Explanation(
        snapshot=snapshot,
        inputs=_rows(snapshot, INPUT_FIELDS),
        scores=_rows(snapshot, SCORE_FIELDS),
        rule=rule,
        rule_name=rule_name(rule) if rule else "",
        rule_label=str(RULE_LABELS.get(rule, "")),
        action=action,
        action_label=action_label(action) if action else "",
        customer_url=reverse("admin:customers_customer_change", args=[snapshot.customer_id]),
        run_url=reverse("admin:grading_gradingrun_change", args=[snapshot.run_id]),
        policy=policy_rows(snapshot, rung) if rung is not None else [],
    )


assert set(FORMATS) == {name for name, _label in INPUT_FIELDS + SCORE_FIELDS}
