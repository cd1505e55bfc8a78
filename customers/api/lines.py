"""The bulk endpoint for sales lines (`/api/order-lines/bulk/?mapping=NAME`): a thin
interface over `customers.services.lines.order_lines_import`, with the conventions of the
other bulk endpoints (JSON rows, atomic, every bad row in the error body)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.actors import acting_user
from common.api import (
    IsStaff,
    StrictBooleanField,
    StrictCharField,
    query_parameters_check,
)
from common.parsers import JSONParser
from customers.api.serializers import RowsField
from customers.services.lines import (
    LINE_OPTIONAL,
    LINE_REQUIRED,
    order_lines_import,
    source_mapping_get,
)
from customers.tabular import Records


class LineBulkInputSerializer(serializers.Serializer):
    rows = RowsField(
        min_length=1,
        max_length=RowsField.max_rows,
        help_text="Objects of column: value: the canonical columns "
        f"({', '.join(LINE_REQUIRED)} required; {', '.join(LINE_OPTIONAL)} optional), or the "
        "source's own headers when `?mapping=` names a saved source mapping.",
    )
    return_prefix = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=16,
        help_text="Document numbers starting with this are returns (overrides the mapping's).",
    )
    create_missing_customers = StrictBooleanField(
        required=False,
        default=False,
        help_text="Create a bare customer for each unknown customer_code.",
    )
    dry_run = StrictBooleanField(
        required=False, default=False, help_text="Do everything, then roll it back."
    )


class LineImportResultSerializer(serializers.Serializer):
    """The data-quality report of the import (money as decimal strings)."""

    total = serializers.IntegerField(help_text="Lines read.")
    created = serializers.IntegerField(help_text="Orders (sales documents) created.")
    updated = serializers.IntegerField(help_text="Orders (sales documents) updated.")
    dry_run = serializers.BooleanField()
    quality = serializers.DictField(
        child=serializers.CharField(),
        help_text="lines_read, documents, returns, anonymous_lines, returns_allocated, "
        "returns_allocated_amount, returns_unallocated, returns_unallocated_amount, "
        "orders_fully_refunded, empty_returns, zero_price_lines, duplicate_lines, "
        "customer_conflicts.",
    )


class OrderLineBulkApi(APIView):
    """Import up to 100,000 sales lines (invoices, returns, credit notes) in one atomic request.

    Lines are grouped into orders by document number; returns (a prefix, a document type or a
    negative total) are refunded on the customer's orders as docs/importing-sales-lines.md
    describes: with `original_order_no` on that order, otherwise on the most recent orders
    placed at or before the return, newest first; what cannot be allocated is kept and
    reported. Lines without a customer are skipped and counted.
    """

    permission_classes = (IsStaff,)
    parser_classes = (JSONParser,)

    @extend_schema(
        request=LineBulkInputSerializer,
        parameters=[
            OpenApiParameter(
                "mapping",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                description="The name of a saved source mapping (header → field, formats).",
            )
        ],
        responses={201: LineImportResultSerializer},
    )
    def post(self, request: Request) -> Response:
        query_parameters_check(request, ["mapping"])
        if not request.user.has_perm("customers.add_order"):
            raise PermissionDenied()
        name = request.query_params.get("mapping")
        mapping = source_mapping_get(name=name) if name else None
        data = LineBulkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = order_lines_import(
            source=Records(data.validated_data["rows"]),
            filename="request",
            mapping=mapping,
            return_prefix=data.validated_data.get("return_prefix"),
            create_missing_customers=data.validated_data["create_missing_customers"],
            dry_run=data.validated_data["dry_run"],
            by=acting_user(request.user),
        )
        body = {
            "total": report.total_rows,
            "created": report.created,
            "updated": report.updated,
            "dry_run": report.dry_run,
            "quality": {key: value for key, _label, value in report.quality_rows()},
        }
        code = status.HTTP_200_OK if report.dry_run else status.HTTP_201_CREATED
        return Response(body, status=code)
