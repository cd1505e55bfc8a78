"""A customer export re-imports unchanged (issue #14, docs/importing.md): the same column
names as the import, every importable field; re-importing changes nothing; editing one cell
changes exactly that field of that customer, with an entry in its admin history."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.forms.models import model_to_dict
from openpyxl import load_workbook

from customers.models import Customer
from customers.services.imports import CUSTOMER_OPTIONAL, CUSTOMER_REQUIRED, customer_import
from grading.customer_export import CUSTOMER_EXPORT_COLUMNS
from tests.customers.test_admin_io import CUSTOMER_EXPORT, graded  # noqa: F401 (a fixture)


def _state() -> dict[str, dict]:
    return {c.code: model_to_dict(c) | {"updated_at": c.updated_at} for c in Customer.objects.all()}


def _export(client, ops, file_format: str) -> bytes:
    client.force_login(ops)
    return b"".join(client.get(CUSTOMER_EXPORT, {"format": file_format}).streaming_content)


def _reimport(content: bytes, file_format: str, by):
    return customer_import(source=io.BytesIO(content), filename=f"customers.{file_format}", by=by)


def test_the_export_has_every_importable_column_under_the_imports_names():
    assert CUSTOMER_EXPORT_COLUMNS[:8] == (*CUSTOMER_REQUIRED, *CUSTOMER_OPTIONAL)


@pytest.mark.django_db
@pytest.mark.usefixtures("graded")
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_re_importing_an_export_changes_nothing(client, ops, file_format):
    before = _state()

    report = _reimport(_export(client, ops, file_format), file_format, ops)

    assert (report.total_rows, report.created, report.updated) == (3, 0, 0)
    assert _state() == before
    assert not LogEntry.objects.filter(action_flag=CHANGE).exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("graded")
def test_editing_one_cell_changes_exactly_that_field_with_a_history_entry(client, ops):
    rows = list(csv.reader(io.StringIO(_export(client, ops, "csv").decode("utf-8-sig"))))
    header = rows[0]
    beta = next(row for row in rows if row[0] == "B-1")
    beta[header.index("phone")] = "010 6666 0200"
    edited = io.StringIO()
    csv.writer(edited).writerows(rows)
    before = _state()

    report = _reimport(edited.getvalue().encode("utf-8-sig"), "csv", ops)

    after = _state()
    assert report.updated == 1
    assert {code for code in after if after[code] != before[code]} == {"B-1"}
    changed = {k for k in after["B-1"] if after["B-1"][k] != before["B-1"][k]}
    assert changed == {"phone", "updated_at"}
    assert after["B-1"]["phone"] == "010 6666 0200"
    entry = LogEntry.objects.get(action_flag=CHANGE)
    assert (entry.object_id, entry.user_id) == (str(Customer.objects.get(code="B-1").pk), ops.pk)
    assert entry.get_change_message() == "Changed phone."


@pytest.mark.django_db
@pytest.mark.usefixtures("graded")
def test_an_edited_xlsx_export_changes_only_the_edited_cell(client, ops):
    workbook = load_workbook(io.BytesIO(_export(client, ops, "xlsx")))
    sheet = workbook.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == "A-1":
            row[header.index("kind")].value = "经销商"  # the Chinese label of "reseller"
    edited = io.BytesIO()
    workbook.save(edited)
    before = _state()

    report = _reimport(edited.getvalue(), "xlsx", ops)

    after = _state()
    assert report.updated == 1
    assert {code for code in after if after[code] != before[code]} == {"A-1"}
    assert after["A-1"]["kind"] == Customer.Kind.RESELLER
    assert after["A-1"]["name"] == "=Acme"  # the export's formula guard is not imported
