"""Close recommendations on the account manager's queue."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from benefits.exceptions import RecommendationAlreadyDecided
from benefits.models import Recommendation

#: The only moves: an open recommendation is done or dismissed, once.
TRANSITIONS: dict[str, set[str]] = {
    Recommendation.Status.OPEN: {Recommendation.Status.DONE, Recommendation.Status.DISMISSED},
}


def recommendation_decide(
    *, recommendation_id: int, status: str, by: User | None = None
) -> Recommendation:
    """Mark a recommendation done or dismissed and return it.

    Deciding the same way twice does nothing; changing a decided recommendation raises
    RecommendationAlreadyDecided (409). Locks the row so two managers cannot both decide.
    """
    with transaction.atomic():
        recommendation = Recommendation.objects.select_for_update().get(pk=recommendation_id)
        if recommendation.status == status:
            return recommendation
        if status not in TRANSITIONS.get(recommendation.status, set()):
            raise RecommendationAlreadyDecided(
                _("This recommendation is already %(status)s.")
                % {"status": recommendation.get_status_display()}
            )
        recommendation.status = status
        recommendation.decided_at = timezone.now()
        recommendation.decided_by = by if by is not None and by.is_authenticated else None
        recommendation.save(update_fields=["status", "decided_at", "decided_by"])
    return recommendation
