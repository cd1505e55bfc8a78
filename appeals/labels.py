"""The display name of a grade in the reader's language.

Grade names are data with an English and a Chinese column (grading/translation.py;
docs/operations.md, "Bilingual data"): `grade.name` already reads the active language and
falls back to English, so the name ops write in the admin is the one source in both.
"""

from __future__ import annotations


def grade_label(grade: object) -> str:
    """Return the name of `grade` (a Grade or None) in the active language; None gives "—"."""
    if grade is None:
        return "—"
    return str(getattr(grade, "name", grade))
