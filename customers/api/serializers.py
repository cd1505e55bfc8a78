"""Shapes of the customers API. Writes go through the import services (one validation, the
same messages as file imports), never through `serializer.save()`."""

from typing import Any

from django.db.models import Field, Model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.api import StrictBooleanField, StrictCharField
from customers.models import (
    CampaignInvitation,
    Category,
    Complaint,
    Customer,
    Order,
    ProductReview,
    Referral,
    ServiceTicket,
)


class CustomerOutputSerializer(serializers.ModelSerializer):
    account_manager = serializers.CharField(
        source="account_manager.username", default=None, allow_null=True
    )
    grade = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = (
            "code",
            "name",
            "kind",
            "industry",
            "email",
            "phone",
            "registered_at",
            "account_manager",
            "is_active",
            "grade",
        )

    def get_grade(self, obj: Customer) -> str | None:
        # grade_state and its grade are joined by the selector: no query here.
        state = getattr(obj, "grade_state", None)
        return state.grade.code if state else None


_MOMENT_HELP = (
    "YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] or ISO 8601 with an offset; without an offset, in the "
    "project's time zone."
)


def _text(model: type[Model], column: str, *, required: bool = False, **kwargs: Any) -> Any:
    """A JSON string as long as the model column allows; optional ones may be blank."""
    field = model._meta.get_field(column)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{column} is not a concrete field")
    if not required:
        kwargs.update(required=False, allow_blank=True)
    return StrictCharField(max_length=field.max_length, **kwargs)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": r"^[+-]?(\d+(\.\d*)?|\.\d+)$"},
            {"type": "number"},
        ]
    }
)
class AmountField(serializers.CharField):
    """A money amount as a decimal string ("120.50") or a JSON number; at most 2 decimals."""


class CustomerInputSerializer(serializers.Serializer):
    """One customer; the same columns as a customers import file."""

    code = _text(Customer, "code", required=True)
    name = _text(Customer, "name")
    kind = StrictCharField(
        required=False,
        allow_blank=True,
        help_text="One of: " + ", ".join(Customer.Kind.values) + " (any case).",
    )
    industry = _text(Customer, "industry")
    email = _text(Customer, "email")
    phone = _text(Customer, "phone")
    registered_at = StrictCharField(required=False, allow_blank=True, help_text=_MOMENT_HELP)
    account_manager = StrictCharField(
        required=False,
        allow_blank=True,
        help_text="The username or e-mail of an active staff user.",
    )


class OrderOutputSerializer(serializers.ModelSerializer):
    customer_code = serializers.CharField(source="customer.code")
    category = serializers.CharField(source="category.code", default=None, allow_null=True)

    class Meta:
        model = Order
        fields = (
            "order_no",
            "customer_code",
            "placed_at",
            "amount",
            "refunded_amount",
            "profit",
            "category",
            "status",
            "on_time",
        )


class OrderInputSerializer(serializers.Serializer):
    """One order; the same columns as an orders import file."""

    order_no = _text(Order, "order_no", required=True)
    customer_code = StrictCharField(
        max_length=Customer._meta.get_field("code").max_length,
        help_text="The code of an existing customer.",
    )
    placed_at = StrictCharField(
        help_text=_MOMENT_HELP
        + " At most ORDER_FUTURE_TOLERANCE_HOURS (default 24) hours after now."
    )
    amount = AmountField(help_text="Not negative, at most 2 decimals.")
    category = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=Category._meta.get_field("code").max_length,
        help_text="A category code; a new one is created.",
    )
    status = StrictCharField(
        required=False,
        allow_blank=True,
        help_text="One of: " + ", ".join(Order.Status.values) + " (any case); default paid.",
    )
    profit = AmountField(required=False, allow_blank=True, help_text="May be negative (a loss).")
    refunded_amount = AmountField(
        required=False, allow_blank=True, help_text="At most the amount; default 0."
    )


class RowsField(serializers.ListField):
    """A list of JSON objects, checked for shape only (the import service validates values).

    DRF's per-item DictField validation costs more than the import itself at 100k rows, so
    the items are only checked to be objects here.
    """

    child = serializers.DictField()
    max_rows = 100_000

    def to_internal_value(self, data: object) -> list[dict[str, object]]:
        if not isinstance(data, list) or not data:
            raise serializers.ValidationError("Expected a non-empty list of objects.")
        if len(data) > self.max_rows:
            raise serializers.ValidationError(
                f"At most {self.max_rows} rows per request; split the batch."
            )
        for position, item in enumerate(data, start=1):
            if not isinstance(item, dict):
                raise serializers.ValidationError(f"Row {position} is not an object.")
        return data


class BulkInputSerializer(serializers.Serializer):
    """A batch: `rows` is a list of objects with the columns of the matching import file."""

    rows = RowsField(
        min_length=1,
        max_length=RowsField.max_rows,
        help_text="Objects of column: value, the columns of the matching import file; "
        "values are strings (numbers are taken as typed). Every bad row is reported.",
    )
    create_missing_customers = StrictBooleanField(
        required=False,
        default=False,
        help_text="Orders: create a bare customer for each unknown customer_code.",
    )
    dry_run = StrictBooleanField(
        required=False, default=False, help_text="Validate everything, write nothing."
    )


class ImportResultSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    dry_run = serializers.BooleanField()


class _EventOutput(serializers.ModelSerializer):
    customer_code = serializers.CharField(source="customer.code")


class ComplaintOutputSerializer(_EventOutput):
    class Meta:
        model = Complaint
        fields = ("id", "customer_code", "severity", "description", "created_at", "resolved_at")


class ReviewOutputSerializer(_EventOutput):
    class Meta:
        model = ProductReview
        fields = ("id", "customer_code", "rating", "text", "created_at")


class TicketOutputSerializer(_EventOutput):
    class Meta:
        model = ServiceTicket
        fields = (
            "id",
            "customer_code",
            "subject",
            "priority",
            "opened_at",
            "first_response_at",
            "closed_at",
        )


class InvitationOutputSerializer(_EventOutput):
    campaign = serializers.CharField(source="campaign.code")

    class Meta:
        model = CampaignInvitation
        fields = ("id", "customer_code", "campaign", "invited_at", "joined_at")


class ReferralOutputSerializer(serializers.ModelSerializer):
    referrer_code = serializers.CharField(source="referrer.code")
    referred_code = serializers.CharField(source="referred.code", default=None, allow_null=True)

    class Meta:
        model = Referral
        fields = ("id", "referrer_code", "referred_code", "referred_name", "created_at")
