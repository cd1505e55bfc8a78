"""Shapes of the customers API. Writes go through the import services (one validation, the
same messages as file imports), never through `serializer.save()`."""

from rest_framework import serializers

from customers.models import (
    CampaignInvitation,
    Complaint,
    Customer,
    Order,
    ProductReview,
    Referral,
    ServiceTicket,
)


class CustomerOutputSerializer(serializers.ModelSerializer):
    account_manager = serializers.CharField(source="account_manager.username", default=None)
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


class CustomerInputSerializer(serializers.Serializer):
    """One customer; the same columns as a customers import file."""

    code = serializers.CharField()
    name = serializers.CharField(required=False, allow_blank=True)
    kind = serializers.CharField(required=False, allow_blank=True)
    industry = serializers.CharField(required=False, allow_blank=True)
    email = serializers.CharField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True)
    registered_at = serializers.CharField(required=False, allow_blank=True)
    account_manager = serializers.CharField(required=False, allow_blank=True)


class OrderOutputSerializer(serializers.ModelSerializer):
    customer_code = serializers.CharField(source="customer.code")
    category = serializers.CharField(source="category.code", default=None)

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

    order_no = serializers.CharField()
    customer_code = serializers.CharField()
    placed_at = serializers.CharField()
    amount = serializers.CharField()
    category = serializers.CharField(required=False, allow_blank=True)
    status = serializers.CharField(required=False, allow_blank=True)
    profit = serializers.CharField(required=False, allow_blank=True)
    refunded_amount = serializers.CharField(required=False, allow_blank=True)


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

    rows = RowsField()
    create_missing_customers = serializers.BooleanField(required=False, default=False)
    dry_run = serializers.BooleanField(required=False, default=False)


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
    referred_code = serializers.CharField(source="referred.code", default=None)

    class Meta:
        model = Referral
        fields = ("id", "referrer_code", "referred_code", "referred_name", "created_at")
