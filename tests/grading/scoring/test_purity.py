"""The pure layers stay pure: no Django, no TierHub app, no clock.

The pure layers are the scoring package (grading/scoring/, the "score" step) and the policy
(grading/policy.py, the "decide" step). Each module is parsed with `ast` (nothing is
imported), so a forbidden import fails here even when it sits inside a function or an
`if TYPE_CHECKING:` block. Both may import the scoring package; nothing else of TierHub.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GRADING_DIR = Path(__file__).resolve().parents[3] / "grading"
SCORING_DIR = GRADING_DIR / "scoring"
POLICY = GRADING_DIR / "policy.py"
PACKAGE = "grading.scoring"
# Django and its ecosystem, and every TierHub app (grading itself is checked separately).
FORBIDDEN_ROOTS = frozenset(
    {"django", "rest_framework", "celery", "customers", "benefits", "appeals", "tierhub", "common"}
)
CLOCK_CALLS = frozenset({"now", "today", "utcnow", "time", "monotonic", "perf_counter"})


def scoring_modules() -> list[Path]:
    return sorted(SCORING_DIR.glob("*.py"))


def pure_modules() -> list[Path]:
    """Every module that must stay pure: the scoring package and the policy."""
    return [*scoring_modules(), POLICY]


def package_of(path: Path) -> str:
    """Return the package relative imports in `path` start from."""
    return PACKAGE if path.parent == SCORING_DIR else "grading"


def imported_names(tree: ast.AST, package: str = PACKAGE) -> list[str]:
    """Return the absolute dotted name of every import in `tree` (a module of `package`)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # Relative: level 1 is the module's own package, each further level goes up.
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", ""))
            in {
                "import_module",
                "__import__",
            }
        ):
            names.append("<dynamic import>")
    return names


def forbidden(name: str) -> bool:
    root = name.split(".")[0]
    if name == "<dynamic import>" or root in FORBIDDEN_ROOTS:
        return True
    # Within grading, only the scoring package itself may be imported.
    return root == "grading" and not (name == PACKAGE or name.startswith(PACKAGE + "."))


def test_scoring_package_has_modules() -> None:
    names = {path.name for path in scoring_modules()}
    assert {"__init__.py", "inputs.py", "rules.py", "compute.py", "tiers.py"} <= names


def test_policy_is_checked_too() -> None:
    assert POLICY.is_file()
    assert POLICY in pure_modules()


@pytest.mark.parametrize("path", pure_modules(), ids=lambda path: path.name)
def test_module_imports_neither_django_nor_project_apps(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [name for name in imported_names(tree, package_of(path)) if forbidden(name)]
    assert bad == [], f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", pure_modules(), ids=lambda path: path.name)
def test_module_never_reads_the_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    calls = [
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOCK_CALLS
    ]
    assert calls == [], f"{path.name} calls {calls}: as_of must come in as an argument"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import django", True),
        ("from django.db import models", True),
        ("from customers.models import Order", True),
        ("import grading.models", True),
        ("from grading import services", True),
        ("from .. import models", True),
        ("from grading.scoring.rules import ScoringParams", False),
        ("from . import rules", False),
        ("import numpy as np", False),
        ("importlib.import_module('django')", True),
    ],
)
def test_checker_catches_forbidden_imports(source: str, expected: bool) -> None:
    assert any(forbidden(name) for name in imported_names(ast.parse(source))) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from django.utils import timezone", True),
        ("from grading.models import GradingScheme", True),
        ("from . import models", True),  # grading.models, relative from grading/policy.py
        ("from .services import runs", True),
        ("def f():\n    from customers.models import Customer", True),
        ("from .scoring.rules import RFM_LABELS", False),
        ("from grading.scoring import inputs", False),
        ("import pandas as pd", False),
    ],
)
def test_checker_catches_forbidden_imports_in_the_policy(source: str, expected: bool) -> None:
    names = imported_names(ast.parse(source), package_of(POLICY))
    assert any(forbidden(name) for name in names) is expected
