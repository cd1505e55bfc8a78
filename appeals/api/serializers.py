"""Output shapes of the appeals API (read-only: appeals are filed in the portal and decided
in the admin, through `appeals.services`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import serializers

from appeals.models import Appeal, AppealEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from grading.models import Grade


class AppealEventSerializer(serializers.ModelSerializer):
    actor: serializers.StringRelatedField[User] = serializers.StringRelatedField(
        allow_null=True, help_text="Null: the system."
    )

    class Meta:
        model = AppealEvent
        fields = ("from_status", "to_status", "actor", "note", "at")


class AppealSerializer(serializers.ModelSerializer):
    customer_code = serializers.CharField(source="customer.code", read_only=True)
    change = serializers.IntegerField(source="change_id", read_only=True)
    change_status = serializers.CharField(source="change.status", read_only=True)
    from_grade: serializers.SlugRelatedField[Grade] = serializers.SlugRelatedField(
        source="change.from_grade", slug_field="code", read_only=True, allow_null=True
    )
    to_grade: serializers.SlugRelatedField[Grade] = serializers.SlugRelatedField(
        source="change.to_grade", slug_field="code", read_only=True
    )
    decided_by: serializers.StringRelatedField[User] = serializers.StringRelatedField(
        allow_null=True, help_text="Null until the appeal is decided."
    )
    evidence_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Appeal
        fields: tuple[str, ...] = (
            "id",
            "customer_code",
            "change",
            "change_status",
            "from_grade",
            "to_grade",
            "status",
            "reason",
            "ops_note",
            "evidence_count",
            "created_at",
            "decided_at",
            "decided_by",
        )


class AppealDetailSerializer(AppealSerializer):
    """One appeal with its audit trail, oldest event first."""

    events = AppealEventSerializer(many=True, read_only=True)

    class Meta(AppealSerializer.Meta):
        fields = (*AppealSerializer.Meta.fields, "events")
