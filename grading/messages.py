"""How grading's notifications read (common.messages): runs, reviews and the integrity check.

Each kind has two readers: the account manager ("staff", who reads about a customer) and
the customer's own portal login ("customer", who reads about themselves).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from common import formatting
from common.messages import (
    MessageText,
    Params,
    in_reader_language,
    message_kind,
    names_in_languages,
)
from grading.labels import run_period

STAFF = "staff"
CUSTOMER = "customer"


def run_params(scheme_name: str, scheme_version: int, as_of: dt.date) -> dict[str, Any]:
    """The parameters naming a grading run (worded by `_run`, like grading.labels.run_label)."""
    return {"scheme": scheme_name, "version": scheme_version, "as_of": as_of.isoformat()}


def grade_param(grade: Any) -> dict[str, str] | None:
    """A grade's name in every language, or None for no grade."""
    return None if grade is None else names_in_languages(grade)


def _run(run: Params) -> str:
    return _("%(scheme)s v%(version)s, %(period)s") % {
        "scheme": run["scheme"],
        "version": run["version"],
        "period": run_period(dt.date.fromisoformat(run["as_of"])),
    }


def _grade(value: Any) -> str:
    return in_reader_language(value) or "—"


@message_kind("grade_upgrade", "grade_warn", "grade_propose_downgrade", "grade_downgrade")
def grade_decision(params: Params) -> MessageText:
    """A run's decision: an upgrade, a warning, a proposed or an applied downgrade.

    Parameters: `action`, `audience`, `grade` (the grade the message is about: the new one,
    or the one at stake for a warning or proposal), and for staff `customer`, `score`, `run`.
    """
    action, grade = params["action"], _grade(params["grade"])
    if params["audience"] == CUSTOMER:
        customer_titles = {
            "upgrade": _("Congratulations: you are now %(grade)s"),
            "propose_downgrade": _(
                "Your grade %(grade)s is under review for a downgrade; you can appeal in the portal"
            ),
            "downgrade": _("Your grade is now %(grade)s; you can appeal in the portal"),
        }
        return MessageText(customer_titles[action] % {"grade": grade})
    staff_titles = {
        "upgrade": _("Upgrade: %(customer)s is now %(grade)s"),
        "warn": _("Reach out: %(customer)s is below %(grade)s"),
        "propose_downgrade": _("Downgrade proposed for %(customer)s (%(grade)s)"),
        "downgrade": _("Downgrade: %(customer)s is now %(grade)s"),
    }
    return MessageText(
        staff_titles[action] % {"customer": params["customer"], "grade": grade},
        _("Composite score %(score)s in the run %(run)s.")
        % {"score": formatting.score(params["score"], 1), "run": _run(params["run"])},
    )


@message_kind("grade_provisional_upgrade")
def grade_provisional_upgrade(params: Params) -> MessageText:
    """An upgrade earned by orders between runs (`grading.services.provisional`).

    Parameters: `audience`, `grade` (the new grade), `date` (ISO, the day of the upgrade),
    and for staff `customer`, `score` and `run` (the run whose population it was scored in).
    """
    grade = _grade(params["grade"])
    if params["audience"] == CUSTOMER:
        return MessageText(
            _("Congratulations: your recent orders made you %(grade)s") % {"grade": grade},
            _(
                "The upgrade is provisional: the next grading confirms it, or keeps it while "
                "your score stays close."
            ),
        )
    return MessageText(
        _("Provisional upgrade: %(customer)s is now %(grade)s")
        % {"customer": params["customer"], "grade": grade},
        _(
            "Composite score %(score)s against the population of the run %(run)s; the next "
            "run confirms or holds it."
        )
        % {"score": formatting.score(params["score"], 1), "run": _run(params["run"])},
    )


@message_kind("change_approved", "change_rejected")
def change_decision(params: Params) -> MessageText:
    """A reviewer's decision on a proposed grade change.

    Parameters: `decision`, `audience`, `from`, `to` (grade names), and for staff
    `customer` and `note` (the reviewer's note).
    """
    values = {"from": _grade(params["from"]), "to": _grade(params["to"])}
    approved = params["decision"] == "approved"
    if params["audience"] == CUSTOMER:
        if approved:
            return MessageText(
                _("Your grade changed from %(from)s to %(to)s after review") % values
            )
        return MessageText(_("Your grade %(from)s stays after review") % values)
    values["customer"] = params["customer"]
    title = (
        _("Grade change approved: %(customer)s is now %(to)s")
        if approved
        else _("Grade change rejected: %(customer)s keeps %(from)s")
    )
    return MessageText(title % values, params.get("note", ""))


@message_kind("grades_check")
def grades_check(params: Params) -> MessageText:
    """The daily integrity check found problems. Parameters: `count`, `lines` (as found)."""
    lines = list(params["lines"])
    if params["count"] > len(lines):
        lines.append(_("… and %(n)s more.") % {"n": formatting.count(params["count"] - len(lines))})
    return MessageText(
        _("Grade integrity check: %(n)s problems found") % {"n": formatting.count(params["count"])},
        "\n".join(lines),
    )
