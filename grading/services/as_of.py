"""Which as-of dates a grading run accepts.

A run's `as_of` is the first day after the graded period (`grading.services.schedule`), so
the latest period a run can grade is the one ending yesterday: `as_of` today. A later date
would grade orders that have not happened yet and, through the idempotency key (scheme,
as_of), block the real run of that period. "Today" is the project's local date
(settings.TIME_ZONE), the day every order date is counted in.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from grading.exceptions import AsOfInFuture


def grading_run_as_of_validate(*, as_of: dt.date, today: dt.date | None = None) -> dt.date:
    """Return `as_of` if a run may grade it; raise AsOfInFuture when it is after today.

    `today` defaults to the project's local date (the seam for tests and backfills).
    """
    today = today or timezone.localdate()
    if as_of > today:
        raise AsOfInFuture(
            _(
                "as-of %(as_of)s is after today (%(today)s): a run grades a period that has "
                "ended, so its as-of is today at the latest."
            )
            % {"as_of": as_of.isoformat(), "today": today.isoformat()},
            field="as_of",
        )
    return as_of
