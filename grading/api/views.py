"""Read endpoints of the grading app: grades, schemes, runs, snapshots, grade changes.

Customer-level rows are scoped to the caller (`customers.selectors.scope_for_user`): an
account manager lists and fetches only their own customers' rows; others are 404.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from rest_framework import generics

from common.api import IsStaff
from customers.selectors import scope_for_user
from grading.api import serializers
from grading.models import Grade, GradeChange, GradingRun, GradingScheme, ScoreSnapshot


class GradeListApi(generics.ListAPIView):
    permission_classes = (IsStaff,)
    serializer_class = serializers.GradeSerializer
    queryset = Grade.objects.order_by("-rank")
    pagination_class = None


class SchemeListApi(generics.ListAPIView):
    permission_classes = (IsStaff,)
    serializer_class = serializers.SchemeSerializer
    queryset = GradingScheme.objects.prefetch_related("ladder__grade").order_by("name", "-version")
    filterset_fields = ("status", "name")


class SchemeDetailApi(generics.RetrieveAPIView):
    permission_classes = (IsStaff,)
    serializer_class = serializers.SchemeSerializer
    queryset = GradingScheme.objects.prefetch_related("ladder__grade")


class RunFilter(django_filters.FilterSet):
    as_of_after = django_filters.DateFilter(field_name="as_of", lookup_expr="gte")
    as_of_before = django_filters.DateFilter(field_name="as_of", lookup_expr="lte")

    class Meta:
        model = GradingRun
        fields = ("status", "scheme", "as_of")


class RunListApi(generics.ListAPIView):
    permission_classes = (IsStaff,)
    serializer_class = serializers.RunSerializer
    queryset = GradingRun.objects.select_related("scheme").order_by("-as_of", "-id")
    filterset_class = RunFilter


class RunDetailApi(generics.RetrieveAPIView):
    permission_classes = (IsStaff,)
    serializer_class = serializers.RunSerializer
    queryset = GradingRun.objects.select_related("scheme")


class SnapshotFilter(django_filters.FilterSet):
    customer_code = django_filters.CharFilter(field_name="customer__code")
    as_of = django_filters.DateFilter(field_name="run__as_of")
    grade = django_filters.CharFilter(field_name="grade_after__code")

    class Meta:
        model = ScoreSnapshot
        fields = ("run", "rfm_label", "rfm_segment", "lifecycle", "pyramid", "action")


class SnapshotListApi(generics.ListAPIView):
    permission_classes = (IsStaff,)
    serializer_class = serializers.SnapshotSerializer
    filterset_class = SnapshotFilter

    def get_queryset(self) -> QuerySet[ScoreSnapshot]:
        queryset = ScoreSnapshot.objects.select_related(
            "customer", "run", "computed_grade", "grade_before", "grade_after"
        ).order_by("-run__as_of", "customer_id")
        return scope_for_user(queryset, user=self.request.user, customer_path="customer")


class GradeChangeFilter(django_filters.FilterSet):
    customer_code = django_filters.CharFilter(field_name="customer__code")

    class Meta:
        model = GradeChange
        fields = ("status", "direction", "source", "run")


class GradeChangeListApi(generics.ListAPIView):
    permission_classes = (IsStaff,)
    serializer_class = serializers.GradeChangeSerializer
    filterset_class = GradeChangeFilter

    def get_queryset(self) -> QuerySet[GradeChange]:
        queryset = GradeChange.objects.select_related(
            "customer", "from_grade", "to_grade", "decided_by"
        ).order_by("-created_at", "-id")
        return scope_for_user(queryset, user=self.request.user, customer_path="customer")


class GradeChangeDetailApi(generics.RetrieveAPIView):
    permission_classes = (IsStaff,)
    serializer_class = serializers.GradeChangeSerializer

    def get_queryset(self) -> QuerySet[GradeChange]:
        return GradeChangeListApi.get_queryset(self)  # type: ignore[arg-type]
