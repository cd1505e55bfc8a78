"""Server-side SVG charts: no JavaScript, no CDN, printable and screenshot-able."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD = 640, 240, 36


def bar_chart(labels: Sequence[str], values: Sequence[float], *, unit: str = "") -> SafeString:
    """Return an SVG bar chart of `values` (>= 0) labelled with `labels`."""
    peak = max([float(v) for v in values] + [1e-9])
    slot = (WIDTH - 2 * PAD) / max(len(values), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = (HEIGHT - 2 * PAD) * float(value) / peak
        x = PAD + i * slot + slot * 0.15
        y = HEIGHT - PAD - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
            f'fill="#2563eb"><title>{escape(label)}: {float(value):,.2f}{escape(unit)}'
            "</title></rect>"
            f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - PAD + 14}" font-size="11" '
            f'text-anchor="middle">{escape(label)}</text>'
            f'<text x="{x + slot * 0.35:.1f}" y="{y - 4:.1f}" font-size="10" '
            f'text-anchor="middle">{float(value):,.1f}</text>'
        )
    parts.append("</svg>")
    # Safe: every label went through escape() above; the rest are numbers.
    return mark_safe("".join(parts))


def line_chart(
    points: Sequence[tuple[float, float]], *, x_max: float = 100, y_max: float = 100
) -> SafeString:
    """Return an SVG line chart of (x, y) points scaled to 0..x_max, 0..y_max."""

    def xy(x: float, y: float) -> str:
        px = PAD + (WIDTH - 2 * PAD) * x / x_max
        py = HEIGHT - PAD - (HEIGHT - 2 * PAD) * y / y_max
        return f"{px:.1f},{py:.1f}"

    path = " ".join(xy(x, y) for x, y in points)
    diagonal = f"{xy(0, 0)} {xy(x_max, y_max)}"
    # Safe: only numbers are interpolated.
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<polyline points="{diagonal}" fill="none" stroke="#cbd5e1" stroke-dasharray="4"/>'
        f'<polyline points="{path}" fill="none" stroke="#2563eb" stroke-width="2"/>'
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">0%</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="11" text-anchor="end">100%</text>'
        "</svg>"
    )


def grouped_bar_chart(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]]
) -> SafeString:
    """Return an SVG chart with one group of bars per label and a legend.

    `series` is [(name, values aligned with `labels`, colour)]. Values may be negative (a
    grade losing money): bars grow up or down from a zero line.
    """
    values = [float(v) for _name, vs, _colour in series for v in vs]
    top = max([*values, 0.0])
    bottom = min([*values, 0.0])
    span = (top - bottom) or 1e-9
    plot = HEIGHT - 2 * PAD

    def y_of(value: float) -> float:
        return PAD + plot * (top - value) / span

    zero = y_of(0.0)
    slot = (WIDTH - 2 * PAD) / max(len(labels), 1)
    bar = slot * 0.8 / max(len(series), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{PAD}" y1="{zero:.1f}" x2="{WIDTH - PAD}" y2="{zero:.1f}" stroke="#94a3b8"/>',
    ]
    for i, label in enumerate(labels):
        left = PAD + i * slot + slot * 0.1
        for j, (name, series_values, colour) in enumerate(series):
            value = float(series_values[i])
            y = min(y_of(value), zero)
            height = abs(y_of(value) - zero)
            parts.append(
                f'<rect x="{left + j * bar:.1f}" y="{y:.1f}" width="{bar * 0.9:.1f}" '
                f'height="{height:.1f}" fill="{escape(colour)}"><title>{escape(label)} · '
                f"{escape(name)}: {value:,.2f}</title></rect>"
            )
        parts.append(
            f'<text x="{left + slot * 0.4:.1f}" y="{HEIGHT - PAD + 14}" font-size="11" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for j, (name, _values, colour) in enumerate(series):
        x = PAD + j * 150
        parts.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{escape(colour)}"/>'
            f'<text x="{x + 14}" y="15" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    # Safe: every label, name and colour went through escape() above; the rest are numbers.
    return mark_safe("".join(parts))
