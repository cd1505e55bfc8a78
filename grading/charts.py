"""Server-side SVG charts: no JavaScript, no CDN, printable and screenshot-able.

Every chart has a value axis with round ticks and grid lines, and shows each bar's value
(short form on the bar, the exact figure in its tooltip), formatted by `common.formatting`
in the active language. Presentation attributes only (fill, font-size): the Content
Security Policy forbids inline styles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from common import formatting

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 40
AXIS_COLOUR, GRID_COLOUR, TEXT_COLOUR = "#64748b", "#e2e8f0", "#334155"


def nice_step(span: float, ticks: int = 4) -> float:
    """Return a round tick step (1, 2, 2.5 or 5 times 10^k): about `ticks` steps over `span`."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def axis_ticks(low: float, high: float) -> list[float]:
    """Return round tick values covering [low, high] (0 included)."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1
    step = nice_step(high - low)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    count = round((last - first) / step)
    return [first + i * step for i in range(count + 1)]


def short(value: float, kind: str) -> str:
    """Return a value short enough for a bar: ¥2.45M / ¥244.62万, 1,234, 12.5%."""
    if kind == "percent":
        # One decimal, none for a whole number: 79.9%, 40%, never 1.0%.
        return formatting.percent(value, 0 if round(float(value), 1).is_integer() else 1)
    if kind == "count":
        return formatting.count(value)
    return formatting.compact(value, currency=kind == "money")


def _float(value: Any) -> float:
    return 0.0 if formatting.is_missing(value) else float(value)


class _Frame:
    """The plot area and its value axis: maps a value to a y coordinate."""

    def __init__(self, values: Sequence[float], kind: str) -> None:
        self.ticks = axis_ticks(min([*values, 0.0]), max([*values, 0.0]))
        self.low, self.high = self.ticks[0], self.ticks[-1]
        self.kind = kind
        self.plot_height = HEIGHT - TOP - BOTTOM

    def y(self, value: float) -> float:
        return TOP + self.plot_height * (self.high - value) / (self.high - self.low)

    def svg(self) -> list[str]:
        parts = []
        for tick in self.ticks:
            y = self.y(tick)
            colour = AXIS_COLOUR if tick == 0 else GRID_COLOUR
            parts.append(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                f'stroke="{colour}"/>'
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
                f'fill="{TEXT_COLOUR}">{escape(short(tick, self.kind))}</text>'
            )
        parts.append(
            f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" '
            f'stroke="{AXIS_COLOUR}"/>'
        )
        return parts


def _open(label: str) -> str:
    # Not class="chart": the admin's theme (unfold) draws every `.chart` as a Chart.js canvas.
    return (
        f'<svg class="report-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    )


def _category_label(x: float, label: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="middle" '
        f'fill="{TEXT_COLOUR}">{escape(label)}</text>'
    )


def bar_chart(
    labels: Sequence[str], values: Sequence[Any], *, kind: str = "number", title: str = ""
) -> SafeString:
    """Return an SVG bar chart of `values` (>= 0) labelled with `labels`.

    `kind` formats the axis and the values ("count", "money", "percent", "number").
    """
    numbers = [_float(v) for v in values]
    frame = _Frame(numbers, kind)
    slot = (WIDTH - LEFT - RIGHT) / max(len(numbers), 1)
    parts = [_open(title), *frame.svg()]
    for i, (label, value) in enumerate(zip(labels, numbers, strict=True)):
        x = LEFT + i * slot + slot * 0.15
        top = frame.y(max(value, 0.0))
        height = abs(frame.y(value) - frame.y(0.0))
        centre = x + slot * 0.35
        parts.append(
            f'<rect x="{x:.1f}" y="{top:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
            f'fill="#2563eb"><title>{escape(label)}: {escape(formatting.display(value, kind))}'
            "</title></rect>"
            f'<text x="{centre:.1f}" y="{top - 4:.1f}" font-size="10" text-anchor="middle" '
            f'fill="{TEXT_COLOUR}">{escape(short(value, kind))}</text>'
            + _category_label(centre, label)
        )
    parts.append("</svg>")
    # Safe: every label went through escape() above; the rest are numbers.
    return mark_safe("".join(parts))


def line_chart(
    points: Sequence[tuple[float, float]],
    *,
    x_max: float = 100,
    y_max: float = 100,
    x_title: str = "",
    y_title: str = "",
) -> SafeString:
    """Return an SVG line chart of (x, y) percentage points scaled to 0..x_max, 0..y_max.

    Both axes have ticks every quarter and an optional title; the diagonal is the even
    distribution the curve is read against.
    """
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM

    def xy(x: float, y: float) -> str:
        return f"{LEFT + plot_width * x / x_max:.1f},{TOP + plot_height * (1 - y / y_max):.1f}"

    parts = [_open(y_title)]
    for i in range(5):
        y_value, x_value = y_max * i / 4, x_max * i / 4
        _x0, y = xy(0, y_value).split(",")
        x, _y0 = xy(x_value, 0).split(",")
        parts.append(
            f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" '
            f'stroke="{AXIS_COLOUR if i == 0 else GRID_COLOUR}"/>'
            f'<text x="{LEFT - 6}" y="{float(y) + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="{TEXT_COLOUR}">{escape(formatting.percent(y_value, 0))}</text>'
            f'<text x="{x}" y="{HEIGHT - BOTTOM + 14}" font-size="10" text-anchor="middle" '
            f'fill="{TEXT_COLOUR}">{escape(formatting.percent(x_value, 0))}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="{AXIS_COLOUR}"/>'
        f'<polyline points="{xy(0, 0)} {xy(x_max, y_max)}" fill="none" stroke="#cbd5e1" '
        'stroke-dasharray="4"/>'
        f'<polyline points="{" ".join(xy(x, y) for x, y in points)}" fill="none" '
        'stroke="#2563eb" stroke-width="2"/>'
    )
    if x_title:
        parts.append(
            f'<text x="{LEFT + plot_width / 2:.1f}" y="{HEIGHT - 6}" font-size="11" '
            f'text-anchor="middle" fill="{TEXT_COLOUR}">{escape(x_title)}</text>'
        )
    if y_title:
        parts.append(
            f'<text x="{LEFT}" y="{TOP - 10}" font-size="11" fill="{TEXT_COLOUR}">'
            f"{escape(y_title)}</text>"
        )
    parts.append("</svg>")
    # Safe: the titles went through escape(); the rest are numbers.
    return mark_safe("".join(parts))


def grouped_bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Any], str]],
    *,
    kind: str = "money",
    title: str = "",
) -> SafeString:
    """Return an SVG chart with one group of bars per label, a value axis and a legend.

    `series` is [(name, values aligned with `labels`, colour)]. Values may be negative (a
    grade losing money): bars grow up or down from the zero line. Each bar shows its value.
    """
    numbers = [[_float(v) for v in values] for _name, values, _colour in series]
    frame = _Frame([v for values in numbers for v in values], kind)
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    bar = slot * 0.8 / max(len(series), 1)
    zero = frame.y(0.0)
    parts = [_open(title), *frame.svg()]
    for i, label in enumerate(labels):
        left = LEFT + i * slot + slot * 0.1
        for j, (name, _values, colour) in enumerate(series):
            value = numbers[j][i]
            y = min(frame.y(value), zero)
            height = abs(frame.y(value) - zero)
            centre = left + j * bar + bar * 0.45
            text_y = y - 4 if value >= 0 else y + height + 11
            parts.append(
                f'<rect x="{left + j * bar:.1f}" y="{y:.1f}" width="{bar * 0.9:.1f}" '
                f'height="{height:.1f}" fill="{escape(colour)}"><title>{escape(label)} · '
                f"{escape(name)}: {escape(formatting.display(value, kind))}</title></rect>"
                f'<text x="{centre:.1f}" y="{text_y:.1f}" font-size="9" text-anchor="middle" '
                f'fill="{TEXT_COLOUR}">{escape(short(value, kind))}</text>'
            )
        parts.append(_category_label(left + slot * 0.4, label))
    for j, (name, _values, colour) in enumerate(series):
        x = LEFT + j * 150
        parts.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{escape(colour)}"/>'
            f'<text x="{x + 14}" y="15" font-size="11" fill="{TEXT_COLOUR}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    # Safe: every label, name and colour went through escape() above; the rest are numbers.
    return mark_safe("".join(parts))
