"""Output shapes of the grading API (read-only: grades change through services)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import serializers

from grading.models import (
    Grade,
    GradeChange,
    GradingRun,
    GradingScheme,
    SchemeGrade,
    ScoreSnapshot,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class GradeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Grade
        fields = ("code", "name", "rank", "description", "service_level", "first_response_minutes")


class LadderRungSerializer(serializers.ModelSerializer):
    grade: serializers.SlugRelatedField[Grade] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = SchemeGrade
        fields = (
            "grade",
            "min_score",
            "min_frequency",
            "min_monetary",
            "hysteresis",
            "cadence",
            "warn_after",
            "downgrade_after",
            "downgrade_needs_review",
        )


class SchemeSerializer(serializers.ModelSerializer):
    ladder = LadderRungSerializer(many=True, read_only=True)

    class Meta:
        model = GradingScheme
        exclude = ("created_by", "based_on")


class RunSerializer(serializers.ModelSerializer):
    scheme: serializers.StringRelatedField[GradingScheme] = serializers.StringRelatedField()

    class Meta:
        model = GradingRun
        exclude = ("population_cuts",)


class SnapshotSerializer(serializers.ModelSerializer):
    customer_code = serializers.CharField(source="customer.code", read_only=True)
    as_of = serializers.DateField(source="run.as_of", read_only=True)
    computed_grade: serializers.SlugRelatedField[Grade] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    grade_before: serializers.SlugRelatedField[Grade] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    grade_after: serializers.SlugRelatedField[Grade] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = ScoreSnapshot
        exclude = ("customer",)


class GradeChangeSerializer(serializers.ModelSerializer):
    customer_code = serializers.CharField(source="customer.code", read_only=True)
    from_grade: serializers.SlugRelatedField[Grade] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text="Null: a first grade."
    )
    to_grade: serializers.SlugRelatedField[Grade] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    decided_by: serializers.StringRelatedField[User] = serializers.StringRelatedField(
        allow_null=True, help_text="Null until decided, or decided by the system."
    )

    class Meta:
        model = GradeChange
        exclude = ("customer", "created_by")
