"""Reads of the common rows every page shows (docs/operations.md, "Caches")."""

from __future__ import annotations

from common.models import Notification
from common.versions import version, versioned

#: The version of every user's notifications: replaced when notifications are sent (one
#: replacement however many recipients a run's notices have).
NOTIFICATIONS_VERSION = "notifications"
#: Seconds a cached unread count lives at most: a change made past the ORM shows by then.
NOTIFICATIONS_TTL = 300


def notifications_version(user_id: int) -> str:
    """The version name of one user's notifications: replaced when the user reads them or
    one of them is saved or deleted on its own (the admin). Kept NOTIFICATIONS_TTL seconds,
    like the counts under it: a million customers leave no million versions behind."""
    return f"{NOTIFICATIONS_VERSION}-{user_id}"


def notification_unread_count(*, user_id: int) -> int:
    """Return how many of the user's notifications are unread (every page's menu shows it)."""
    return versioned(
        NOTIFICATIONS_VERSION,
        f"{user_id}:{version(notifications_version(user_id), ttl=NOTIFICATIONS_TTL)}:unread",
        lambda: Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count(),
        ttl=NOTIFICATIONS_TTL,
    )
