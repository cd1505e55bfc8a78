"""What people type is imported (issue #14, docs/importing.md): choice labels in English and
Chinese as well as codes, common date forms with an explicit day/month order, each bad
value reported with what is accepted, and templates with an example row and the allowed
values."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from customers.models import Customer, Order
from customers.services.imports import customer_import, order_import
from tests.customers.factories import CustomerFactory
from tests.customers.test_imports import rejected_errors, write_csv, write_xlsx

LOCAL = ZoneInfo(settings.TIME_ZONE)
HEADER = ["code", "name", "kind", "registered_at"]


def import_customers(path: Path, **kwargs):
    return customer_import(source=path, filename=path.name, **kwargs)


def registered(code: str) -> dt.date:
    return Customer.objects.get(code=code).registered_at.astimezone(LOCAL).date()


@pytest.mark.django_db
def test_a_kind_is_accepted_as_its_code_or_its_label_in_either_language(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        [
            ["code", "name", "kind"],
            ["C1", "One", "end_customer"],
            ["C2", "Two", "End customer"],
            ["C3", "Three", "终端客户"],
            ["C4", "Four", "  reseller  "],
            ["C5", "Five", "经销商"],
            ["C6", "Six", "CHANNEL AGENT"],
        ],
    )

    import_customers(path)

    kinds = dict(Customer.objects.values_list("code", "kind"))
    assert kinds == {
        "C1": "end_customer",
        "C2": "end_customer",
        "C3": "end_customer",
        "C4": "reseller",
        "C5": "reseller",
        "C6": "channel_agent",
    }


@pytest.mark.django_db
def test_a_bad_choice_is_reported_with_every_accepted_value(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        [["code", "name", "kind"], ["C1", "One", "reseller"], ["C2", "Two", "Endcustomer"]],
    )

    errors = rejected_errors(import_customers, path)

    assert errors == [
        "line 3, kind: 'Endcustomer' is not one of: channel_agent (Channel agent, 渠道代理商), "
        "reseller (Reseller, 经销商), end_customer (End customer, 终端客户)"
    ]
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_an_order_status_label_in_chinese_is_accepted(tmp_path):
    CustomerFactory(code="C1")
    with translation.override("zh-hans"):
        refunded = str(Order.Status.REFUNDED.label)
    path = write_csv(
        tmp_path / "o.csv",
        [
            ["order_no", "customer_code", "placed_at", "amount", "status"],
            ["O1", "C1", "2026/03/01 09:30", "10.00", refunded],
        ],
    )

    order_import(source=path, filename=path.name)

    order = Order.objects.get(order_no="O1")
    assert order.status == Order.Status.REFUNDED
    assert order.placed_at == dt.datetime(2026, 3, 1, 9, 30, tzinfo=LOCAL)


@pytest.mark.django_db
def test_dates_are_read_in_the_common_forms(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        [
            HEADER,
            ["C1", "ISO", "", "2026-10-01"],
            ["C2", "Slashes", "", "2026/10/02"],
            ["C3", "Short parts", "", "2026/1/3"],
            ["C4", "Chinese", "", "2026年10月4日"],
            ["C5", "Day first, unambiguous", "", "25/12/2026"],
            ["C6", "Same day and month", "", "05/05/2026"],
        ],
    )

    import_customers(path)

    assert [registered(f"C{i}") for i in range(1, 7)] == [
        dt.date(2026, 10, 1),
        dt.date(2026, 10, 2),
        dt.date(2026, 1, 3),
        dt.date(2026, 10, 4),
        dt.date(2026, 12, 25),
        dt.date(2026, 5, 5),
    ]


@pytest.mark.django_db
def test_an_excel_date_cell_is_a_date(tmp_path):
    path = write_xlsx(
        tmp_path / "c.xlsx",
        [
            HEADER,
            ["C1", "Cell", None, dt.datetime(2026, 10, 1)],
            ["C2", "Day", None, dt.date(2026, 2, 3)],
        ],
    )

    import_customers(path)

    assert registered("C1") == dt.date(2026, 10, 1)
    assert registered("C2") == dt.date(2026, 2, 3)


@pytest.mark.django_db
def test_an_ambiguous_date_is_refused_without_an_order_saying_how_to_choose(tmp_path):
    path = write_csv(tmp_path / "c.csv", [HEADER, ["C1", "One", "", "10/01/2026"]])

    errors = rejected_errors(import_customers, path)

    assert errors == [
        "line 2, registered_at: '10/01/2026' could be Jan. 10, 2026 or Oct. 1, 2026; choose the "
        "order of day and month (the import's date order option, or IMPORT_DATE_ORDER) or "
        "write YYYY-MM-DD"
    ]
    assert not Customer.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("order", "expected"), [("dmy", dt.date(2026, 1, 10)), ("mdy", dt.date(2026, 10, 1))]
)
def test_the_date_order_option_reads_day_and_month(tmp_path, order, expected):
    path = write_csv(tmp_path / "c.csv", [HEADER, ["C1", "One", "", "10/01/2026"]])

    import_customers(path, date_order=order)

    assert registered("C1") == expected


@pytest.mark.django_db
def test_the_date_order_setting_is_the_default_and_holds_every_row_to_it(tmp_path, settings):
    settings.IMPORT_DATE_ORDER = "mdy"
    path = write_csv(
        tmp_path / "c.csv",
        [HEADER, ["C1", "One", "", "10/01/2026"], ["C2", "Two", "", "25/12/2026"]],
    )

    errors = rejected_errors(import_customers, path)

    assert errors == [
        "line 3, registered_at: '25/12/2026' is not a date read as month/day/year (12/31/2026)"
    ]


@pytest.mark.django_db
def test_a_bad_date_lists_the_accepted_forms(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        [HEADER, ["C1", "One", "", "next Tuesday"], ["C2", "Two", "", "2026/02/30"]],
    )

    errors = rejected_errors(import_customers, path)

    assert errors[0].startswith(
        "line 2, registered_at: 'next Tuesday' is not a date or date-time; use "
    )
    assert "YYYY/MM/DD" in errors[0]
    assert "an Excel date cell" in errors[0]
    assert errors[1].startswith("line 3, registered_at: '2026/02/30' is not a date")


@pytest.mark.django_db
def test_the_import_command_takes_a_date_order(tmp_path):
    path = write_csv(tmp_path / "c.csv", [HEADER, ["C1", "One", "终端客户", "03/04/2026"]])

    call_command(
        "import_customers",
        str(path),
        "--date-order",
        "dmy",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )

    assert registered("C1") == dt.date(2026, 4, 3)


# --- the admin: option and template ------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_import_passes_the_date_order_from_preview_to_confirm(client, ops):
    client.force_login(ops)
    upload = SimpleUploadedFile(
        "c.csv", "code,name,kind,registered_at\nC1,One,终端客户,03/04/2026\n".encode(), "text/csv"
    )

    refused = client.post(
        reverse("admin:customers_customer_import"),
        {"file": SimpleUploadedFile("c.csv", upload.read(), "text/csv")},
    )
    upload.seek(0)
    preview = client.post(
        reverse("admin:customers_customer_import"), {"file": upload, "date_order": "dmy"}
    )
    token = preview.context["token"]
    client.post(reverse("admin:customers_customer_import_confirm"), {"token": token})

    assert "could be" in refused.content.decode()
    assert registered("C1") == dt.date(2026, 4, 3)
    assert Customer.objects.get(code="C1").kind == Customer.Kind.END_CUSTOMER


@pytest.mark.django_db
def test_the_xlsx_template_lists_the_allowed_values_in_both_languages_and_its_example_imports(
    client, ops, tmp_path
):
    client.force_login(ops)
    url = reverse("admin:customers_customer_import_template")

    workbook = load_workbook(io.BytesIO(client.get(url, {"format": "xlsx"}).content))
    chinese = load_workbook(
        io.BytesIO(client.get(url, {"format": "xlsx"}, HTTP_ACCEPT_LANGUAGE="zh-hans").content)
    )

    _data, allowed = workbook.worksheets
    assert allowed.title == "Allowed values"
    rows = [list(r) for r in allowed.iter_rows(values_only=True)]
    assert rows[0][:5] == [
        "column",
        "required",
        "value",
        "label (English)",
        "label (Simplified Chinese)",
    ]
    assert ["kind", "optional", "end_customer", "End customer", "终端客户"] in [r[:5] for r in rows]
    assert ["kind", "optional", "reseller", "Reseller", "经销商"] in [r[:5] for r in rows]
    assert [r[0] for r in rows[1:]].count("registered_at") == 1
    assert chinese.worksheets[1].title != "Allowed values"  # the sheet's name is translated
    # The example row imports as it is.
    path = tmp_path / "template.xlsx"
    workbook.save(path)
    report = import_customers(path)
    assert report.created == 1
    example = Customer.objects.get()
    assert (example.code, example.kind) == ("C-0001", Customer.Kind.CHANNEL_AGENT)
