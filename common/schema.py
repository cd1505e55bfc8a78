"""The OpenAPI schema generator: drf-spectacular's, plus every error status an operation
can answer, each with the one error body (`common.api.ErrorSerializer`).

The statuses follow from how DRF and the project's views behave, so a new endpoint is
documented correctly without a per-view list:

- 400: every operation (a malformed body, a bad filter value, an unknown query parameter);
- 401: every operation that authenticates (a missing, unknown or malformed token);
- 403: every operation (a non-staff user, a missing model permission, a CSRF failure);
- 404: a path with parameters (a missing or out-of-scope row: the same answer) and a
  paginated list (a page past the last);
- 406: every operation (an `Accept` header or `?format=` no renderer satisfies);
- 409: every write (a unique key taken by a concurrent writer, a domain conflict);
- 415: every operation with a request body (a content type no parser reads);
- 429: operations with throttles (none today).

Text in a request body is documented without NUL (`common.api.NO_NUL_TEXT`), like every
text filter. A view's own `@extend_schema(responses=...)` entry for a status wins (e.g. the redeem
endpoint's 404 and 409 descriptions). No operation documents 405: DRF answers it only for
methods the schema does not list.
"""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import label_for_filter
from drf_spectacular import openapi
from drf_spectacular.plumbing import get_view_model
from drf_spectacular.utils import OpenApiResponse

from common.api import NO_NUL_TEXT, BooleanFilter, ErrorSerializer, IdFilter

DESCRIPTIONS = {
    400: "Bad request: a malformed body, an invalid value or an unknown query parameter "
    "(the body names the accepted ones); for imports, every bad row in `rows`.",
    401: "Not authenticated: no credentials, or an unknown or malformed token.",
    403: "Forbidden: staff only, a missing permission or a failed CSRF check.",
    404: "Not found: no such row, or one outside your scope (the same answer), or a page "
    "past the last.",
    406: "Not acceptable: the Accept header or `?format=` asks for something other than JSON.",
    409: "Conflict with existing data (a duplicate key, a state that changed): nothing was "
    "written.",
    415: "Unsupported media type: send the body as one of the documented content types.",
    429: "Too many requests: wait and retry.",
}


def _filter_description(filter_: Any, model: Any) -> str:
    """Return a filter's help text, else a sentence from its model field's verbose name."""
    if filter_.extra.get("help_text"):
        return str(filter_.extra["help_text"])
    label = str(label_for_filter(model, filter_.field_name, "exact")).lower()
    if isinstance(filter_, IdFilter):
        return f"Rows of the {label} with this id."
    if isinstance(filter_, BooleanFilter):
        return f"{label.capitalize()}: true or false."
    return f"Exactly this {label}."


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema with the error responses of every operation.

    The underscored methods it extends are drf-spectacular's own (0.30, pinned): a new
    version may rename them, which the schema tests in tests/api/test_schema.py would show.
    """

    def error_statuses(self) -> list[int]:
        """Return the error statuses this operation can answer with (see the module doc)."""
        view = self.view
        statuses = [400, 403, 406]
        if getattr(view, "authentication_classes", None):
            statuses.append(401)
        if "{" in self.path or (self._is_list_view() and self._get_paginator()):
            statuses.append(404)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            statuses.append(409)
        if self.method in ("POST", "PUT", "PATCH"):
            statuses.append(415)
        if getattr(view, "throttle_classes", None):
            statuses.append(429)
        return sorted(statuses)

    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        """The filters, each marked as accepting an empty value: `?status=` filters nothing,
        as django-filter (and the browsable API's filter form, which sends every field) has it."""
        parameters = super()._get_filter_parameters()
        model, filters = self._filterset_filters()
        for parameter in parameters:
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
            # drf-spectacular drops a filter's help_text when its class sets the schema
            # (`extend_schema_field` on common.api's filters): put it back.
            if parameter["name"] in filters and not parameter.get("description"):
                parameter["description"] = _filter_description(filters[parameter["name"]], model)
        return parameters

    def _filterset_filters(self) -> tuple[Any, dict[str, Any]]:
        """Return the view's model and FilterSet filters by query name ({} without one)."""
        for backend in self.get_filter_backends():
            model = get_view_model(self.view)
            if model is not None and issubclass(backend, DjangoFilterBackend):
                filterset = backend().get_filterset_class(self.view, model._default_manager.none())
                if filterset is not None:
                    return model, dict(filterset.base_filters)
        return None, {}

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        """Map a field; request text also says it holds no NUL (the API refuses one)."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        plain = schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema)
        if direction == "request" and plain:
            schema["pattern"] = NO_NUL_TEXT
        return schema

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status in self.error_statuses():
            code = str(status)
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[status]),
                    code,
                    direction=direction,
                )
        return dict(sorted(responses.items()))
