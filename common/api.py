"""Project-wide DRF glue: one exception handler that gives every error the same body, the
staff permissions, pagination, the strict filters every list endpoint shares and the input
fields that take JSON types at their word.

Every error body is ``{"error": {"code": ..., "message": ...}}`` plus, when they apply,
``field`` (the first offending input), ``detail`` (DRF's per-field messages) and ``rows``
(per-row problems of a bulk request); `ErrorSerializer` documents it in the schema.

Query strings are strict: a list endpoint accepts exactly the parameters its schema
documents (filters, pagination) plus ``format``, and answers anything else with 400 naming
the accepted ones, instead of silently ignoring a misspelt filter and returning every row.
A detail endpoint accepts only ``format``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.defaults import page_not_found
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.rest_framework import FilterSet as DrfFilterSet
from django_filters.utils import translate_validation
from django_filters.widgets import BooleanWidget as FilterBooleanWidget
from django_filters.widgets import SuffixedMultiWidget
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission, DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
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


def not_found_handler(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 for a URL no route matches: the API's error body under /api/, else the
    usual page (`handler404` in the root URLconf; used when DEBUG is off)."""
    if request.path.startswith("/api/"):
        detail = str(exceptions.NotFound.default_detail)
        body = {"code": exceptions.NotFound.default_code, "message": detail, "detail": detail}
        return JsonResponse(
            {"error": body},
            status=status.HTTP_404_NOT_FOUND,
            json_dumps_params={"separators": (",", ":")},  # like DRF's JSONRenderer
        )
    return page_not_found(request, exception)


def _error_body(exc: Exception, data: Any) -> dict[str, Any]:
    """Return the body of a DRF error: its code, one readable message, the field and detail."""
    body: dict[str, Any] = {"code": getattr(exc, "default_code", "error")}
    if isinstance(exc, UnknownQueryParameters):
        return {
            **body,
            "message": str(exc.detail),
            "field": exc.unknown[0],
            "detail": {"unknown": exc.unknown, "accepted": exc.accepted},
        }
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


class ErrorRowSerializer(serializers.Serializer):
    """One bad row of an import or bulk request."""

    row = serializers.IntegerField(
        help_text="The row: its 1-based position in `rows` (the line of an import file); 0 "
        "when the problem is the whole request."
    )
    field = serializers.CharField(help_text="The column at fault; empty for the whole row.")
    message = serializers.CharField()


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable and machine-readable: `invalid`, `parse_error`, `unknown_parameter`, "
        "`not_authenticated`, `authentication_failed`, `permission_denied`, `not_found`, "
        "`not_acceptable`, `unsupported_media_type`, `conflict`, `import_rejected`, ..."
    )
    message = serializers.CharField(help_text="One readable sentence, in the request's language.")
    field = serializers.CharField(
        required=False, help_text="The first offending input (body field or query parameter)."
    )
    detail = serializers.JSONField(
        required=False,
        help_text="Every problem: DRF's per-field messages, or for `unknown_parameter` "
        '`{"unknown": [...], "accepted": [...]}`.',
    )
    rows = ErrorRowSerializer(
        many=True, required=False, help_text="Each bad row of an import (at most 1000)."
    )


class ErrorSerializer(serializers.Serializer):
    """The one error body of every endpoint and status."""

    error = ErrorDetailSerializer()


# --- strict input fields ---------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A JSON string, nothing else: DRF's CharField quietly turns the number 12 into "12"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON `true` or `false`, nothing else (DRF's BooleanField also takes 1, "yes", "on")."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


# --- pagination ------------------------------------------------------------------------------


