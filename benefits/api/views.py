"""Benefits API: the catalog, a customer's entitlements, redeeming, and redemptions.

Customer-level data is scoped to the caller (`customers.selectors`): an account manager
reaches only their own customers; anything else is 404, like a missing customer. Domain
errors (not entitled 403, used up 409, ...) reach the client through the project exception
handler, so no view catches them.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from benefits import selectors
from benefits.api import serializers
from benefits.models import Benefit, Redemption
from benefits.services.redemptions import IDEMPOTENCY_KEY_MAX, benefit_redeem
from common.actors import acting_user
from common.api import (
    CharFilter,
    DateFilter,
    ErrorSerializer,
    FilterSet,
    IsStaff,
    StaffModelPermissions,
    query_parameters_check,
)
from customers.models import Customer
from customers.selectors import customer_list_for_user

IDEMPOTENCY_HEADER = "Idempotency-Key"


def _customer_for(request: Request, code: str) -> Customer:
    """Return the customer `code` if the caller may see it, else 404 (same as missing)."""
    return get_object_or_404(customer_list_for_user(user=request.user), code=code)


class BenefitListApi(generics.ListAPIView):
    permission_classes = (StaffModelPermissions,)
    serializer_class = serializers.BenefitSerializer
    queryset = Benefit.objects.none()  # for the model permission check
    filterset_fields = ("kind", "period", "is_active")

    def get_queryset(self) -> QuerySet[Benefit]:
        return selectors.benefit_list()


class EntitlementListApi(APIView):
    permission_classes = (IsStaff,)

    @extend_schema(responses=serializers.CustomerEntitlementsSerializer)
    def get(self, request: Request, customer_code: str) -> Response:
        query_parameters_check(request, [])
        customer = _customer_for(request, customer_code)  # its grade is joined in
        state = getattr(customer, "grade_state", None)
        entitlements = selectors.entitlement_list_for_customer(customer=customer)
        data = serializers.CustomerEntitlementsSerializer(
            {
                "customer_code": customer.code,
                "grade": state.grade.code if state else None,
                "entitlements": entitlements,
            }
        ).data
        return Response(data)


class RedemptionFilter(FilterSet):
    customer_code = CharFilter(
        field_name="customer__code", help_text="Redemptions of the customer with this code."
    )
    benefit_code = CharFilter(
        field_name="benefit__code", help_text="Redemptions of the benefit with this code."
    )
    grade = CharFilter(
        field_name="grade__code", help_text="Redeemed while holding this grade (code)."
    )
    redeemed_after = DateFilter(
        field_name="redeemed_at__date", lookup_expr="gte", help_text="Redeemed on or after."
    )
    redeemed_before = DateFilter(
        field_name="redeemed_at__date", lookup_expr="lte", help_text="Redeemed on or before."
    )

    class Meta:
        model = Redemption
        fields = ("channel", "period_key")


class RedemptionListApi(generics.ListAPIView):
    permission_classes = (StaffModelPermissions,)
    serializer_class = serializers.RedemptionSerializer
    filterset_class = RedemptionFilter
    queryset = Redemption.objects.none()  # for the model permission check

    def get_queryset(self) -> QuerySet[Redemption]:
        return selectors.redemption_list_for_user(user=self.request.user)


class RedeemApi(APIView):
    """Redeem a benefit for a customer; send the same `Idempotency-Key` when retrying."""

    permission_classes = (StaffModelPermissions,)
    queryset = Redemption.objects.none()  # POST needs benefits.add_redemption

    @extend_schema(
        request=serializers.RedeemInputSerializer,
        responses={
            201: serializers.RedemptionSerializer,
            403: OpenApiResponse(
                ErrorSerializer, description="Staff only, or the customer is not entitled."
            ),
            404: OpenApiResponse(
                ErrorSerializer,
                description="No such customer (or one outside your scope), or no such benefit.",
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description="The allowance is used up, or the Idempotency-Key was used for "
                "another redemption.",
            ),
        },
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IDEMPOTENCY_KEY_MAX,
                    "pattern": r"^\S(.*\S)?$",
                },
                OpenApiParameter.HEADER,
                required=True,
                description="Unique per attempted redemption; a retry with the same key "
                "returns the first result.",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key or len(key) > IDEMPOTENCY_KEY_MAX:
            raise ValidationError(
                {
                    IDEMPOTENCY_HEADER: _(
                        "This header is required: 1 to %(max)s characters, unique per redemption."
                    )
                    % {"max": IDEMPOTENCY_KEY_MAX}
                }
            )
        payload = serializers.RedeemInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        customer = _customer_for(request, payload.validated_data["customer_code"])
        redemption = benefit_redeem(
            customer_id=customer.pk,
            benefit_code=payload.validated_data["benefit_code"],
            idempotency_key=key,
            channel=Redemption.Channel.API,
            by=acting_user(request.user),
        )
        return Response(
            serializers.RedemptionSerializer(redemption).data, status=status.HTTP_201_CREATED
        )
