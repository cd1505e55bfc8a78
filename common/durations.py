"""Durations for people: "0.2 s", "12 s", "1 min 12 s", "2 h 5 min", in the reader's language."""

from __future__ import annotations

from django.utils.translation import gettext as _


def duration_display(seconds: float | None) -> str:
    """Return `seconds` as a short duration; "—" for None (not measured).

    Under 10 s one decimal ("0.2 s", "9.5 s"): short runs differ in tenths. From 10 s whole
    seconds, then minutes and seconds, then hours and minutes: the precision an operator
    reads a run's time with. Negative values (a clock step) count as 0.
    """
    if seconds is None:
        return "—"
    seconds = max(float(seconds), 0.0)
    if seconds < 10:
        return _("%(seconds)s s") % {"seconds": f"{seconds:.1f}"}
    whole = round(seconds)
    if whole < 60:
        return _("%(seconds)d s") % {"seconds": whole}
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        if not secs:
            return _("%(minutes)d min") % {"minutes": minutes}
        return _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": secs}
    hours, minutes = divmod(minutes, 60)
    if not minutes:
        return _("%(hours)d h") % {"hours": hours}
    return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
