"""Content-Security-Policy: django-csp's middleware, and the narrow exceptions of the few
third-party pages that carry an inline style attribute.

The site-wide policy is `CONTENT_SECURITY_POLICY` in the settings: our own pages have no
inline script or style at all. A third-party template we do not copy may have a fixed
`style="..."`; such a page allows exactly that attribute, by its hash (`'unsafe-hashes'`
admits hashes for attributes; every other inline style and any inline script stay refused).

The staff pages drawn in the admin's layout (django-unfold: the admin and the reports) get
`CONTENT_SECURITY_POLICY_STAFF` instead: unfold's Alpine.js evaluates its expressions with
`new Function` ('unsafe-eval') and sets style attributes ('unsafe-inline' styles). Inline
scripts stay refused there too. See docs/operations.md, "The admin".
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse
from rest_framework.renderers import BrowsableAPIRenderer


def style_attribute_sources(*declarations: str) -> dict[str, list[str]]:
    """Return a policy update allowing exactly these inline style attributes, by hash."""
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"
        for text in declarations
    ]
    return {"style-src-attr": ["'unsafe-hashes'", *hashes]}


#: DRF's browsable API (rest_framework/base.html) floats its Filters and Extra Actions
#: buttons with this attribute.
BROWSABLE_API_CSP = style_attribute_sources("float: right; margin-right: 10px")

#: The URL namespaces of the staff pages drawn in unfold's layout: the admin and the reports
#: (which extend admin/base_site.html). Staff only: every view behind them requires is_staff,
#: but for the admin's own login page.
STAFF_NAMESPACES = frozenset({"admin", "reports"})


def is_staff_page(request: HttpRequest) -> bool:
    """Whether `request` is a page drawn in unfold's layout: anything under the admin's URL
    (its login too, whichever view serves it) or a page of STAFF_NAMESPACES."""
    if request.path_info.startswith(reverse("admin:index")):
        return True
    match = getattr(request, "resolver_match", None)
    return match is not None and not STAFF_NAMESPACES.isdisjoint(match.namespaces)


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware; the staff pages get CONTENT_SECURITY_POLICY_STAFF, pages of
    DRF's browsable API also get BROWSABLE_API_CSP.

    Chosen by the URL's namespace and by the response's renderer, so that neither the admin's
    views nor the API's code need a decorator. A view's own `@csp` policy still wins.
    """

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and parts.config is None and is_staff_page(request):
            parts.config = settings.CONTENT_SECURITY_POLICY_STAFF["DIRECTIVES"]
        renderer: Any = getattr(response, "accepted_renderer", None)
        if isinstance(renderer, BrowsableAPIRenderer):
            parts.update = {**BROWSABLE_API_CSP, **(parts.update or {})}
        return parts
