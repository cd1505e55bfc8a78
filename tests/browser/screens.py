"""The two screens every walk-through uses, and the check that a page fits its width."""

from __future__ import annotations

#: A laptop and a phone (the brief's 1366x900 and 390x844).
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def fits_the_screen(page) -> bool:
    """True when nothing makes the page wider than the viewport (wide tables scroll inside)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
