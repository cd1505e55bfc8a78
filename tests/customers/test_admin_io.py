"""Admin import (upload → dry-run preview → confirm) and customer export (issue 6, item 4).

Invariant 7 through the admin: a dry run with bad rows lists each one by line and column and
writes nothing; invariant 5: an account manager exports only their own customers; invariant
9: uploads are bounded, checked by content and kept privately under random names.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from openpyxl import load_workbook

from common.roles import OPERATIONS
from customers.models import Complaint, Customer, Order
from grading.customer_export import CUSTOMER_EXPORT_COLUMNS, csv_text, customer_export_rows
from grading.models import GradeOverride
from tests.customers.factories import CustomerFactory, UserFactory
from tests.grading.factories import (
    CustomerGradeFactory,
    GradingRunFactory,
    ScoreSnapshotFactory,
    at,
    grade,
)

# Lazy: the URLconf is loaded by the first test that needs it, not while collecting.
CUSTOMER_IMPORT = reverse_lazy("admin:customers_customer_import")
CUSTOMER_CONFIRM = reverse_lazy("admin:customers_customer_import_confirm")
CUSTOMER_CHANGELIST = reverse_lazy("admin:customers_customer_changelist")
CUSTOMER_EXPORT = reverse_lazy("admin:customers_customer_export")


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    """Uploads go to a fresh folder per test, so "nothing kept" can be checked."""
    root = tmp_path / "private"
    settings.PRIVATE_MEDIA_ROOT = str(root)
    return root


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def csv_upload(rows: list[list[str]], name: str = "customers.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


@pytest.fixture
def ops_client(client, ops):
    client.force_login(ops)
    return client


def preview(client: Client, upload: SimpleUploadedFile, url: Any = CUSTOMER_IMPORT, **data):
    return client.post(url, {"file": upload, **data})


# --- import: preview -------------------------------------------------------------------------


@pytest.mark.django_db
def test_dry_run_preview_lists_row_errors_by_line_and_column_and_writes_nothing(
    ops_client, private_root
):
    CustomerFactory(code="OLD-1", name="Old name")
    before = Customer.objects.count()
    upload = csv_upload(
        [
            ["code", "name", "email"],
            ["NEW-1", "Fine", "fine@example.com"],
            ["NEW-2", "Bad mail", "not-an-address"],
            ["OLD-1", "", ""],
        ]
    )

    page = preview(ops_client, upload)

    assert page.status_code == 200
    errors = [(e.line, e.field) for e in page.context["report"].errors]
    assert errors == [(3, "email"), (4, "name")]
    html = page.content.decode()
    assert "not-an-address" in html
    assert "is not a valid e-mail address" in html
    assert "<td>3</td><td>email</td>" in html
    assert "<td>4</td><td>name</td>" in html
    assert page.context["token"] is None
    assert 'name="confirm" value="Confirm import" disabled' in html
    # given, when, then: nothing written, nothing kept.
    assert Customer.objects.count() == before
    assert Customer.objects.get(code="OLD-1").name == "Old name"
    assert stored_files(private_root) == []


@pytest.mark.django_db
def test_preview_caps_the_error_list_and_gives_the_total(ops_client):
    rows = [["code", "name"]] + [[f"C{i}", ""] for i in range(250)]

    page = preview(ops_client, csv_upload(rows))

    assert len(page.context["errors"]) == 200
    assert page.context["more_errors"] == 50
    assert "… and 50 more errors not shown." in page.content.decode()
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_clean_file_previews_counts_and_first_rows_then_confirm_writes(
    ops_client, ops, private_root
):
    CustomerFactory(code="OLD-1", name="Old name")
    upload = csv_upload(
        [["code", "name"], ["NEW-1", "First"], ["NEW-2", "Second"], ["OLD-1", "Renamed"]]
    )

    page = preview(ops_client, upload)

    report = page.context["report"]
    assert (report.total_rows, report.created, report.updated, report.errors) == (3, 2, 1, [])
    assert page.context["header"] == ("code", "name")
    assert page.context["rows"][0] == (2, ["NEW-1", "First"])
    assert "Confirm import" in page.content.decode()
    assert Customer.objects.count() == 1  # a dry run only
    assert len(stored_files(private_root)) == 1

    done = ops_client.post(CUSTOMER_CONFIRM, {"token": page.context["token"]})

    assert done.status_code == 302
    assert done.url == CUSTOMER_CHANGELIST
    assert set(Customer.objects.values_list("code", "name")) == {
        ("OLD-1", "Renamed"),
        ("NEW-1", "First"),
        ("NEW-2", "Second"),
    }
    assert stored_files(private_root) == []
    entry = LogEntry.objects.get(action_flag=ADDITION)  # the import's own entry
    assert entry.user == ops
    assert "2 created, 1 updated" in entry.change_message
    renamed = LogEntry.objects.get(action_flag=CHANGE)  # the changed customer's history
    assert renamed.object_id == str(Customer.objects.get(code="OLD-1").pk)
    assert renamed.get_change_message() == "Changed name."
    listing = ops_client.get(done.url).content.decode()
    assert "Imported customers.csv: 3 rows, 2 created, 1 updated." in listing


@pytest.mark.django_db
def test_orders_import_carries_its_option_from_preview_to_confirm(ops_client):
    upload = csv_upload(
        [
            ["order_no", "customer_code", "placed_at", "amount"],
            ["O-1", "WALK-IN", "2026-03-01", "12.50"],
        ],
        name="orders.csv",
    )
    url = reverse("admin:customers_order_import")

    refused = preview(ops_client, upload, url)
    upload.seek(0)
    page = preview(ops_client, upload, url, create_missing_customers="on")
    done = ops_client.post(
        reverse("admin:customers_order_import_confirm"), {"token": page.context["token"]}
    )

    assert [e.field for e in refused.context["report"].errors] == ["customer_code"]
    assert done.status_code == 302
    assert Order.objects.get().customer.code == "WALK-IN"


@pytest.mark.django_db
def test_engagement_events_use_the_same_flow(ops_client):
    customer = CustomerFactory(code="C-1")
    upload = csv_upload(
        [["customer_code", "severity", "description"], ["C-1", "high", "Late again"]],
        name="complaints.csv",
    )

    page = preview(ops_client, upload, reverse("admin:customers_complaint_import"))
    assert page.context["report"].created == 1
    assert Complaint.objects.count() == 0
    ops_client.post(
        reverse("admin:customers_complaint_import_confirm"), {"token": page.context["token"]}
    )

    complaint = Complaint.objects.get()
    assert (complaint.customer, complaint.severity) == (customer, "high")


@pytest.mark.django_db
def test_confirm_rechecks_and_writes_nothing_when_the_data_changed(ops_client, private_root):
    upload = csv_upload(
        [["order_no", "customer_code", "placed_at", "amount"], ["O-1", "C-1", "2026-03-01", "5"]],
        name="orders.csv",
    )
    customer = CustomerFactory(code="C-1")
    page = preview(ops_client, upload, reverse("admin:customers_order_import"))
    customer.delete()  # meanwhile

    answer = ops_client.post(
        reverse("admin:customers_order_import_confirm"), {"token": page.context["token"]}
    )

    assert answer.status_code == 409
    assert [(e.line, e.field) for e in answer.context["report"].errors] == [(2, "customer_code")]
    assert "The data changed since the preview" in answer.content.decode()
    assert Order.objects.count() == 0
    assert stored_files(private_root) == []


# --- import: tokens --------------------------------------------------------------------------


def _clean_preview(client: Client) -> str:
    page = preview(client, csv_upload([["code", "name"], ["NEW-1", "First"]]))
    return page.context["token"]


@pytest.mark.django_db
def test_tampered_token_is_refused(ops_client):
    token = _clean_preview(ops_client)
    forged = token.replace(token[5], "A" if token[5] != "A" else "B", 1)

    answer = ops_client.post(CUSTOMER_CONFIRM, {"token": forged})

    assert answer.status_code == 400
    assert "not valid for you" in answer.content.decode()
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_another_users_token_is_refused(ops_client, client):
    token = _clean_preview(ops_client)
    other = UserFactory(
        username="oscar-ops", is_staff=True, groups=[Group.objects.get(name=OPERATIONS)]
    )
    other_client = Client()
    other_client.force_login(other)

    answer = other_client.post(CUSTOMER_CONFIRM, {"token": token})

    assert answer.status_code == 400
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_token_of_another_import_kind_is_refused(ops_client):
    token = _clean_preview(ops_client)

    answer = ops_client.post(reverse("admin:customers_order_import_confirm"), {"token": token})

    assert answer.status_code == 400
    assert Customer.objects.count() == Order.objects.count() == 0


@pytest.mark.django_db
def test_expired_token_is_refused(ops_client):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        token = _clean_preview(ops_client)
        traveller.shift(dt.timedelta(hours=1, seconds=1))

        answer = ops_client.post(CUSTOMER_CONFIRM, {"token": token})

    assert answer.status_code == 400
    assert "expired" in answer.content.decode()
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_a_token_imports_once(ops_client):
    token = _clean_preview(ops_client)

    first = ops_client.post(CUSTOMER_CONFIRM, {"token": token})
    second = ops_client.post(CUSTOMER_CONFIRM, {"token": token})

    assert first.status_code == 302
    assert second.status_code == 400
    assert "already used" in second.content.decode()
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_stale_uploads_are_swept_on_the_next_upload(ops_client, private_root):
    _clean_preview(ops_client)
    (old,) = stored_files(private_root)
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))

    _clean_preview(ops_client)

    assert old not in stored_files(private_root)
    assert len(stored_files(private_root)) == 1


# --- import: upload checks and permissions ----------------------------------------------------


@pytest.mark.django_db
def test_oversized_upload_is_refused_with_the_limit(ops_client, settings, private_root):
    settings.IMPORT_MAX_UPLOAD_BYTES = 64
    upload = csv_upload([["code", "name"]] + [[f"C{i}", "A name"] for i in range(20)])

    answer = preview(ops_client, upload)

    assert answer.status_code == 400
    assert "“customers.csv” is too large; the limit is 64\xa0bytes." in answer.content.decode()
    assert stored_files(private_root) == []
    assert Customer.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("customers.txt", b"code,name\nC1,A\n", "unsupported file type &#x27;.txt&#x27;"),
        ("customers.xlsx", b"code,name\nC1,A\n", "the file is not a valid XLSX workbook"),
        ("customers.csv", b"MZ\x90\x00\x03\xff\xfe\x00\x00", "the file is not UTF-8 text"),
        ("customers.csv", b"", "The submitted file is empty."),
    ],
)
def test_wrong_type_upload_is_refused_by_name_and_content(
    ops_client, private_root, name, content, message
):
    answer = preview(ops_client, SimpleUploadedFile(name, content))

    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert stored_files(private_root) == []
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_upload_still_checks_csrf(ops):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ops)

    answer = preview(client, csv_upload([["code", "name"], ["C1", "A"]]))

    assert answer.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url_name",
    [
        "customer_import",
        "customer_import_confirm",
        "customer_import_template",
        "order_import",
        "serviceticket_import",
    ],
)
def test_account_manager_cannot_import(client, alice, url_name):
    url = reverse(f"admin:customers_{url_name}")
    client.force_login(alice)

    assert client.get(url).status_code in (403, 405)
    answer = client.post(url, {"file": csv_upload([["code", "name"], ["C1", "A"]]), "token": "x"})

    assert answer.status_code == 403
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_changelists_show_import_buttons_to_ops_only(client, ops, alice):
    client.force_login(ops)
    ops_page = client.get(reverse("admin:customers_referral_changelist")).content.decode()
    client.force_login(alice)
    manager_page = client.get(CUSTOMER_CHANGELIST).content.decode()

    assert reverse("admin:customers_referral_import") in ops_page
    assert str(CUSTOMER_IMPORT) not in manager_page
    assert str(CUSTOMER_EXPORT) in manager_page  # managers may export their own customers


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("admin_name", "header"),
    [
        ("customer", "code,name,kind,industry,email,phone,registered_at,account_manager"),
        ("order", "order_no,customer_code,placed_at,amount,category,status,profit,refunded_amount"),
        ("campaigninvitation", "customer_code,campaign,invited_at,joined_at"),
    ],
)
def test_download_template_gives_the_header_row_and_an_example(ops_client, admin_name, header):
    url = reverse(f"admin:customers_{admin_name}_import_template")

    csv_file = ops_client.get(url)
    xlsx_file = ops_client.get(url, {"format": "xlsx"})

    assert csv_file.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    lines = csv_file.content.decode("utf-8-sig").splitlines()
    assert lines[0] == header
    assert len(lines) == 2  # one example row
    sheets = load_workbook(io.BytesIO(xlsx_file.content)).worksheets
    rows = [list(r) for r in sheets[0].iter_rows(values_only=True)]
    assert rows[0] == header.split(",")
    assert len(rows) == 2
    assert [sheet.title for sheet in sheets] == [sheets[0].title, "Allowed values"]


# --- export ------------------------------------------------------------------------------------


@pytest.fixture
def graded(alice, bob):
    """Three customers: pinned with fresh scores, graded but not in the latest run, bare."""
    old_run = GradingRunFactory(as_of=dt.date(2026, 1, 1))
    latest = GradingRunFactory(as_of=dt.date(2026, 2, 1))
    pinned = CustomerFactory(
        code="A-1",
        name="=Acme",
        account_manager=alice,
        phone="+86 21 5555 0100",
        registered_at=at(dt.date(2024, 3, 1), 9) + dt.timedelta(microseconds=250),
    )
    CustomerGradeFactory(customer=pinned, grade=grade("key"), since=at(dt.date(2026, 1, 5), 9))
    GradeOverride.objects.create(customer=pinned, grade=grade("key"), reason="Strategic")
    GradeOverride.objects.create(
        customer=pinned, grade=grade("growth"), reason="Old", ended_at=timezone.now()
    )
    ScoreSnapshotFactory(run=old_run, customer=pinned, composite=10.0)
    ScoreSnapshotFactory(run=latest, customer=pinned)
    stale = CustomerFactory(
        code="B-1",
        name="Beta",
        kind="reseller",
        account_manager=bob,
        registered_at=at(dt.date(2024, 5, 2), 0),
    )
    CustomerGradeFactory(customer=stale, grade=grade("growth"), since=at(dt.date(2025, 7, 1), 0))
    ScoreSnapshotFactory(run=old_run, customer=stale)
    CustomerFactory(
        code="C-1", name="Gamma", industry="", email="", registered_at=at(dt.date(2025, 1, 3), 8)
    )
    return latest


EXPECTED_CSV = [
    list(CUSTOMER_EXPORT_COLUMNS),
    [
        "A-1",
        "'=Acme",
        "end_customer",
        "retail",
        "a-1@example.com",
        "'+86 21 5555 0100",
        "2024-03-01 09:00:00+08:00",
        "alice-am",
        "key",
        "Key",
        "2026-01-05 09:00:00+08:00",
        "true",
        "manual",
        "2026-02-01",
        "95",
        "8",
        "2400.00",
        "3",
        "4",
        "2",
        "important_develop",
        "needs_attention",
        "mature",
        "medium",
        "50.0000",
        "49.8700",
        "61.2300",
        "51.2345",
    ],
    [
        "B-1",
        "Beta",
        "reseller",
        "retail",
        "b-1@example.com",
        "",
        "2024-05-02 00:00:00+08:00",
        "bob-am",
        "growth",
        "Growth",
        "2025-07-01 00:00:00+08:00",
        "false",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
    [
        "C-1",
        "Gamma",
        "end_customer",
        "",
        "",
        "",
        "2025-01-03 08:00:00+08:00",
        "",
        "",
        "",
        "",
        "false",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
]


def read_csv(response) -> list[list[str]]:
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM Excel needs
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.mark.django_db
def test_export_csv_gives_grade_and_latest_scores_per_customer(ops_client, graded, settings):
    assert settings.TIME_ZONE == "Asia/Shanghai"  # the offsets below

    answer = ops_client.get(CUSTOMER_EXPORT, {"format": "csv"})

    assert answer.status_code == 200
    assert answer.streaming
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in answer["Content-Disposition"]
    assert read_csv(answer) == EXPECTED_CSV


@pytest.mark.django_db
def test_export_xlsx_has_the_same_rows(ops_client, ops, graded):
    answer = ops_client.get(CUSTOMER_EXPORT, {"format": "xlsx"})

    workbook = load_workbook(io.BytesIO(b"".join(answer.streaming_content)), read_only=True)
    width = len(CUSTOMER_EXPORT_COLUMNS)  # read-only mode drops trailing blank cells
    rows = [
        [*row, *[None] * (width - len(row))]
        for row in workbook.worksheets[0].iter_rows(values_only=True)
    ]

    # The service's typed rows are the CSV's rows, cell for cell ...
    typed = list(customer_export_rows(user=ops))
    assert [[csv_text(value) for value in row] for row in typed] == EXPECTED_CSV[1:]

    # ... and the workbook's, as a spreadsheet stores them (local times, numbers, blanks).
    def in_sheet(value):
        if isinstance(value, dt.datetime):
            return timezone.make_naive(value)
        if isinstance(value, dt.date):
            return dt.datetime.combine(value, dt.time())
        if isinstance(value, str):  # formulas neutralised as in the CSV; blanks are empty
            return csv_text(value) or None
        return value

    assert rows[0] == list(CUSTOMER_EXPORT_COLUMNS)
    assert rows[1:] == [[in_sheet(value) for value in row] for row in typed]
    assert rows[1][:14] == [
        "A-1", "'=Acme", "end_customer", "retail", "a-1@example.com", "'+86 21 5555 0100",
        dt.datetime(2024, 3, 1, 9, 0), "alice-am", "key", "Key",
        dt.datetime(2026, 1, 5, 9, 0), True, "manual", dt.datetime(2026, 2, 1),
    ]  # fmt: skip
    assert rows[1][14:20] == [95, 8, 2400, 3, 4, 2]
    assert rows[1][24:] == [50, 49.87, 61.23, 51.2345]  # the CSV's 4 decimals, not rounded to 2


@pytest.mark.django_db
def test_manager_exports_only_their_own_customers(client, alice, graded):
    bobs = Customer.objects.get(code="B-1")
    Customer.objects.values_list("pk", flat=True)
    client.force_login(alice)

    everything = client.get(CUSTOMER_EXPORT, {"format": "csv"})
    by_action = client.post(
        CUSTOMER_CHANGELIST,
        {
            "action": "export_csv",
            "_selected_action": [bobs.pk, *Customer.objects.values_list("pk", flat=True)],
        },
    )
    xlsx = client.get(CUSTOMER_EXPORT, {"format": "xlsx"})

    assert [row[0] for row in read_csv(everything)[1:]] == ["A-1"]
    assert [row[0] for row in read_csv(by_action)[1:]] == ["A-1"]
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).worksheets[0]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["A-1"]


@pytest.mark.django_db
def test_export_action_exports_the_filtered_changelist(ops_client, graded):
    selected = ops_client.post(
        f"{CUSTOMER_CHANGELIST}?kind__exact=end_customer",
        {"action": "export_csv", "select_across": "1", "index": "0", "_selected_action": ["0"]},
    )
    searched = ops_client.post(
        f"{CUSTOMER_CHANGELIST}?q=Beta",
        {"action": "export_csv", "select_across": "1", "index": "0", "_selected_action": ["0"]},
    )

    assert [row[0] for row in read_csv(selected)[1:]] == ["A-1", "C-1"]
    assert [row[0] for row in read_csv(searched)[1:]] == ["B-1"]


@pytest.mark.django_db
def test_export_without_any_run_leaves_scores_empty(ops_client):
    CustomerFactory(code="Z-1", name="Zed")

    rows = read_csv(ops_client.get(CUSTOMER_EXPORT))

    assert rows[1][:4] == ["Z-1", "Zed", "end_customer", "retail"]
    assert rows[1][13:] == [""] * 15


@pytest.mark.django_db
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_export_query_count_does_not_grow_with_rows(
    ops_client, file_format, django_assert_num_queries, django_assert_max_num_queries
):
    run = GradingRunFactory(as_of=dt.date(2026, 2, 1))

    def add(n: int) -> None:
        for _ in range(n):
            customer = CustomerFactory()
            CustomerGradeFactory(customer=customer)
            ScoreSnapshotFactory(run=run, customer=customer)

    def export() -> int:
        answer = ops_client.get(CUSTOMER_EXPORT, {"format": file_format})
        return len(b"".join(answer.streaming_content))

    add(2)
    export()  # warm caches (content types, permissions)
    with django_assert_max_num_queries(20) as small:
        export()
    add(20)
    with django_assert_num_queries(len(small.captured_queries)):
        assert export() > 0