class StandardPagination(PageNumberPagination):
    """`?page=N&page_size=M` (at most 1000); the body is {count, next, previous, results}.

    An empty value is the default, as with every filter (DRF's rule for `page`). A
    `page_size` that is not a whole number of 1 or more is a 400 (DRF would silently use the
    default); one above 1000 is served as 1000, as documented.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request: Request) -> int:
        text = request.query_params.get(self.page_size_query_param)
        if not text:
            return self.page_size
        try:
            size = int(text)
        except ValueError:
            size = 0
        if size < 1:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [_("Enter a whole number of 1 or more.")]}
            )
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["allowEmptyValue"] = True
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Rows per page: {self.page_size} unless given; more than "
                    f"{self.max_page_size} is served as {self.max_page_size}."
                )
            else:
                parameter["schema"] = {
                    "anyOf": [
                        {"type": "integer", "minimum": 1},
                        {"type": "string", "enum": list(self.last_page_strings)},
                    ]
                }
                parameter["description"] = (
                    "A page number, or `last`; one past the last page is 404."
                )
        return parameters


# --- unknown query parameters ----------------------------------------------------------------


class UnknownQueryParameters(exceptions.APIException):
    """The query string names parameters the endpoint does not know (400)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "unknown_parameter"

    def __init__(self, unknown: list[str], accepted: list[str]) -> None:
        self.unknown = unknown
        self.accepted = accepted
        message = ngettext(
            "Unknown query parameter %(unknown)s; the accepted ones are: %(accepted)s.",
            "Unknown query parameters %(unknown)s; the accepted ones are: %(accepted)s.",
            len(unknown),
        ) % {
            "unknown": ", ".join(unknown),
            "accepted": ", ".join(accepted),  # never empty: `format` is always accepted
        }
        super().__init__(message)


def query_parameters_check(request: Request, accepted: list[str]) -> None:
    """Raise UnknownQueryParameters when the query string has a name not in `accepted`.

    The renderer switch (`?format=`) is always accepted: DRF's content negotiation reads it.
    """
    allowed = [*accepted]
    if api_settings.URL_FORMAT_OVERRIDE:
        allowed.append(api_settings.URL_FORMAT_OVERRIDE)
    unknown = sorted(name for name in request.query_params if name not in allowed)
    if unknown:
        raise UnknownQueryParameters(unknown, sorted(set(allowed)))


# --- filters ---------------------------------------------------------------------------------

#: Text in a request never holds NUL: PostgreSQL cannot store it, so the API refuses it (the
#: JSON parser, DRF's fields, Django's form fields); the schema says so on every string.
NO_NUL = r"^[^\x00]*$"
#: The same for text that is not empty (a blank optional body field is documented apart).
NO_NUL_TEXT = r"^[^\x00]+$"

#: PostgreSQL accepts UTC offsets up to 15:59; Python up to 23:59. Filters convert every
#: moment to UTC first, so any offset Python parses is a valid query value.
_OLDEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
_NEWEST = dt.datetime(9999, 12, 30, tzinfo=dt.UTC)


class UtcIsoDateTimeField(forms.DateTimeField):
    """An ISO 8601 moment, normalised to UTC.

    A moment UTC cannot hold (year 1 with a positive offset, year 9999 with a negative one)
    is taken as the earliest or latest moment a row can have: "after 0001-01-01T00:00+08:00"
    means every row, exactly as the query says, instead of a 400 for a valid date-time.
    """

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
            return _OLDEST if moment.year == dt.MINYEAR else _NEWEST
        return min(max(moment, _OLDEST), _NEWEST)


@extend_schema_field(
    {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]}
)
class DateTimeFilter(django_filters.Filter):
    """Filter on a moment given in ISO 8601 (`2026-03-01T10:00:00+08:00`, `2026-03-01`); one
    without an offset is in the project's time zone."""

    field_class = UtcIsoDateTimeField


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class IsoDateFormField(forms.DateField):
    """A date as YYYY-MM-DD only (Django's DateField also reads 03/01/2026 and "Mar 1 2026")."""

    def to_python(self, value: Any) -> dt.date | None:
        if value in self.empty_values:
            return None
        if isinstance(value, dt.date):
            return value
        try:
            if _ISO_DATE.fullmatch(value):
                return dt.date.fromisoformat(value)
        except ValueError:
            pass
        raise forms.ValidationError(_("Enter a date as YYYY-MM-DD."), code="invalid")


