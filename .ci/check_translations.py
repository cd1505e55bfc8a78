"""Fail when a committed translation catalog (.mo) does not match its source (.po).

Each locale/*/LC_MESSAGES/*.po is compiled to a temporary file exactly as
`manage.py compilemessages` does (`msgfmt --check-format`), and its messages are compared
with the committed .mo's (the messages, not the bytes: two gettext versions may lay out the
same catalog differently). A .po with no translations at all (the English source catalog)
needs no .mo. Run from the repository root: `python .ci/check_translations.py`.
"""

from __future__ import annotations

import gettext
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LOCALE = Path(__file__).resolve().parents[1] / "locale"


def messages(mo_file: Path) -> dict[object, str]:
    """Return the catalog of a compiled .mo file, without its header entry."""
    with mo_file.open("rb") as handle:
        catalog: dict[object, str] = dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]
    catalog.pop("", None)
    return catalog


def problems(po_file: Path, scratch: Path) -> list[str]:
    """Return what is wrong with `po_file`'s committed .mo (nothing when it matches)."""
    compiled = scratch / (po_file.parent.parent.name + ".mo")
    result = subprocess.run(
        ["msgfmt", "--check-format", "-o", str(compiled), str(po_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        return [f"{po_file}: msgfmt refused it:\n{result.stderr.strip()}"]
    expected = messages(compiled)
    mo_file = po_file.with_suffix(".mo")
    if not mo_file.exists():
        return [f"{mo_file} is missing"] if expected else []
    actual = messages(mo_file)
    if actual == expected:
        return []
    missing = [key for key in expected if key not in actual]
    stale = [key for key in actual if key not in expected]
    changed = [key for key in expected if key in actual and actual[key] != expected[key]]
    return [
        f"{mo_file} does not match {po_file.name}: {len(missing)} message(s) missing, "
        f"{len(stale)} no longer in the .po, {len(changed)} translated differently"
        + (f" (e.g. {(missing or stale or changed)[0]!r})" if missing or stale or changed else "")
    ]


def main() -> int:
    if shutil.which("msgfmt") is None:
        print("msgfmt not found: install gettext (apt-get install gettext)", file=sys.stderr)
        return 2
    po_files = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))
    with tempfile.TemporaryDirectory() as scratch:
        found = [line for po in po_files for line in problems(po, Path(scratch))]
    if found:
        print("\n".join(found), file=sys.stderr)
        print(
            "The compiled translations are out of date: run `python manage.py compilemessages`"
            " and commit the .mo files.",
            file=sys.stderr,
        )
        return 1
    print(f"Translations: {len(po_files)} catalog(s) match their compiled .mo files.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
