"""grading.charts: axes, values and labels people can read (no `221.0`, no float noise)."""

from __future__ import annotations

import re
from decimal import Decimal

from django.utils import translation

from grading import charts


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_nice_ticks_cover_the_values_from_zero():
    assert charts.axis_ticks(0, 221) == [0, 100, 200, 300]
    assert charts.axis_ticks(-60, 1000) == [-500, 0, 500, 1000]
    assert charts.axis_ticks(0, 0) == [0, 0.25, 0.5, 0.75, 1.0]


def test_bar_chart_shows_counts_as_integers_with_an_axis():
    with translation.override("en"):
        svg = charts.bar_chart(["Key", "Basic"], [221, 1450], kind="count")

    texts = _texts(svg)
    assert {"221", "1,450"} <= set(texts)  # each bar's value
    assert "221.0" not in svg
    assert {"0", "500", "1,000", "1,500"} <= set(texts)  # the value axis
    assert {"Key", "Basic"} <= set(texts)
    assert "<title>Basic: 1,450</title>" in svg


def test_bar_chart_of_percentages():
    with translation.override("en"):
        svg = charts.bar_chart(["Key"], [62.5], kind="percent")

    assert "62.5%" in _texts(svg)
    assert "<title>Key: 62.50%</title>" in svg


def test_profit_and_cost_chart_has_values_an_axis_and_negative_bars():
    series = [
        ("profit", [Decimal("2446219.18000000"), Decimal("-60.00")], "#16a34a"),
        ("cost to serve", [Decimal("378403.710000001"), Decimal("60")], "#dc2626"),
    ]
    with translation.override("en"):
        svg = charts.grouped_bar_chart(["Key", "Basic"], series, kind="money")
    with translation.override("zh-hans"):
        chinese = charts.grouped_bar_chart(["Key", "Basic"], series, kind="money")

    texts = _texts(svg)
    assert {"¥2.45M", "¥378K", "-¥60.00"} <= set(texts)
    assert "<title>Key · profit: ¥2,446,219.18</title>" in svg
    assert "¥0.00" in texts  # the zero line of the value axis
    assert "378403.71" not in svg
    assert "0000" not in svg
    assert "¥245万" in _texts(chinese)


def test_pareto_curve_has_both_axes_titled():
    with translation.override("en"):
        svg = charts.line_chart(
            [(0, 0), (50, 80), (100, 100)], x_title="share of customers", y_title="revenue"
        )

    texts = _texts(svg)
    assert {"0%", "25%", "50%", "75%", "100%"} <= set(texts)
    assert {"share of customers", "revenue"} <= set(texts)
