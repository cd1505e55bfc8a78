"""Table and column names of the models, for the pipeline's hand-written SQL."""

from __future__ import annotations

from django.db import models

from customers.models import (
    CampaignInvitation,
    Complaint,
    Customer,
    CustomerMonth,
    Order,
    PointsEntry,
    ProductReview,
    Referral,
    SalesLine,
)
from grading.models import (
    CustomerGrade,
    GradeAuditEntry,
    GradeChange,
    GradeOverride,
    ScoreSnapshot,
)


class Table:
    """A model's table: `str(table)` is its name, `table.c.<field>` a field's column.

    A foreign key's column is `<field>_id` (or its `db_column`), so `ORDER.c.customer` is
    `customer_id`. Names come from the model's `_meta`, so the SQL follows a renamed table or
    column; an unknown field name raises AttributeError. Names are not quoted: the models'
    are plain lowercase identifiers.
    """

    def __init__(self, model: type[models.Model]) -> None:
        self.name: str = model._meta.db_table
        self.c = _Columns(model)

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        return format(self.name, spec)


class _Columns:
    """`field name -> column name` of one model, as attributes (or `columns[name]`)."""

    def __init__(self, model: type[models.Model]) -> None:
        self._columns = {
            field.name: field.column
            for field in model._meta.concrete_fields
            if field.column is not None
        }
        self._model = model.__name__

    def __getattr__(self, field: str) -> str:
        try:
            return self._columns[field]
        except KeyError:
            raise AttributeError(f"{self._model} has no concrete field {field!r}") from None

    def __getitem__(self, field: str) -> str:
        return self.__getattr__(field)


# What the pipeline reads...
CUSTOMERS = Table(Customer)
ORDERS = Table(Order)
INVITATIONS = Table(CampaignInvitation)
REFERRALS = Table(Referral)
COMPLAINTS = Table(Complaint)
REVIEWS = Table(ProductReview)
POINTS = Table(PointsEntry)
SALES_LINES = Table(SalesLine)
MONTHS = Table(CustomerMonth)
OVERRIDES = Table(GradeOverride)
# ...and writes.
GRADE_STATES = Table(CustomerGrade)
SNAPSHOTS = Table(ScoreSnapshot)
CHANGES = Table(GradeChange)
AUDIT = Table(GradeAuditEntry)
