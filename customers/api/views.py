"""Customers, orders and engagement events over REST.

Reads are scoped to the caller (`customers.selectors.scope_for_user`; out of scope = 404).
Writes (single and bulk) run through the import services: the same validation and messages
as file imports, atomic, with every bad row reported (`{"error": {"rows": [...]}}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.actors import acting_user
from common.api import CharFilter, DateTimeFilter, FilterSet, IsStaff, StandardPagination
from common.listing import EstimatedCountPaginator
from common.parsers import JSONParser
from customers.api import serializers
from customers.models import (
    Customer,
    Order,
)
from customers.search import customer_search
from customers.selectors import customer_list_for_user, scope_for_user
from customers.services.events import KINDS, EventKind, events_import
from customers.services.imports import ImportReport, customer_import, order_import
from customers.tabular import Records


def _require(request: Request, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied()


def _result(report: ImportReport, *, created_status: bool = True) -> Response:
    body = {
        "total": report.total_rows,
        "created": report.created,
        "updated": report.updated,
        "dry_run": report.dry_run,
    }
    code = status.HTTP_201_CREATED if created_status and not report.dry_run else status.HTTP_200_OK
    return Response(body, status=code)


class CustomerFilter(FilterSet):
    code = CharFilter(help_text="The customer with exactly this code.")
    grade = CharFilter(
        field_name="grade_state__grade__code", help_text="Customers holding this grade (code)."
    )
    account_manager = CharFilter(
        field_name="account_manager__username",
        help_text="Customers of the account manager with this username.",
    )
    industry = CharFilter(help_text="Customers of exactly this industry.")
    q = CharFilter(
        method="search",
        help_text=(
            "Search: the code, e-mail or phone starts with this, or the name contains it "
            "(any case; names from 3 characters)."
        ),
    )

    class Meta:
        model = Customer
        fields = ("kind", "is_active")

    def search(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        return customer_search(queryset, term=value)


class EstimatedCountPagination(StandardPagination):
    """`count` is PostgreSQL's estimate above 10,000 rows (exact below): no full COUNT(*)."""

    django_paginator_class = EstimatedCountPaginator


