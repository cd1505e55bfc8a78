"""The site root and the staff login: everyone lands at home (issue 14).

The staff login is the admin's (django-axes locks it like every login path); without an
explicit `next` it sends the person to the site root, which redirects by role
(`backoffice.navigation.landing_url`): Operations to the admin's dashboard, an account
manager to /manager/, a customer to /portal/.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from backoffice.navigation import landing_url


@require_GET
def landing(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(landing_url(request.user))


def staff_login(request: HttpRequest) -> HttpResponse:
    """The admin's login page, landing by role when no `next` page was asked for.

    The form's hidden `next` field is the site root instead of the admin's index (a POST
    without any `next` goes to LOGIN_REDIRECT_URL, the root too).
    """
    if "next" in request.GET or "next" in request.POST:
        return admin.site.login(request)
    return admin.site.login(request, extra_context={"next": reverse("landing")})
