"""Read endpoints of the grading app: grades, schemes, runs, snapshots, grade changes.

Customer-level rows are scoped to the caller (`customers.selectors.scope_for_user`): an
account manager lists and fetches only their own customers' rows; others are 404.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import generics

from common.api import CharFilter, DateFilter, FilterSet, IsStaff
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


class RunFilter(FilterSet):
    as_of_after = DateFilter(
        field_name="as_of", lookup_expr="gte", help_text="Runs as of this date or later."
    )
    as_of_before = DateFilter(
        field_name="as_of", lookup_expr="lte", help_text="Runs as of this date or earlier."
    )

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


class SnapshotFilter(FilterSet):
    customer_code = CharFilter(
        field_name="customer__code", help_text="Snapshots of the customer with this code."
    )
    as_of = DateFilter(field_name="run__as_of", help_text="Snapshots of the runs as of this date.")
    grade = CharFilter(field_name="grade_after__code", help_text="The grade after the run (code).")

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


class GradeChangeFilter(FilterSet):
    customer_code = CharFilter(
        field_name="customer__code", help_text="Changes of the customer with this code."
    )

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
