"""Calendar days in the project time zone."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def local_midnight(day: dt.date) -> dt.datetime:
    """Return the aware start of `day` in the project time zone.

    The exclusive end of a period that ends on `day`: a grading run counts what happened
    before its `as_of`'s local midnight, and a day's facts are those in
    [local_midnight(day), local_midnight(day + 1 day)).
    """
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def month_after(day: dt.date) -> dt.date:
    """Return the first day of the month after `day`'s."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
