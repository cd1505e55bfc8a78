"""The site root and the staff login: everyone lands at home (issue 14).

The staff login is the admin's (django-axes locks it like every login path); without an
explicit `next` it sends the person to the site root, which redirects by role
(`backoffice.navigation.landing_url`): Operations to the admin's dashboard, an account
manager to /manager/, a customer to /portal/.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from backoffice.navigation import landing_url


@require_GET
def landing(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(landing_url(request.user))


def staff_login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """The admin's login page, landing by role when no `next` page was asked for.

    Installed as the admin site's `login` (tierhub/urls.py), so the page keeps its URL name
    and namespace ("admin:login": the admin's CSP, axes). The form's hidden `next` field is
    the site root instead of the admin's index; a POST without any `next` goes to
    LOGIN_REDIRECT_URL, the root too.
    """
    site = admin.site
    if "next" not in request.GET and "next" not in request.POST:
        extra_context = {**(extra_context or {}), "next": reverse("landing")}
    # The class's own login (the instance's is this view); `site.__class__`, not `type(site)`:
    # admin.site is a lazy proxy of backoffice.site.BackofficeAdminSite.
    return site.__class__.login(site, request, extra_context)
