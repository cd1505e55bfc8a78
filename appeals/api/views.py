"""Appeals over REST, read-only: list and detail, scoped to the caller.

Appeals are filed by customers in the portal and decided by operations in the admin
(docs/architecture.md, "Interfaces"); the API lets the systems around TierHub follow them.
An account manager sees only their own customers' appeals; any other id is 404, like a
missing one.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from rest_framework import generics

from appeals.api import serializers
from appeals.models import Appeal, AppealEvent
from appeals.selectors import appeal_list_for_user
from common.api import CharFilter, DateTimeFilter, FilterSet, IsStaff


class AppealFilter(FilterSet):
    customer_code = CharFilter(
        field_name="customer__code", help_text="Appeals of the customer with this code."
    )
    filed_after = DateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Filed at or after this moment."
    )
    filed_before = DateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Filed before this moment."
    )
    decided_after = DateTimeFilter(
        field_name="decided_at", lookup_expr="gte", help_text="Decided at or after this moment."
    )
    decided_before = DateTimeFilter(
        field_name="decided_at", lookup_expr="lt", help_text="Decided before this moment."
    )

    class Meta:
        model = Appeal
        fields = ("status", "change")


class AppealListApi(generics.ListAPIView):
    """List the appeals of customers you may see, newest first."""

    permission_classes = (IsStaff,)
    serializer_class = serializers.AppealSerializer
    filterset_class = AppealFilter

    def get_queryset(self) -> QuerySet[Appeal]:
        return appeal_list_for_user(user=self.request.user).order_by("-created_at", "-id")


class AppealDetailApi(generics.RetrieveAPIView):
    """One appeal with its status history."""

    permission_classes = (IsStaff,)
    serializer_class = serializers.AppealDetailSerializer

    def get_queryset(self) -> QuerySet[Appeal]:
        events = AppealEvent.objects.select_related("actor").order_by("at", "id")
        return appeal_list_for_user(user=self.request.user).prefetch_related(
            Prefetch("events", queryset=events)
        )
