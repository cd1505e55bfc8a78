"""Project-wide DRF glue: one exception handler that gives every error the same body."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission, DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from common.exceptions import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Translate domain and integrity errors; wrap every error as {"error": {...}}.

    Integrity conflicts (a duplicate code slipping past validation under a race) are 409,
    never 500.
    """
    if isinstance(exc, DomainError):
        detail: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.field:
            detail["field"] = exc.field
        if (items := exc.details()) is not None:
            detail["rows"] = items
        return Response({"error": detail}, status=exc.status_code)
    if isinstance(exc, IntegrityError):
        return Response(
            {"error": {"code": "conflict", "message": "The data conflicts with existing rows."}},
            status=status.HTTP_409_CONFLICT,
        )
    response = drf_exception_handler(exc, context)
    if response is not None:
        code = getattr(exc, "default_code", "error")
        response.data = {"error": {"code": code, "detail": response.data}}
    return response


class IsStaff(BasePermission):
    """Staff only (operations and account managers); portal customers use their own pages."""

    message = "Staff only."

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
        return IsStaff().has_permission(request, view) and super().has_permission(request, view)


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
