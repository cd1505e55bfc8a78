"""Shapes of the benefits API. Serializers check input shape and format output only: a
redemption is written by `benefits.services.redemptions.benefit_redeem`, never `.save()`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import serializers

from benefits.models import Benefit, Redemption

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from grading.models import Grade


class BenefitSerializer(serializers.ModelSerializer):
    grades: serializers.SlugRelatedField[Grade] = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True
    )

    class Meta:
        model = Benefit
        fields = (
            "code",
            "name",
            "kind",
            "value",
            "valid_from",
            "valid_until",
            "allowance",
            "period",
            "cost_per_use",
            "is_active",
            "description",
            "grades",
        )


class EntitlementSerializer(serializers.Serializer):
    benefit = serializers.CharField(source="benefit.code")
    name = serializers.CharField(source="benefit.name")
    kind = serializers.CharField(source="benefit.kind")
    value = serializers.DecimalField(source="benefit.value", max_digits=12, decimal_places=2)
    allowance = serializers.IntegerField(source="benefit.allowance")
    period = serializers.CharField(source="benefit.period")
    period_key = serializers.CharField()
    used = serializers.IntegerField()
    remaining = serializers.IntegerField()
    valid_until = serializers.DateField(source="benefit.valid_until", allow_null=True)


class CustomerEntitlementsSerializer(serializers.Serializer):
    customer_code = serializers.CharField()
    grade = serializers.CharField(allow_null=True)
    entitlements = EntitlementSerializer(many=True)


class RedemptionSerializer(serializers.ModelSerializer):
    customer_code = serializers.CharField(source="customer.code", read_only=True)
    benefit_code = serializers.CharField(source="benefit.code", read_only=True)
    benefit_name = serializers.CharField(source="benefit.name", read_only=True)
    grade: serializers.SlugRelatedField[Grade] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    redeemed_by: serializers.StringRelatedField[User] = serializers.StringRelatedField(
        allow_null=True, help_text="Null: redeemed by the customer or the system."
    )

    class Meta:
        model = Redemption
        fields = (
            "id",
            "customer_code",
            "benefit_code",
            "benefit_name",
            "grade",
            "period_key",
            "slot",
            "channel",
            "cost",
            "redeemed_at",
            "redeemed_by",
        )


class RedeemInputSerializer(serializers.Serializer):
    customer_code = serializers.CharField(max_length=64)
    benefit_code = serializers.CharField(max_length=64)
