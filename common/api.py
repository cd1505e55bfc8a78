"""Project-wide DRF glue: one exception handler that gives every error the same body, the
staff permissions, pagination and the strict filter fields every list endpoint shares.

Every error body is ``{"error": {"code": ..., "message": ...}}`` plus, when they apply,
``field`` (the first offending input), ``detail`` (DRF's per-field messages) and ``rows``
(per-row problems of a bulk request).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission, DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from common.exceptions import ConflictError, DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Translate domain and integrity errors; wrap every error as {"error": {...}}.

    Integrity conflicts (a duplicate key slipping past validation under a race, a unique
    constraint hit by a concurrent writer) are 409, never 500.
    """
    if isinstance(exc, DomainError):
        set_rollback()
        detail: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.field:
            detail["field"] = exc.field
        if (items := exc.details()) is not None:
            detail["rows"] = items
        return Response({"error": detail}, status=exc.status_code)
    if isinstance(exc, IntegrityError):
        set_rollback()
        return Response(
            {
                "error": {
                    "code": ConflictError.code,
                    "message": _("The data conflicts with existing rows; nothing was written."),
                }
            },
            status=status.HTTP_409_CONFLICT,
        )
    # Django's own 404 / 403 become DRF's, so they carry a code too.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = {"error": _error_body(exc, response.data)}
    return response


def _error_body(exc: Exception, data: Any) -> dict[str, Any]:
    """Return the body of a DRF error: its code, one readable message, the field and detail."""
    body: dict[str, Any] = {"code": getattr(exc, "default_code", "error")}
    if isinstance(exc, exceptions.ValidationError):
        field, message = _first_message(data)
        body["message"] = f"{field}: {message}" if field else message
        if field:
            body["field"] = field
    elif isinstance(data, dict) and "detail" in data:
        body["message"] = str(data["detail"])
        data = data["detail"]
    else:
        body["message"] = str(getattr(exc, "detail", exc))
    body["detail"] = data
    return body


def _first_message(data: Any, prefix: str = "") -> tuple[str, str]:
    """Return (dotted field path, message) of the first error in a DRF validation detail."""
    if isinstance(data, dict):
        for key, value in data.items():
            name = "" if key == "non_field_errors" else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            return _first_message(value, path)
    if isinstance(data, list):
        for position, value in enumerate(data):
            if value:  # a list of per-item errors has {} for the good items
                nested = isinstance(value, dict | list)
                return _first_message(value, f"{prefix}.{position}" if nested else prefix)
    return prefix, str(data) if data else str(_("Invalid input."))


class IsStaff(BasePermission):
    """Staff only (operations and account managers); portal customers use their own pages."""

    message = gettext_lazy("Staff only: customers use the portal.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class StaffModelPermissions(DjangoModelPermissions):
    """Staff, and for writes the model's add/change permission (reads need view)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not IsStaff().has_permission(request, view):
            self.message = IsStaff.message  # DRF answers with the refusing permission's message
            return False
        return super().has_permission(request, view)


class StandardPagination(PageNumberPagination):
    """`?page=N&page_size=M` (at most 1000); the body is {count, next, previous, results}."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000


# --- filters ---------------------------------------------------------------------------------

#: PostgreSQL accepts UTC offsets up to 15:59; Python up to 23:59. Filters convert every
#: moment to UTC first, so any offset Python parses is a valid query value.
_OLDEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
_NEWEST = dt.datetime(9999, 12, 30, tzinfo=dt.UTC)


class UtcIsoDateTimeField(forms.DateTimeField):
    """An ISO 8601 moment, normalised to UTC; years that UTC cannot hold are a 400."""

    input_formats = [django_filters.fields.IsoDateTimeField.ISO_8601]

    def strptime(self, value: str, format: str) -> dt.datetime:
        return dt.datetime.fromisoformat(value)

    def to_python(self, value: Any) -> dt.datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        try:
            moment = moment.astimezone(dt.UTC)
        except OverflowError:
            moment = None
        if moment is None or not _OLDEST <= moment <= _NEWEST:
            raise forms.ValidationError(_("Enter a date-time between years 1 and 9999."))
        return moment


@extend_schema_field(OpenApiTypes.DATETIME)
class DateTimeFilter(django_filters.Filter):
    """Filter on a moment given in ISO 8601 (`2026-03-01T10:00:00+08:00`, `2026-03-01`)."""

    field_class = UtcIsoDateTimeField
