"""The two screens every walk-through uses, and the check that a page fits its width."""

from __future__ import annotations

#: A laptop and a phone (the brief's 1366x900 and 390x844).
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def fits_the_screen(page) -> bool:
    """True when nothing makes the page wider than the viewport (wide tables scroll inside)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def staff_login(page, base_url: str, username: str, next_path: str = "") -> None:
    """Log a staff member in through the one staff login (the demo password), then go on."""
    from tests.appeals.factories import PASSWORD

    page.goto(f"{base_url}/admin/login/" + (f"?next={next_path}" if next_path else ""))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]")
