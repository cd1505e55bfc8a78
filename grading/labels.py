"""Translated names of grading's codes: what people read where a snapshot stores a code.

The scoring and policy packages are pure (no Django, no translations) and speak in stable
codes (docs/grading.md, docs/grading-policy.md); pages, reports, exports for people and the
admin show these labels instead. Each mapping is checked against the codes it names, so a
new code without a label fails at import (and in the tests).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import translation
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from grading.policy import ACTIONS, RULES
from grading.scoring.rules import LIFECYCLE_STAGES, PYRAMID_LAYERS, RFM_LABELS, RFM_SEGMENTS

if TYPE_CHECKING:
    from grading.models import GradingRun

#: Lifecycle stages (docs/grading.md, "Lifecycle stage"), short, for tables and filters.
LIFECYCLE_LABELS: Mapping[str, Promise] = {
    "prospect": _("Prospect"),
    "new": _("New"),
    "churned": _("Churned"),
    "dormant": _("Dormant"),
    "growing": _("Growing"),
    "mature": _("Established"),
}

#: Layers of the value pyramid (docs/grading.md, "Value pyramid"), from the top.
PYRAMID_LABELS: Mapping[str, Promise] = {
    "top": _("Top customers"),
    "large": _("Large customers"),
    "medium": _("Medium customers"),
    "small": _("Small customers"),
}

#: RFM segments (docs/grading.md, "RFM segment"): the classic eight classes.
RFM_SEGMENT_LABELS: Mapping[str, Promise] = {
    "important_value": _("Important value"),
    "important_develop": _("Important to develop"),
    "important_keep": _("Important to keep"),
    "important_retain": _("Important to win back"),
    "general_value": _("General value"),
    "general_develop": _("General to develop"),
    "general_keep": _("General to keep"),
    "general_retain": _("General to win back"),
}

#: RFM labels (docs/grading.md, "RFM label").
RFM_LABEL_LABELS: Mapping[str, Promise] = {
    "champions": _("Champions"),
    "loyal": _("Loyal"),
    "potential_loyalist": _("Potential loyalist"),
    "recent": _("Recent"),
    "promising": _("Promising"),
    "needs_attention": _("Needs attention"),
    "about_to_sleep": _("About to sleep"),
    "at_risk": _("At risk"),
    "cant_lose": _("Can't lose them"),
    "hibernating": _("Hibernating"),
    "lost": _("Lost"),
    "prospect": _("Prospect"),
}

#: What the policy did (grading.policy.ACTIONS).
ACTION_LABELS: Mapping[str, Promise] = {
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

#: The policy rule that decided, in a few words (grading.policy.RULES; the admin's
#: explanation gives each rule's full sentence).
RULE_NAMES: Mapping[str, Promise] = {
    "override": _("Pinned by an override"),
    "appeal_lock": _("Locked by an accepted appeal"),
    "first_grading": _("First grading"),
    "score_above_grade": _("Score above the grade"),
    "on_target_not_due": _("On target, review not due"),
    "cadence_not_due": _("Under target, review not due"),
    "proposal_withdrawn": _("Proposal withdrawn, on target again"),
    "same_grade": _("On target"),
    "within_hysteresis": _("Within the margin"),
    "pending_review": _("Under target, proposal pending"),
    "downgrade_after": _("Downgrade after repeated reviews under target"),
    "warn_after": _("Warning after reviews under target"),
    "under_target": _("Under target"),
    "changed_during_run": _("Changed by someone else during the run"),
}

assert set(LIFECYCLE_LABELS) == set(LIFECYCLE_STAGES)
assert set(PYRAMID_LABELS) == set(PYRAMID_LAYERS)
assert set(RFM_LABEL_LABELS) == set(RFM_LABELS)
assert set(RFM_SEGMENT_LABELS) == set(RFM_SEGMENTS)
assert set(ACTION_LABELS) == set(ACTIONS)
assert set(RULES) <= set(RULE_NAMES)


def _label(labels: Mapping[str, Promise], code: str | None) -> str:
    if not code:
        return "—"
    return str(labels.get(code, code))


def lifecycle_label(code: str | None) -> str:
    """Return the translated name of a lifecycle stage code (the code if unknown)."""
    return _label(LIFECYCLE_LABELS, code)


def pyramid_label(code: str | None) -> str:
    """Return the translated name of a value-pyramid layer code."""
    return _label(PYRAMID_LABELS, code)


def rfm_segment_label(code: str | None) -> str:
    """Return the translated name of an RFM segment code."""
    return _label(RFM_SEGMENT_LABELS, code)


def rfm_label_label(code: str | None) -> str:
    """Return the translated name of an RFM label code."""
    return _label(RFM_LABEL_LABELS, code)


def action_label(code: str | None) -> str:
    """Return the translated name of a policy action code."""
    return _label(ACTION_LABELS, code)


def rule_name(code: str | None) -> str:
    """Return the few translated words naming a policy rule code."""
    return _label(RULE_NAMES, code)


def choices(labels: Mapping[str, Promise]) -> list[tuple[str, Promise]]:
    """Return (code, label) pairs for a list filter or a form field."""
    return list(labels.items())


def run_period(as_of: dt.date) -> str:
    """Return the period a run dated `as_of` grades, in words: "November 2026".

    Runs are dated the first day after their period (docs/grading-policy.md, "Review"), so a
    run of 1 December 2026 grades November 2026; a run dated on another day (graded by hand
    mid-month) reads "to 3 December 2026".
    """
    if as_of.day == 1:
        return date_format(as_of - dt.timedelta(days=1), "YEAR_MONTH_FORMAT")
    return gettext("to %(date)s") % {"date": date_format(as_of, "DATE_FORMAT")}


def run_label(run: GradingRun) -> str:
    """Return a run as people name it: its scheme and its period ("default v1, November 2026")."""
    return gettext("%(scheme)s v%(version)s, %(period)s") % {
        "scheme": run.scheme.name,
        "version": run.scheme.version,
        "period": run_period(run.as_of),
    }


def change_reason(source: str, reason: str, run: GradingRun | None) -> str:
    """Return why a grade changed, in the reader's language.

    A grading run's change says which run made it ("Grading run default v1, March 2026"),
    built from the run when shown (rows written before this stored English prose, which is
    no longer read); a provisional upgrade says what it is (`grading.services.provisional`);
    any other change shows the reason a person wrote.
    """
    if source == "run" and run is not None:
        return gettext("Grading run %(run)s") % {"run": run_label(run)}
    if source == "provisional" and not reason:
        return gettext("Orders earned the grade between runs; the next run confirms or holds it")
    if source == "appeal":
        for pattern in _appeal_accepted_patterns():
            accepted = pattern.fullmatch(reason)
            if accepted is not None:
                return gettext(APPEAL_ACCEPTED) % {"id": accepted["id"], "note": accepted["note"]}
    return reason


#: The reason an accepted appeal's lock and audit rows store (appeals.services.appeal_accept):
#: fixed words around the reviewer's note, in the accepting reviewer's language.
APPEAL_ACCEPTED = "Appeal #%(id)s accepted: %(note)s"
gettext_noop(APPEAL_ACCEPTED)


@functools.cache
def _appeal_accepted_patterns() -> tuple[re.Pattern[str], ...]:
    """`APPEAL_ACCEPTED` as written in each site language, to read a stored reason back."""
    patterns = []
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            words = re.escape(gettext(APPEAL_ACCEPTED))
        words = words.replace(re.escape("%(id)s"), r"(?P<id>\d+)")
        patterns.append(re.compile(words.replace(re.escape("%(note)s"), "(?P<note>.*)"), re.S))
    return tuple(patterns)