@extend_schema_field(OpenApiTypes.DATE)
class DateFilter(django_filters.DateFilter):
    """Filter on a date given as YYYY-MM-DD."""

    field_class = IsoDateFormField


@extend_schema_field({"type": "string", "pattern": NO_NUL})
class CharFilter(django_filters.CharFilter):
    """Filter on text; text with a NUL character is a 400 (PostgreSQL cannot hold it)."""


class _BooleanWidget(FilterBooleanWidget):
    """django-filter's widget without its quiet fallback: the raw text goes to the field."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return data.get(name)


class StrictBooleanFormField(forms.NullBooleanField):
    """`true` / `false` (or 1 / 0, any case); anything else is an error, not "no filter"."""

    widget = _BooleanWidget

    # NullBooleanField.to_python answers None too; the stubs inherit BooleanField's `bool`.
    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]
        if value in (None, ""):
            return None
        answer = {"true": True, "1": True, "false": False, "0": False}.get(str(value).lower())
        if answer is None:
            raise forms.ValidationError(_("Enter true or false."), code="invalid")
        return answer

    def validate(self, value: bool | None) -> None:
        pass


@extend_schema_field(OpenApiTypes.BOOL)
class BooleanFilter(django_filters.BooleanFilter):
    """A yes/no filter: `true` or `false`; a misspelt value is a 400, not every row."""

    field_class = StrictBooleanFormField


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """Rows pointing at the object with this id (a foreign key); an unknown id lists nothing.

    django-filter's default for a foreign key (ModelChoiceFilter) answers an unknown id with
    400, although it is a well-formed query with an empty answer.
    """

    field_class = forms.IntegerField


_FILTER_DEFAULTS = {
    **DrfFilterSet.FILTER_DEFAULTS,
    models.CharField: {"filter_class": CharFilter},
    models.TextField: {"filter_class": CharFilter},
    models.SlugField: {"filter_class": CharFilter},
    models.DateField: {"filter_class": DateFilter},
    models.BooleanField: {"filter_class": BooleanFilter},
    models.ForeignKey: {"filter_class": IdFilter},
    models.OneToOneField: {"filter_class": IdFilter},
}


class FilterSet(DrfFilterSet):
    """The base of every FilterSet of the API: strict booleans, foreign keys by id."""

    FILTER_DEFAULTS = _FILTER_DEFAULTS


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, plus a 400 for any query parameter the endpoint does not accept.

    A list accepts its FilterSet's parameters, those of the view's other filter backends and
    of its paginator, and ``format``; the 400 lists them. A detail endpoint (the lookup is in
    the URL) accepts only ``format``: DRF would otherwise filter the single row by the list's
    filters and answer an unmatched one with 404, which the schema does not document.
    """

    filterset_base = FilterSet

    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
        if lookup in getattr(view, "kwargs", {}):
            query_parameters_check(request, [])
            return queryset
        filterset = self.get_filterset(request, queryset, view)
        query_parameters_check(request, self.accepted_parameters(view, filterset))
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        return filterset.qs

    def accepted_parameters(self, view: APIView, filterset: Any) -> list[str]:
        """Return the query parameter names the list `view` documents and reads."""
        names: list[str] = []
        if filterset is not None:
            for name, field in filterset.form.fields.items():
                widget = field.widget
                if isinstance(widget, SuffixedMultiWidget):
                    names.extend(widget.suffixed(name, suffix) for suffix in widget.suffixes)
                else:
                    names.append(name)
        for backend in getattr(view, "filter_backends", ()):
            if not issubclass(backend, DjangoFilterBackend):
                names.extend(p["name"] for p in backend().get_schema_operation_parameters(view))
        paginator = getattr(view, "paginator", None)
        if paginator is not None:
            names.extend(p["name"] for p in paginator.get_schema_operation_parameters(view))
        return names
