"""The parameters each nudge rule takes: defaults, and validation for the admin form.

Pure: no queries. Whether an offer benefit exists is checked when the rule runs (a missing
one leaves the offer out of the message rather than failing the nightly job).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

#: Every rule's parameters with their defaults; unknown keys are refused.
DEFAULTS: dict[str, dict[str, Any]] = {
    "new_customer_pack": {"days": 30, "benefit": "new-customer-pack"},
    "growth_no_order_reminder": {"days": 45, "grade": "growth", "offer": "free-shipping"},
    "category_concentration": {"share": 0.8, "months": 3},
}


def _positive_int(value: Any, *, name: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationError(
            _("“%(name)s” must be a whole number from 1 to %(max)s.")
            % {"name": name, "max": maximum}
        )
    return value


def _code(value: Any, *, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise ValidationError(_("“%(name)s” must be a code (text).") % {"name": name})
    return value.strip()


def nudge_parameters_clean(code: str, parameters: Any) -> dict[str, Any]:
    """Return `parameters` of rule `code` merged over the defaults, or raise ValidationError.

    days: 1..3650; months: 1..24; share: a number above 0.5 and at most 1 (a share at or
    below half could name two categories); benefit/offer/grade: codes.
    """
    if code not in DEFAULTS:
        raise ValidationError(_("Unknown nudge rule “%(code)s”.") % {"code": code})
    if parameters in (None, ""):
        parameters = {}
    if not isinstance(parameters, dict):
        raise ValidationError(_("Parameters must be a JSON object."))
    unknown = sorted(set(parameters) - set(DEFAULTS[code]))
    if unknown:
        raise ValidationError(
            _("Unknown parameters: %(names)s. Allowed: %(allowed)s.")
            % {"names": ", ".join(unknown), "allowed": ", ".join(DEFAULTS[code])}
        )
    merged = {**DEFAULTS[code], **parameters}
    for name, value in merged.items():
        if name == "days":
            merged[name] = _positive_int(value, name=name, maximum=3650)
        elif name == "months":
            merged[name] = _positive_int(value, name=name, maximum=24)
        elif name == "share":
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0.5 < value <= 1
            ):
                raise ValidationError(_("“share” must be a number above 0.5 and at most 1."))
            merged[name] = float(value)
        else:
            merged[name] = _code(value, name=name)
    return merged
