"""Content-Security-Policy: django-csp's middleware, and the narrow exceptions of the few
third-party pages that carry an inline style attribute.

The site-wide policy is `CONTENT_SECURITY_POLICY` in the settings: our own pages have no
inline script or style at all. A third-party template we do not copy may have a fixed
`style="..."`; such a page allows exactly that attribute, by its hash (`'unsafe-hashes'`
admits hashes for attributes; every other inline style and any inline script stay refused).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.http import HttpRequest, HttpResponseBase
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


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware; pages of DRF's browsable API also get BROWSABLE_API_CSP.

    Chosen by the response's renderer, so that the API's own code needs no decorator.
    """

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        renderer: Any = getattr(response, "accepted_renderer", None)
        if isinstance(renderer, BrowsableAPIRenderer):
            parts.update = {**BROWSABLE_API_CSP, **(parts.update or {})}
        return parts
