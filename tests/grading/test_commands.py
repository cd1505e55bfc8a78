"""run_grading and export_scores as an operator runs them."""

import csv
import datetime as dt

import pytest
import time_machine
from django.core.management import CommandError, call_command

from grading.exceptions import AsOfInFuture
from grading.exports import EXPORT_COLUMNS
from grading.models import GradingRun
from grading.services.as_of import grading_run_as_of_validate
from tests.customers.factories import CustomerFactory
from tests.grading.factories import orders_for

AS_OF = dt.date(2026, 4, 1)


def _three_buyers():
    # R: 10, 40, 70 days; F: 3, 2, 1; M: 300, 500, 100 (one partly refunded order).
    a, b, c = (CustomerFactory(code=code) for code in ("A", "B", "C"))
    orders_for(a, *[(AS_OF - dt.timedelta(days=d), "100") for d in (10, 20, 30)])
    orders_for(b, (AS_OF - dt.timedelta(days=40), "250"), (AS_OF - dt.timedelta(days=50), "250"))
    orders_for(c, (AS_OF - dt.timedelta(days=70), "150"))
    order = c.orders.get()
    order.refunded_amount = "50"
    order.save()
    CustomerFactory(code="D")  # never ordered


def _read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.django_db
@pytest.mark.parametrize("graded_first", [False, True])
def test_export_scores_writes_the_design_columns_exactly(tmp_path, graded_first):
    _three_buyers()
    if graded_first:
        call_command("run_grading", "--as-of", AS_OF.isoformat())
    out = tmp_path / "scores.csv"

    call_command("export_scores", "--as-of", AS_OF.isoformat(), "--output", str(out))

    rows = _read(out)
    assert tuple(rows[0].keys()) == EXPORT_COLUMNS
    by_code = {r["customer_code"]: r for r in rows}
    # n = 3 buyers. R ranks (best last): C(70)=1, B(40)=2, A(10)=3 -> ceil(5*rank/3) = 2, 4, 5.
    # F: C(1)=1, B(2)=2, A(3)=3 -> 2, 4, 5. M: C(100)=1, A(300)=2, B(500)=3 -> 2, 4, 5.
    assert [
        (by_code[c]["r_score"], by_code[c]["f_score"], by_code[c]["m_score"]) for c in "ABC"
    ] == [
        ("5", "5", "4"),
        ("4", "4", "5"),
        ("2", "2", "2"),
    ]
    assert [by_code[c]["monetary"] for c in "ABCD"] == ["300.00", "500.00", "100.00", "0.00"]
    assert [by_code[c]["recency_days"] for c in "ABCD"] == ["10", "40", "70", ""]
    assert by_code["A"]["rfm_label"] == "champions"  # r 5, FM (5+4+1)//2 = 5
    assert by_code["C"]["rfm_label"] == "needs_attention"  # r 2, FM (2+2+1)//2 = 2 -> 22
    assert by_code["D"]["rfm_label"] == "prospect"
    # H = 100 * (r-1 + f-1 + m-1) / 12.
    assert by_code["A"]["historical"] == "91.6667"
    assert by_code["D"]["historical"] == "0.0000"


@pytest.mark.django_db
def test_run_grading_reports_counts_and_is_idempotent(capsys):
    _three_buyers()

    call_command("run_grading", "--as-of", AS_OF.isoformat())
    call_command("run_grading", "--as-of", AS_OF.isoformat())

    out = capsys.readouterr().out
    assert out.count("4 scored, 4 first grades") == 2
    assert GradingRun.objects.count() == 1


@pytest.mark.django_db
def test_run_grading_refuses_bad_input():
    with pytest.raises(CommandError, match="not a date"):
        call_command("run_grading", "--as-of", "2026-13-01")
    with pytest.raises(CommandError, match="No grading scheme is called"):
        call_command("run_grading", "--as-of", "2026-04-01", "--scheme", "nope")


@pytest.mark.django_db
def test_run_grading_refuses_an_as_of_after_today_and_records_no_run(settings):
    # 2026-06-30 16:30 UTC is already July 1 in Shanghai: the local date decides.
    settings.TIME_ZONE = "Asia/Shanghai"
    with time_machine.travel(dt.datetime(2026, 6, 30, 16, 30, tzinfo=dt.UTC), tick=False):
        with pytest.raises(CommandError, match=r"as-of 2026-07-02 is after today \(2026-07-01\)"):
            call_command("run_grading", "--as-of", "2026-07-02")
        with pytest.raises(CommandError, match="after today"):
            call_command("run_grading", "--as-of", "2099-01-01")

    assert not GradingRun.objects.exists()


@pytest.mark.django_db
def test_run_grading_accepts_today_as_the_latest_as_of(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    with time_machine.travel(dt.datetime(2026, 6, 30, 16, 30, tzinfo=dt.UTC), tick=False):
        call_command("run_grading", "--as-of", "2026-07-01")

    assert GradingRun.objects.get().as_of == dt.date(2026, 7, 1)


def test_the_as_of_rule_is_a_service_other_interfaces_can_call():
    today = dt.date(2026, 7, 1)

    assert grading_run_as_of_validate(as_of=today, today=today) == today
    with pytest.raises(AsOfInFuture) as refused:
        grading_run_as_of_validate(as_of=dt.date(2026, 7, 2), today=today)

    assert refused.value.field == "as_of"
    assert refused.value.code == "as_of_in_future"
