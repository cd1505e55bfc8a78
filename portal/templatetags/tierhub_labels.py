"""Template filters for translated labels: `{% load tierhub_labels %}{{ grade|grade_label }}`."""

from __future__ import annotations

from django import template

from appeals.labels import grade_label as _grade_label
from portal.explain import rfm_label_name

register = template.Library()


@register.filter
def grade_label(grade: object) -> str:
    """Return the grade's name in the active language ("—" for None)."""
    return _grade_label(grade)


@register.filter
def rfm_label(code: str) -> str:
    """Return the translated name of an RFM label code."""
    return rfm_label_name(code)
