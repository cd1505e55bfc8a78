"""Allowance periods and the key that names the period a day falls in."""

from __future__ import annotations

import calendar
import datetime as dt

from django.db import models
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Period(models.TextChoices):
    ONCE = "once", _("Once")
    MONTH = "month", _("Per month")
    QUARTER = "quarter", _("Per quarter")
    YEAR = "year", _("Per year")


def period_key(period: str, day: dt.date) -> str:
    """Return the key of the allowance period containing `day` (a project-local date).

    "once" for single-use benefits, else "2026-11" (month), "2026-Q4" (quarter) or "2026"
    (year). Redemptions of one benefit in the same key share its allowance.
    """
    if period == Period.ONCE:
        return "once"
    if period == Period.MONTH:
        return f"{day:%Y-%m}"
    if period == Period.QUARTER:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if period == Period.YEAR:
        return f"{day.year}"
    raise ValueError(f"Unknown allowance period {period!r}")


def months_before(day: dt.date, months: int) -> dt.date:
    """Return the same day `months` calendar months earlier (clamped to the month's end)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def period_label(key: str) -> str:
    """Return a `period_key` in words: "November 2026", "Q4 2026", "2026", "once"."""
    if key == "once":
        return gettext("once")
    if len(key) == 7 and key[4] == "-" and key[5:].isdigit():
        return date_format(dt.date(int(key[:4]), int(key[5:]), 1), "YEAR_MONTH_FORMAT")
    if "-Q" in key:
        year, quarter = key.split("-Q")
        return gettext("Q%(quarter)s %(year)s") % {"quarter": quarter, "year": year}
    return key
