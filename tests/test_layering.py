"""The apps depend one way (docs/architecture.md, "Layers"): a test that fails on a wrong import.

    common  <-  customers  <-  grading  <-  benefits, appeals  <-  portal, manager, backoffice
                                                                  <-  tierhub

The interface apps (portal, manager, backoffice) sit on top: they may import every domain app,
and nothing imports them but `tierhub`, which wires everything together.

Every module of every app is parsed with `ast` (nothing is imported), so an import fails here
wherever it sits: at the top, inside a function, under `if TYPE_CHECKING:`, or as
`importlib.import_module("...")` with a literal name. Only imports of the project's own apps
are judged; Django and third-party packages are the purity test's business
(tests/grading/scoring/test_purity.py).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What each app may import, besides itself. `common` holds what has no owner and imports no
#: app; `tierhub` (settings, urls, the Celery app) wires everything together.
ALLOWED: dict[str, frozenset[str]] = {
    "common": frozenset(),
    "customers": frozenset({"common"}),
    "grading": frozenset({"common", "customers"}),
    "benefits": frozenset({"common", "customers", "grading"}),
    "appeals": frozenset({"common", "customers", "grading"}),
    # The interface apps: people's pages over the domain apps.
    "portal": frozenset({"common", "customers", "grading", "benefits", "appeals"}),
    "manager": frozenset({"common", "customers", "grading", "benefits", "appeals"}),
    "backoffice": frozenset({"common", "customers", "grading", "benefits", "appeals"}),
    "tierhub": frozenset(
        {"common", "customers", "grading", "benefits", "appeals", "portal", "manager", "backoffice"}
    ),
}
APPS = frozenset(ALLOWED)

#: Known exceptions to the table: (importing module or package, imported app) -> why.
#: Each one is a debt with an owner; delete the line when the import goes away.
EXCEPTIONS: dict[tuple[str, str], str] = {
    # The account manager's customer page shows the same grade explanation and history as the
    # customer's own portal page (portal/selectors.py, portal/explain.py); one interface app
    # reusing another's read model until that explanation gets a home both can import.
    ("manager.views", "portal"): "manager's customer page shows the portal's grade explanation",
}


@dataclass(frozen=True)
class Import:
    """One import found in a module: who imports what, and where."""

    module: str  # dotted name of the importing module
    target: str  # dotted name of what it imports
    line: int

    @property
    def app(self) -> str:
        return self.module.split(".")[0]

    @property
    def target_app(self) -> str:
        return self.target.split(".")[0]


def module_name(path: Path, root: Path = ROOT) -> str:
    """Return the dotted module name of a source file under `root`."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, *, is_package: bool = False) -> list[Import]:
    """Return every import in `source` (module-level or not) with absolute target names."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: level 1 is the current package, each further level up
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append(Import(module, target, node.lineno))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(Import(module, node.args[0].value, node.lineno))
    return found


def violations(found: list[Import]) -> list[str]:
    """Return the imports the table forbids and no exception excuses, as readable lines."""
    bad = []
    for imp in found:
        if imp.target_app not in APPS or imp.target_app == imp.app:
            continue
        if imp.target_app in ALLOWED[imp.app]:
            continue
        excused = any(
            target == imp.target_app and (imp.module == where or imp.module.startswith(where + "."))
            for where, target in EXCEPTIONS
        )
        if not excused:
            bad.append(
                f"{imp.module}:{imp.line} imports {imp.target} ({imp.app} -> {imp.target_app})"
            )
    return bad


def project_imports() -> list[Import]:
    found: list[Import] = []
    for app in sorted(APPS):
        for path in sorted((ROOT / app).rglob("*.py")):
            found += imports_of(
                path.read_text(encoding="utf-8"),
                module_name(path),
                is_package=path.name == "__init__.py",
            )
    return found


def test_every_app_imports_only_what_the_table_allows() -> None:
    assert violations(project_imports()) == []


def test_every_exception_is_still_needed() -> None:
    """An exception whose import has gone must be deleted, so the table stays honest."""
    found = project_imports()
    stale = [
        (where, target)
        for where, target in EXCEPTIONS
        if not any(
            imp.target_app == target and (imp.module == where or imp.module.startswith(where + "."))
            for imp in found
        )
    ]
    assert stale == []


def test_the_table_covers_every_app_directory() -> None:
    apps_on_disk = {path.parent.name for path in ROOT.glob("*/apps.py")} | {"tierhub"}
    assert apps_on_disk == APPS


# --- the checker itself: it must catch what it claims to ---------------------------------


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        # The case that used to pass unnoticed: a lower app reaching up.
        ("customers.selectors", "from grading.models import Grade", 1),
        ("customers.services.imports", "import benefits.services", 1),
        ("grading.services.runs", "def f():\n    from appeals import services", 1),
        (
            "grading.engine",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from benefits.models import Benefit",
            1,
        ),
        ("common.api", "from customers.models import Customer", 1),
        ("customers.models", "import importlib\nimportlib.import_module('grading.models')", 1),
        ("benefits.services.growth", "from appeals.models import Appeal", 1),
        ("appeals.services", "from benefits.models import Benefit", 1),  # side by side
        # Nothing below the interface apps may reach up into them.
        ("appeals.models", "from manager.needs import queue_needs_refresh", 1),
        ("benefits.selectors", "from portal.explain import rfm_label_name", 1),
        ("grading.views", "import backoffice.views", 1),
        ("portal.views", "from manager import selectors", 1),  # nor sideways
        ("grading.admin.runs", "from ...benefits import models", 1),  # relative, up and over
        # Allowed: down the table, within the app, third-party, and the wiring package.
        ("grading.engine", "from customers.models import Order\nimport common.roles", 0),
        ("grading.scoring.compute", "from . import rules\nfrom .inputs import X", 0),
        ("portal.views", "from benefits.selectors import benefit_catalog_by_grade", 0),
        ("manager.views", "from appeals.models import Appeal\nfrom benefits import services", 0),
        ("tierhub.urls", "from portal import urls\nfrom manager import urls", 0),
        ("customers.models", "from django.db import models\nimport pandas", 0),
    ],
)
def test_checker_catches_forbidden_imports(module: str, source: str, expected: int) -> None:
    assert len(violations(imports_of(source, module))) == expected


def test_checker_fails_on_a_forbidden_import_added_to_a_real_module() -> None:
    """The real customers/selectors.py plus one upward import is a violation."""
    path = ROOT / "customers" / "selectors.py"
    source = path.read_text(encoding="utf-8") + "\nfrom grading.models import Grade\n"
    bad = violations(imports_of(source, module_name(path)))
    assert len(bad) == 1
    assert "customers.selectors" in bad[0]
    assert "grading.models" in bad[0]
