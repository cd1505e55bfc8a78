"""Numbers for people in templates: `{% load tierhub_format %}{{ order.amount|money }}`.

The filters are `common.formatting` (docs/contributing.md, "Numbers for people"): locale-aware,
"—" for a missing value.
"""

from __future__ import annotations

from typing import Any

from django import template

from common import formatting

register = template.Library()


@register.filter
def money(value: Any) -> str:
    """¥1,234,567.89 (the currency of settings.TIERHUB_CURRENCY)."""
    return formatting.money(value)


@register.filter
def count(value: Any) -> str:
    """1,234,568."""
    return formatting.count(value)


@register.filter
def percent(value: Any, places: int = 2) -> str:
    """12.35% (the value is already a percentage)."""
    return formatting.percent(value, int(places))


@register.filter
def score(value: Any, places: int = 2) -> str:
    """61.25."""
    return formatting.score(value, int(places))


@register.filter
def duration(value: Any) -> str:
    """ "3 min 12 s" from seconds or a timedelta."""
    return formatting.duration(value)


@register.filter
def cell(value: Any, kind: str = "") -> str:
    """A report table cell by its column's kind (`common.formatting.display`)."""
    return formatting.display(value, kind)
