"""common.formatting: numbers as people read them, in English and Chinese."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from common import formatting

LANGUAGES = ["en", "zh-hans"]


@pytest.fixture(params=LANGUAGES)
def language(request):
    with translation.override(request.param):
        yield request.param


def test_money_groups_thousands_with_two_decimals_and_the_currency(language):
    assert formatting.money(1234567.891) == "¥1,234,567.89"
    assert formatting.money(Decimal("2446219.18000000")) == "¥2,446,219.18"
    assert formatting.money(-1234.5) == "-¥1,234.50"
    assert formatting.money(0) == "¥0.00"
    assert formatting.money(999.995) == "¥1,000.00"  # half-up, as accountants round
    assert formatting.money(1234.5, currency=False) == "1,234.50"


def test_a_value_that_rounds_to_zero_has_no_sign(language):
    assert formatting.money(-0.001) == "¥0.00"
    assert formatting.count(-0.4) == "0"


def test_missing_values_read_as_a_dash(language):
    for formatter in (
        formatting.money,
        formatting.count,
        formatting.percent,
        formatting.score,
        formatting.duration,
        formatting.number,
    ):
        assert formatter(None) == "—"
    assert formatting.display(math.nan, "money") == "—"
    assert formatting.display("", "count") == "—"


def test_float_noise_is_rounded_away(language):
    assert formatting.display(378403.710000001) == "378,403.71"
    assert formatting.to_decimal(378403.710000001, 2) == Decimal("378403.71")
    assert formatting.to_decimal(0.1 + 0.2, 2) == Decimal("0.30")
    assert formatting.to_decimal(Decimal("221.0"), 2) == Decimal("221.00")


def test_counts_percentages_and_scores(language):
    assert formatting.count(1234567) == "1,234,567"
    assert formatting.count(12) == "12"
    assert formatting.percent(12.345) == "12.35%"
    assert formatting.percent(-3, 0) == "-3%"
    assert formatting.score(61.2) == "61.20"
    assert formatting.score(7, 1) == "7.0"


def test_the_currency_comes_from_the_setting(settings, language):
    settings.TIERHUB_CURRENCY = "USD"
    assert formatting.money(12) == "$12.00"
    settings.TIERHUB_CURRENCY = "XYZ"
    assert formatting.money(12) == "XYZ 12.00"


def test_durations_read_in_words():
    with translation.override("en"):
        assert formatting.duration(0.22662157400191063) == "0.2 s"
        assert formatting.duration(192) == "3 min 12 s"
        assert formatting.duration(dt.timedelta(hours=2, minutes=5, seconds=12)) == "2 h 5 min"
    with translation.override("zh-hans"):
        assert formatting.duration(0.22662157400191063) != "0.2 s"  # translated


def test_compact_figures_count_in_the_readers_units():
    with translation.override("en"):
        assert formatting.compact(2446219.18, currency=True) == "¥2.45M"
        assert formatting.compact(378403.71) == "378K"
        assert formatting.compact(-12_500) == "-12.5K"
        assert formatting.compact(221.0) == "221.00"
    with translation.override("zh-hans"):
        assert formatting.compact(2446219.18, currency=True) == "¥245万"
        assert formatting.compact(123_456_789) == "1.23亿"


def test_display_follows_the_column_kind_then_the_type(language):
    assert formatting.display(Decimal("1500"), "money") == "¥1,500.00"
    assert formatting.display(1500, "count") == "1,500"
    assert formatting.display(Decimal("4.5")) == "4.50"  # a Decimal may be hours: no currency
    assert formatting.display(7) == "7"
    assert formatting.display("Key", "money") == "Key"  # a text cell in a money column


def test_month_cells_read_as_the_month_in_the_language():
    with translation.override("en"):
        assert formatting.display(dt.date(2026, 3, 1), "month") == "March 2026"
    with translation.override("zh-hans"):
        assert formatting.display(dt.date(2026, 3, 1), "month") == "2026年3月"


def test_excel_values_are_numbers_with_a_number_format():
    assert formatting.excel_value(378403.710000001, "money") == (Decimal("378403.71"), "#,##0.00")
    assert formatting.excel_value(1234.6, "count") == (1235, "#,##0")
    assert formatting.excel_value(Decimal("12.345"), "percent") == (Decimal("12.35"), "0.00")
    assert formatting.excel_value(7, "") == (7, "#,##0")
    assert formatting.excel_value("Key", "money") == ("Key", None)
    assert formatting.excel_value(None, "money") == (None, None)


def test_template_filters(language):
    template = Template(
        "{% load tierhub_format %}{{ amount|money }} {{ n|count }} {{ rate|percent }} "
        "{{ composite|score }} {{ seconds|duration }} {{ missing|money }}"
    )
    text = template.render(
        Context(
            {
                "amount": Decimal("1234567.891"),
                "n": 12345,
                "rate": 5,
                "composite": 61.255,
                "seconds": 3.04,
                "missing": None,
            }
        )
    )
    seconds = formatting.duration(3.04)
    assert text == f"¥1,234,567.89 12,345 5.00% 61.26 {seconds} —"
