"""CSV downloads start with a UTF-8 byte-order mark, so Excel on a Chinese Windows reads
them as UTF-8 (issue #14, common/csv_files.py); the quality report of a sales-line import
here, the other downloads in their own tests (reports, the manager's queue, the customer
export, templates)."""

from __future__ import annotations

import codecs
import csv
import io

import pytest
from django.core import signing
from django.urls import reverse

from customers.admin_lines import _REPORT_SALT


@pytest.mark.django_db
def test_the_sales_line_quality_report_is_a_csv_with_a_bom(client, ops):
    client.force_login(ops)
    rows = [["anonymous_lines", "匿名明细行", "1"]]
    data = signing.dumps(rows, salt=_REPORT_SALT, compress=True)

    answer = client.get(reverse("admin:customers_sourcemapping_lines_report"), {"data": data})

    assert answer.status_code == 200
    assert answer.content.startswith(codecs.BOM_UTF8)
    table = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert table == [["key", "label", "value"], ["anonymous_lines", "匿名明细行", "1"]]
