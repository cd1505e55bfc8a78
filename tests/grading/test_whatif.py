"""What-if under a draft: the effect on the reports (distribution, revenue and profit share,
repurchase with the inversion alarm), computed by hand; nothing is written."""

import datetime as dt
import io
from decimal import Decimal
from functools import partial

import openpyxl
import pytest

from grading.models import CustomerGrade, GradeChange, GradingRun, SchemeGrade, ScoreSnapshot
from grading.services.runs import grading_run_execute
from grading.whatif import scheme_what_if
from tests.customers.factories import CustomerFactory
from tests.grading.factories import buyer

AS_OF = dt.date(2026, 4, 1)


_buy = partial(buyer, as_of=AS_OF)


@pytest.fixture
def graded(scheme):
    """Key: BIG1, BIG2 (one-off, H 66.67); Growth: SMALL1 (3 orders, H 41.67); Basic: NEVER."""
    _buy("BIG1", "150000", profit="1000")
    _buy("BIG2", "150000", profit="1000")
    _buy("SMALL1", "100", "100", "100", profit="30")
    CustomerFactory(code="NEVER")
    grading_run_execute(as_of=AS_OF, scheme=scheme)
    return scheme


def _raise_key_floor(scheme):
    """A draft in which Key needs 70: BIG1 and BIG2 (66.67) fall to Growth."""
    SchemeGrade.objects.filter(scheme=scheme, grade__code="key").update(min_score=Decimal("70"))


@pytest.mark.django_db
def test_what_if_reports_under_the_same_scheme_by_hand(graded):
    result = scheme_what_if(scheme=graded, as_of=AS_OF)

    assert [r[:3] + r[4:] for r in result.distribution.rows] == [
        ["Key", 2, 50.0, 300000.0, 99.9],
        ["Growth", 1, 25.0, 300.0, 0.1],
        ["Basic", 1, 25.0, 0.0, 0.0],
    ]
    # Profit 2,000 of 2,090 = 95.69%; revenue 300,000 of 300,300 = 99.90%.
    assert result.revenue.rows == [
        ["Key", 2, Decimal("300000.00"), 99.9, 2000.0, 95.69],
        ["Growth", 1, Decimal("300.00"), 0.1, 90.0, 4.31],
    ]
    assert result.repurchase.rows == [
        ["Key", 2, 0, 0.0],
        ["Growth", 1, 1, 100.0],
        ["Basic", 1, 0, 0.0],
    ]
    assert result.repurchase.notes == [
        "Inversion: Key repurchases 0.00% but the lower grade Growth repurchases 100.00%."
    ]


@pytest.mark.django_db
def test_what_if_shows_the_draft_clearing_the_inversion(graded):
    _raise_key_floor(graded)

    result = scheme_what_if(scheme=graded, as_of=AS_OF)

    assert result.moved == 2
    assert result.revenue.rows == [["Growth", 3, Decimal("300300.00"), 100.0, 2090.0, 100.0]]
    assert result.repurchase.rows == [["Growth", 3, 1, 33.33], ["Basic", 1, 0, 0.0]]
    assert result.repurchase.notes == []


@pytest.mark.django_db
def test_what_if_writes_nothing(graded):
    models = (GradingRun, ScoreSnapshot, GradeChange, CustomerGrade)
    before = [m.objects.count() for m in models]
    grades = list(CustomerGrade.objects.order_by("customer_id").values_list("grade_id", flat=True))
    _raise_key_floor(graded)

    scheme_what_if(scheme=graded, as_of=AS_OF)

    assert [m.objects.count() for m in models] == before
    assert (
        list(CustomerGrade.objects.order_by("customer_id").values_list("grade_id", flat=True))
        == grades
    )


@pytest.mark.django_db
def test_what_if_page_shows_and_exports_the_effect_on_reports(client, ops, graded):
    client.force_login(ops)
    url = f"/reports/what-if/{graded.pk}/"
    query = {"as_of": AS_OF.isoformat()}

    page = client.get(url, query)
    revenue = client.get(url, {**query, "export": "revenue", "format": "csv"})
    repurchase = client.get(url, {**query, "export": "repurchase", "format": "xlsx"})
    unknown = client.get(url, {**query, "export": "nope"})

    body = page.content.decode()
    assert "Revenue and profit per grade under the draft" in body
    assert "Repurchase rate per grade under the draft" in body
    assert "Inversion: Key repurchases 0.00%" in body
    assert revenue.content.decode().splitlines()[1:] == [
        "Key,2,300000.00,99.90,2000.00,95.69",
        "Growth,1,300.00,0.10,90.00,4.31",
    ]
    sheet = openpyxl.load_workbook(io.BytesIO(repurchase.content)).active
    assert [[c.value for c in row] for row in sheet.iter_rows(min_row=2)] == [
        ["Key", 2, 0, 0],
        ["Growth", 1, 1, 100],
        ["Basic", 1, 0, 0],
    ]
    assert unknown.status_code == 404


@pytest.mark.django_db
def test_what_if_is_for_operations_only(client, alice, graded):
    client.force_login(alice)

    assert client.get(f"/reports/what-if/{graded.pk}/").status_code == 403
