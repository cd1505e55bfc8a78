"""Reports in the reader's language: grade names from the data's English and Chinese
columns, and a cached report kept once per language (grading/services/report_cache.py)."""

from __future__ import annotations

import codecs
import datetime as dt
from functools import partial

import pytest
from django.utils import translation

from grading.services.report_cache import report_tables, reports_warm
from grading.services.runs import grading_run_execute
from tests.customers.factories import CustomerFactory
from tests.grading.factories import buyer

AS_OF = dt.date(2026, 4, 1)
_buy = partial(buyer, as_of=AS_OF)


@pytest.fixture
def run(scheme):
    _buy("BIG1", "150000", profit="1000")
    _buy("SMALL1", "100", "100", "100", profit="30")
    CustomerFactory(code="NEVER")
    return grading_run_execute(as_of=AS_OF, scheme=scheme)


def _grades(run, language: str) -> list[str]:
    with translation.override(language):
        tables = report_tables(run=run, before=None, keys=["distribution", "repurchase"])
    distribution = [row[0] for row in tables.tables["distribution"].rows]
    assert distribution == [row[0] for row in tables.tables["repurchase"].rows]
    return distribution


@pytest.mark.django_db
def test_a_cached_report_names_grades_in_each_readers_language(run):
    reports_warm(run_id=run.pk)  # cached in every language after the run

    english = _grades(run, "en")
    chinese = _grades(run, "zh-hans")
    english_again = _grades(run, "en")  # the Chinese copy did not overwrite the English one

    assert english == ["Key", "Growth", "Basic"]
    assert chinese == ["重点客户", "成长客户", "基础客户"]
    assert english_again == english


@pytest.mark.django_db
def test_the_report_download_is_chinese_with_a_bom_for_a_chinese_reader(client, ops, run):
    client.force_login(ops)

    answer = client.get(
        "/reports/", {"export": "distribution", "format": "csv"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    assert answer.content.startswith(codecs.BOM_UTF8)
    lines = answer.content.decode("utf-8-sig").splitlines()
    assert lines[1].startswith("重点客户,")
    assert "grade" not in lines[0]  # the headings are Chinese too