class CustomerListApi(generics.ListAPIView):
    """List customers you may see; POST creates one customer (409 if the code exists).

    The bulk endpoint creates or updates by code, like a customers import file. On
    PostgreSQL, `count` is an estimate when it is above 10,000.
    """

    permission_classes = (IsStaff,)
    pagination_class = EstimatedCountPagination
    serializer_class = serializers.CustomerOutputSerializer
    filterset_class = CustomerFilter

    def get_queryset(self) -> QuerySet[Customer]:
        return customer_list_for_user(user=self.request.user).order_by("code")

    @extend_schema(
        request=serializers.CustomerInputSerializer,
        responses={201: serializers.CustomerOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        _require(request, "customers.add_customer")
        data = serializers.CustomerInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer_import(
            source=Records([data.validated_data]),
            filename="request",
            create_only=True,
            by=acting_user(request.user),
        )
        customer = self.get_queryset().get(code=data.validated_data["code"])
        return Response(
            serializers.CustomerOutputSerializer(customer).data, status=status.HTTP_201_CREATED
        )


class CustomerDetailApi(generics.RetrieveAPIView):
    permission_classes = (IsStaff,)
    serializer_class = serializers.CustomerOutputSerializer
    lookup_field = "code"

    def get_queryset(self) -> QuerySet[Customer]:
        return customer_list_for_user(user=self.request.user)


class CustomerBulkApi(APIView):
    """Create or update up to 100,000 customers in one atomic request."""

    permission_classes = (IsStaff,)
    # Rows are nested objects: JSON only (a form cannot carry them).
    parser_classes = (JSONParser,)

    @extend_schema(
        request=serializers.BulkInputSerializer, responses={201: serializers.ImportResultSerializer}
    )
    def post(self, request: Request) -> Response:
        _require(request, "customers.add_customer")
        data = serializers.BulkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = customer_import(
            source=Records(data.validated_data["rows"]),
            filename="request",
            dry_run=data.validated_data["dry_run"],
            by=acting_user(request.user),
        )
        return _result(report)


class OrderFilter(FilterSet):
    customer_code = CharFilter(
        field_name="customer__code", help_text="Orders of the customer with this code."
    )
    category = CharFilter(
        field_name="category__code", help_text="Orders in the category with this code."
    )
    placed_after = DateTimeFilter(
        field_name="placed_at", lookup_expr="gte", help_text="Placed at or after this moment."
    )
    placed_before = DateTimeFilter(
        field_name="placed_at", lookup_expr="lt", help_text="Placed before this moment."
    )

    class Meta:
        model = Order
        fields = ("status",)


class OrderListApi(generics.ListAPIView):
    """List orders of customers you may see; POST creates one order (409 if the number exists).

    The bulk endpoint creates or updates by order number, like an orders import file.
    """

    permission_classes = (IsStaff,)
    serializer_class = serializers.OrderOutputSerializer
    filterset_class = OrderFilter

    def get_queryset(self) -> QuerySet[Order]:
        queryset = Order.objects.select_related("customer", "category").order_by("-placed_at")
        return scope_for_user(queryset, user=self.request.user, customer_path="customer")

    @extend_schema(
        request=serializers.OrderInputSerializer,
        responses={201: serializers.OrderOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        _require(request, "customers.add_order")
        data = serializers.OrderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order_import(
            source=Records([data.validated_data]),
            filename="request",
            create_only=True,
            by=acting_user(request.user),
        )
        order = self.get_queryset().get(order_no=data.validated_data["order_no"])
        return Response(
            serializers.OrderOutputSerializer(order).data, status=status.HTTP_201_CREATED
        )


class OrderDetailApi(generics.RetrieveAPIView):
    permission_classes = (IsStaff,)
    serializer_class = serializers.OrderOutputSerializer
    lookup_field = "order_no"

    def get_queryset(self) -> QuerySet[Order]:
        return OrderListApi.get_queryset(self)  # type: ignore[arg-type]


class OrderBulkApi(APIView):
    """Create or update up to 100,000 orders in one atomic request (COPY on PostgreSQL)."""

    permission_classes = (IsStaff,)
    # Rows are nested objects: JSON only (a form cannot carry them).
    parser_classes = (JSONParser,)

    @extend_schema(
        request=serializers.BulkInputSerializer, responses={201: serializers.ImportResultSerializer}
    )
    def post(self, request: Request) -> Response:
        _require(request, "customers.add_order")
        data = serializers.BulkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = order_import(
            source=Records(data.validated_data["rows"]),
            filename="request",
            create_missing_customers=data.validated_data["create_missing_customers"],
            dry_run=data.validated_data["dry_run"],
            by=acting_user(request.user),
        )
        return _result(report)


@dataclass(frozen=True)
class EventApi:
    """How the API shows one kind of engagement event (`customers.services.events.KINDS`)."""

    kind: EventKind
    serializer: type[Any]

    @cached_property
    def filterset(self) -> type[django_filters.FilterSet]:
        """Filters of the list: `customer_code`, and `after` / `before` on the event's date."""
        model = self.kind.model
        meta = type("Meta", (), {"model": model, "fields": ()})
        return type(
            f"{model.__name__}Filter",
            (FilterSet,),
            {
                "customer_code": CharFilter(
                    field_name=f"{self.kind.customer_path}__code",
                    help_text="Events of the customer with this code.",
                ),
                "after": DateTimeFilter(
                    field_name=self.kind.date_field,
                    lookup_expr="gte",
                    help_text="Happened at or after this moment.",
                ),
                "before": DateTimeFilter(
                    field_name=self.kind.date_field,
                    lookup_expr="lt",
                    help_text="Happened before this moment.",
                ),
                "Meta": meta,
            },
        )


#: The serializer of each event model: a kind of `KINDS` without one fails at import.
_EVENT_SERIALIZERS: dict[type[Any], type[Any]] = {
    serializer.Meta.model: serializer
    for serializer in (
        serializers.ComplaintOutputSerializer,
        serializers.ReviewOutputSerializer,
        serializers.TicketOutputSerializer,
        serializers.InvitationOutputSerializer,
        serializers.ReferralOutputSerializer,
    )
}
#: The event kinds as the API shows them, in the order of `KINDS`.
EVENT_KINDS: dict[str, EventApi] = {
    key: EventApi(kind, _EVENT_SERIALIZERS[kind.model]) for key, kind in KINDS.items()
}


class EventListApi(generics.ListAPIView):
    """List engagement events of one kind for customers you may see, newest first.

    One URL per kind (`EVENT_APIS`), so the schema documents each kind's own fields.
    """

    permission_classes = (IsStaff,)
    #: The key of EVENT_KINDS this view lists (set per URL by `event_apis`).
    kind = ""

    @property
    def filterset_class(self) -> type[django_filters.FilterSet]:
        return EVENT_KINDS[self.kind].filterset

    def get_serializer_class(self) -> type[Any]:
        return EVENT_KINDS[self.kind].serializer

    def get_queryset(self) -> QuerySet[Any]:
        kind = KINDS[self.kind]
        queryset = kind.model.objects.select_related(  # type: ignore[attr-defined]
            kind.customer_path, *kind.related
        ).order_by("-pk")
        return scope_for_user(queryset, user=self.request.user, customer_path=kind.customer_path)


class EventBulkApi(APIView):
    """Create up to 100,000 engagement events of one kind in one atomic request."""

    permission_classes = (IsStaff,)
    # Rows are nested objects: JSON only (a form cannot carry them).
    parser_classes = (JSONParser,)
    kind = ""

    @extend_schema(
        request=serializers.BulkInputSerializer,
        responses={201: serializers.ImportResultSerializer},
    )
    def post(self, request: Request) -> Response:
        model = KINDS[self.kind].model
        _require(request, f"customers.add_{model._meta.model_name}")
        data = serializers.BulkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = events_import(
            kind=self.kind,
            source=Records(data.validated_data["rows"]),
            dry_run=data.validated_data["dry_run"],
            by=acting_user(request.user),
        )
        return _result(report)


def event_apis(kind: str) -> tuple[type[EventListApi], type[EventBulkApi]]:
    """Return the list and bulk views of one event kind, each documented with its columns."""
    columns = KINDS[kind]
    name = columns.model.__name__
    listing = type(
        f"{name}ListApi",
        (EventListApi,),
        {"kind": kind, "__doc__": f"List {kind} of customers you may see, newest first."},
    )
    bulk = type(
        f"{name}BulkApi",
        (EventBulkApi,),
        {
            "kind": kind,
            "__doc__": f"Create up to 100,000 {kind} in one atomic request.\n\n"
            f"Columns of each row: {', '.join(columns.required)} (required); "
            f"{', '.join(columns.optional)} (optional). Dates are YYYY-MM-DD, "
            "YYYY-MM-DD HH:MM[:SS] or ISO 8601, at most ORDER_FUTURE_TOLERANCE_HOURS "
            "(default 24) hours after now.",
        },
    )
    return listing, bulk


EVENT_APIS = {kind: event_apis(kind) for kind in KINDS}
