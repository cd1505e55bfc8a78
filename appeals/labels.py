"""Translated display names of the seeded grades (grade names are data, codes are stable).

The five default grades are seeded in English by grading's migration. Their names are
marked here so the catalog can translate them; a name ops changed in the admin is shown
as written (it is theirs, and no catalog knows it).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import pgettext_lazy

#: code -> (the seeded English name, its translatable label).
DEFAULT_GRADE_NAMES: Mapping[str, tuple[str, object]] = {
    "strategic": ("Strategic", pgettext_lazy("grade name", "Strategic")),
    "key": ("Key", pgettext_lazy("grade name", "Key")),
    "growth": ("Growth", pgettext_lazy("grade name", "Growth")),
    "standard": ("Standard", pgettext_lazy("grade name", "Standard")),
    "basic": ("Basic", pgettext_lazy("grade name", "Basic")),
}


def grade_label(grade: object) -> str:
    """Return the name of `grade` (a Grade or None) in the active language.

    A seeded grade still carrying its seeded name is translated; any other name is shown
    as ops wrote it. None gives "—".
    """
    if grade is None:
        return "—"
    code, name = getattr(grade, "code", ""), str(getattr(grade, "name", grade))
    seeded = DEFAULT_GRADE_NAMES.get(code)
    if seeded is not None and seeded[0] == name:
        return str(seeded[1])
    return name
