"""Factories and builders for the appeals tests: a downgraded customer in a few rows."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from appeals.models import Appeal, FollowUp
from customers.models import CustomerAccount
from grading.models import CustomerGrade, GradeChange, GradingRun, ScoreSnapshot
from grading.pipeline import partitions
from tests.customers.factories import CustomerFactory, UserFactory
from tests.grading.factories import default_scheme, grade

PASSWORD = "pass-Word-123"


class CustomerAccountFactory(factory.django.DjangoModelFactory[CustomerAccount]):
    class Meta:
        model = CustomerAccount

    user = factory.SubFactory(UserFactory)
    customer = factory.SubFactory(CustomerFactory)


class FollowUpFactory(factory.django.DjangoModelFactory[FollowUp]):
    class Meta:
        model = FollowUp

    customer = factory.SubFactory(CustomerFactory)
    kind = FollowUp.Kind.CALL
    outcome = "Called, will order next week"


def run_for(as_of: dt.date) -> GradingRun:
    """A succeeded run of the default scheme dated `as_of`."""
    run, _ = GradingRun.objects.get_or_create(
        scheme=default_scheme(),
        as_of=as_of,
        defaults={"status": GradingRun.Status.SUCCEEDED, "finished_at": timezone.now()},
    )
    return run


def snapshot(customer, run, *, grade_code="growth", composite=50.0, action="keep", **values):
    """A score snapshot with plausible values (override any field)."""
    fields = {
        "recency_days": 40,
        "frequency": 6,
        "monetary": Decimal("2400.00"),
        "first_half_amount": Decimal("1200.00"),
        "second_half_amount": Decimal("1200.00"),
        "r_score": 3,
        "f_score": 3,
        "m_score": 3,
        "rfm_segment": "important_value",
        "rfm_label": "needs_attention",
        "lifecycle": "mature",
        "pyramid": "medium",
        "historical": 50.0,
        "potential": 50.0,
        "cooperation": 50.0,
        "composite": composite,
        "computed_grade": grade(grade_code),
        "grade_after": grade(grade_code),
        "action": action,
        "rule": "test",
        **values,
    }
    partitions.partition_ensure(run.pk)  # PostgreSQL: a run's snapshots live in its partition
    return ScoreSnapshot.objects.create(run=run, customer=customer, **fields)


def downgrade(
    customer,
    *,
    status: str = GradeChange.Status.APPLIED,
    from_code: str = "key",
    to_code: str = "growth",
    as_of: dt.date = dt.date(2026, 11, 1),
) -> GradeChange:
    """Give `customer` a downgrade from_code -> to_code made by the run of `as_of`."""
    run = run_for(as_of)
    held = to_code if status == GradeChange.Status.APPLIED else from_code
    CustomerGrade.objects.update_or_create(
        customer=customer,
        defaults={"grade": grade(held), "since": timezone.now(), "last_run": run},
    )
    previous = run_for(as_of.replace(day=1) - dt.timedelta(days=31))
    snapshot(customer, previous, grade_code=from_code, composite=60.0, action="keep")
    snapshot(
        customer,
        run,
        grade_code=held,
        composite=45.0,
        action="downgrade" if status == GradeChange.Status.APPLIED else "propose_downgrade",
        grade_before=grade(from_code),
    )
    return GradeChange.objects.create(
        customer=customer,
        run=run,
        from_grade=grade(from_code),
        to_grade=grade(to_code),
        direction=GradeChange.Direction.DOWN,
        status=status,
        source="run",
        rule="downgrade_after",
    )


def portal_customer(*, code: str, manager=None, status=GradeChange.Status.APPLIED):
    """A customer with a portal login and an appealable downgrade: (account, change)."""
    customer = CustomerFactory(code=code, name=f"Customer {code}", account_manager=manager)
    user = UserFactory(username=f"{code.lower()}@example.com", email=f"{code.lower()}@example.com")
    account = CustomerAccountFactory(user=user, customer=customer)
    return account, downgrade(customer, status=status)


def file_appeal(account, change, *, files=()) -> Appeal:
    from appeals.services import appeal_file

    return appeal_file(
        customer=account.customer,
        change_id=change.pk,
        reason="Our orders were delayed by your warehouse move.",
        files=list(files),
        by=account.user,
    )


# ------------------------------------------------------------------------ uploaded files


def pdf(name: str = "invoice.pdf", size: int = 0) -> SimpleUploadedFile:
    body = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    return SimpleUploadedFile(name, body + b"0" * max(0, size - len(body)), "application/pdf")


def png(name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")


def jpeg(name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32, "image/jpeg"
    )


def webp(name: str = "photo.webp") -> SimpleUploadedFile:
    body = b"VP8 " + (10).to_bytes(4, "little") + b"\x00" * 10
    return SimpleUploadedFile(
        name, b"RIFF" + len(b"WEBP" + body).to_bytes(4, "little") + b"WEBP" + body, "image/webp"
    )


def xlsx(name: str = "orders.xlsx") -> SimpleUploadedFile:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["order", "amount"])
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue(), "application/octet-stream")


def csv_file(name: str = "orders.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, "订单,金额\nA-1,300\n".encode(), "text/csv")


def exe_renamed(name: str = "invoice.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"MZ\x90\x00\x03" + b"\x00" * 200, "application/pdf")


def zip_archive(name: str = "documents.zip") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("invoice.pdf", b"%PDF-1.4 inside a zip")
    return SimpleUploadedFile(name, buffer.getvalue(), "application/pdf")
