"""Pages with no single owner: the language switch that also remembers the choice."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from common.services import user_language_set


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Django's `set_language` (cookie and redirect), plus the logged-in user's preference.

    The preference is the language of the e-mails they are sent (common.services).
    """
    response = set_language(request)
    if request.user.is_authenticated:
        user_language_set(user=request.user, language=request.POST.get("language", ""))
    return response
