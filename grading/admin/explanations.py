"""Explain a grade change from its run's snapshot: every input fact, every component score,
the rule that fired and what the policy did (DESIGN.md: "any grade can be explained")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from grading.models import GradeChange, ScoreSnapshot
from grading.selectors import snapshot_get_for_change

#: Input facts of the window, in DESIGN.md order.
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

#: What each policy rule means (grading.policy.RULES).
RULE_LABELS: dict[str, Promise] = {
    "override": _("An override pins the grade; the run does not change it."),
    "appeal_lock": _("An accepted appeal locks the grade for one review period."),
    "first_grading": _("First grading: the customer gets the computed grade."),
    "score_above_grade": _("The composite reached a higher grade: upgraded at once."),
    "same_grade": _("The composite earns the current grade."),
    "within_hysteresis": _("Below the grade's minimum, but within its hysteresis margin."),
    "cadence_not_due": _("Below target, but the grade's review cadence is not due in this run."),
    "pending_review": _("Below target, but a downgrade proposal is already waiting for review."),
    "downgrade_after": _(
        "Below target for the grade's “propose downgrade after” periods: one step down."
    ),
    "warn_after": _("Below target for the grade's “warn after” periods: the manager is warned."),
    "under_target": _("Below target; not yet long enough for a warning."),
    "changed_during_run": _(
        "The grade was changed by someone else while the run was writing; the run left it."
    ),
}

#: What the policy did (grading.policy.ACTIONS).
ACTION_LABELS: dict[str, Promise] = {
    "assign": _("First grade assigned"),
    "upgrade": _("Upgraded"),
    "keep": _("Grade kept"),
    "under_target": _("Grade kept, under target"),
    "warn": _("Manager warned"),
    "propose_downgrade": _("Downgrade proposed for review"),
    "downgrade": _("Downgraded"),
    "pinned": _("Grade pinned by an override"),
    "locked": _("Grade locked by an appeal"),
}


@dataclass(frozen=True)
class Explanation:
    """What the change page shows under the change's own fields."""

    snapshot: ScoreSnapshot | None
    inputs: list[tuple[Promise, Any]]
    scores: list[tuple[Promise, Any]]
    rule: str
    rule_label: str
    action: str
    action_label: str
    customer_url: str
    run_url: str | None


def _rows(snapshot: ScoreSnapshot, fields: tuple[tuple[str, Promise], ...]) -> list[Any]:
    rows = []
    for name, label in fields:
        value = getattr(snapshot, name)
        if isinstance(value, float):
            value = round(value, 4)
        rows.append((label, "—" if value is None else value))
    return rows


def explain_change(change: GradeChange) -> Explanation:
    """Return the explanation of `change` (one query for its snapshot)."""
    snapshot = snapshot_get_for_change(change=change)
    rule = snapshot.rule if snapshot else change.rule
    action = snapshot.action if snapshot else ""
    return Explanation(
        snapshot=snapshot,
        inputs=_rows(snapshot, INPUT_FIELDS) if snapshot else [],
        scores=_rows(snapshot, SCORE_FIELDS) if snapshot else [],
        rule=rule,
        rule_label=str(RULE_LABELS.get(rule, "")),
        action=action,
        action_label=str(ACTION_LABELS.get(action, action)),
        customer_url=reverse("admin:customers_customer_change", args=[change.customer_id]),
        run_url=(
            reverse("admin:grading_gradingrun_change", args=[change.run_id])
            if change.run_id
            else None
        ),
    )
