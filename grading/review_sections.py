"""Sections the apps above grading add to a grade change's admin page.

A grade change's page (`grading.admin.reviews`) shows, beside the run's explanation, what
other apps know about the customer: the account manager's follow-ups and the customer's
appeals. Those live in `appeals`, which grading may not import (docs/architecture.md,
"Layers"), so they plug in here from their `AppConfig.ready()`, as report tables do with
`grading.reports.report_register`. A module of its own, free of admin imports, so that
registering from `ready()` loads no ModelAdmin early.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

if TYPE_CHECKING:
    from grading.models import GradeChange


@dataclass(frozen=True, slots=True)
class ChangeSection:
    """A panel shown beside a grade change's explanation.

    `context(request, change)` returns the template's `section` context, or None to show
    nothing. The change is one the user may see (the admin page is scoped to the user), and
    every row a section lists belongs to the change's customer.
    """

    key: str
    template: str
    context: Callable[[HttpRequest, GradeChange], dict[str, Any] | None]


_SECTIONS: dict[str, ChangeSection] = {}


def change_section_register(section: ChangeSection) -> None:
    """Show `section` on every grade change's page (registering a key again replaces it)."""
    _SECTIONS[section.key] = section


def registered_change_sections() -> tuple[ChangeSection, ...]:
    """Return the registered sections, in registration order."""
    return tuple(_SECTIONS.values())
