"""No inline script or style anywhere, so the Content-Security-Policy needs no 'unsafe-inline'.

Three nets: a grep of every template of the project, a look at every HTML string in its
Python code (format_html, mark_safe, SVG charts), and the rendered HTML of every admin
changelist and change form, the portal, the manager pages and the reports. Plus the narrow
exceptions of common/csp.py: DRF's browsable API, and the staff pages drawn by django-unfold
(the admin and the reports), whose policy allows 'unsafe-eval' and inline styles but still
no inline script, and never leaks onto the portal or the manager pages.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import re
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from appeals.models import Appeal
from common.csp import BROWSABLE_API_CSP, style_attribute_sources
from grading.models import Grade, GradingScheme
from grading.services.runs import grading_run_execute
from tests.appeals.factories import file_appeal, portal_customer
from tests.customers.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_FOLDERS = {".venv", "var", "tests", "bench", "migrations", "node_modules", ".git"}

#: Inline code in template or Python source: a <script> without src, a <style> element, a
#: style="" or on*="" attribute, a javascript: URL.
INLINE = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*application/json)"
    r"|<style\b"
    r"|(?:^|[\s\"'])style\s*=\s*\\?[\"']"
    r"|(?:^|[\s\"'])on[a-z]+\s*=\s*\\?[\"']"
    r"|javascript:",
    re.IGNORECASE,
)
TEMPLATE_COMMENT = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.DOTALL)


def _project_files(pattern: str) -> list[Path]:
    return sorted(
        path
        for path in ROOT.rglob(pattern)
        if not SKIPPED_FOLDERS.intersection(path.relative_to(ROOT).parts)
    )


def _template_findings(path: Path) -> list[str]:
    text = TEMPLATE_COMMENT.sub(lambda match: "\n" * match.group().count("\n"), path.read_text())
    return [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if INLINE.search(line)
    ]


def _python_findings(path: Path) -> list[str]:
    """Inline code in the string constants of `path`, docstrings aside."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and INLINE.search(node.value)
    ]


def test_the_patterns_catch_each_kind_of_inline_code():
    caught = [
        "<script>alert(1)</script>",
        "<style>p { color: red }</style>",
        '<p style="color: red">',
        "<li{% if x %} style='font-weight:600'{% endif %}>",
        '<button onclick="go()">',
        '<a href="javascript:go()">',
        '<strong style="color:#b91c1c">{}</strong>',
    ]
    passed = [
        '<script src="/static/js/app.js" defer></script>',
        '<script id="data" type="application/json">{}</script>',
        '<link rel="stylesheet" href="/static/css/tierhub.css">',
        '<span class="grade-pill" data-color="{{ grade.color }}">',
        '<rect fill="#2563eb" font-size="11">',
    ]

    assert [text for text in caught if not INLINE.search(text)] == []
    assert [text for text in passed if INLINE.search(text)] == []


def test_no_template_has_inline_script_or_style():
    templates = _project_files("templates/**/*.html")
    assert len(templates) > 20  # the glob found the project's templates

    findings = [finding for path in templates for finding in _template_findings(path)]

    assert findings == [], "\n".join(findings)


def test_no_python_code_builds_html_with_inline_script_or_style():
    modules = _project_files("*.py")
    assert any(path.name == "charts.py" for path in modules)

    findings = [finding for path in modules for finding in _python_findings(path)]

    assert findings == [], "\n".join(findings)


# ----------------------------------------------------------------------- rendered pages


class _InlineCode(HTMLParser):
    """Collects the inline scripts, styles and handlers of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and "src" not in named and named.get("type") != "application/json":
            self.found.append(self.get_starttag_text() or tag)
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            if name == "style" or re.fullmatch(r"on[a-z]+", name):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in {"href", "src", "action"} and (value or "").strip().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}={value!r}>")


def _inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    return parser.found


def _inline_script(html: str) -> list[str]:
    """The inline code of `html` but its styles: what even the staff policy refuses."""
    return [
        code
        for code in _inline_code(html)
        if code != "<style>" and not re.fullmatch(r"<\w+ style=.*>", code, re.DOTALL)
    ]


def test_the_page_check_catches_each_kind_of_inline_code():
    html = (
        '<script>1</script><script src="/a.js"></script>'
        '<script type="application/json">{}</script><style>p{}</style>'
        '<p style="x"></p><button onclick="y()"></button><a href="javascript:z()"></a>'
    )

    assert len(_inline_code(html)) == 5


@pytest.fixture
def population(alice):
    """Demo customers graded once, and an overdue appeal of a portal customer."""
    call_command("seed_demo", customers=20, today=dt.date(2026, 3, 15), stdout=StringIO())
    run = grading_run_execute(
        as_of=dt.date(2026, 3, 1), scheme=GradingScheme.objects.get(name="default", version=1)
    )
    account, change = portal_customer(code="CAROL", manager=alice)
    appeal = file_appeal(account, change)
    Appeal.objects.filter(pk=appeal.pk).update(created_at=timezone.now() - dt.timedelta(days=30))
    return {"run": run, "account": account, "change": change, "appeal": appeal}


def _admin_urls() -> list[str]:
    """Every registered model's changelist, and its first row's change form or its add form."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{prefix}_changelist"))
        first = model._default_manager.first()
        if first is not None:
            urls.append(reverse(f"{prefix}_change", args=[first.pk]))
        else:
            urls.append(reverse(f"{prefix}_add"))
        with contextlib.suppress(NoReverseMatch):  # the admins with an import page
            urls.append(reverse(f"{prefix}_import"))
    return urls


def test_the_staff_page_check_lets_styles_through_and_nothing_else():
    html = (
        '<style>p{}</style><p style="x"></p><script>1</script><button onclick="y()"></button>'
        '<a href="javascript:z()"></a><div x-bind:style="w" x-on:click="v = 1"></div>'
    )

    assert _inline_script(html) == [
        "<script>",
        "<button onclick='y()'>",
        "<a href='javascript:z()'>",
    ]


@pytest.mark.django_db
def test_staff_pages_have_no_inline_script(population):
    """The admin and the reports (unfold's layout) may carry inline styles, never a script."""
    superuser = UserFactory(username="root-admin", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)
    urls = [
        *_admin_urls(),
        reverse("reports:index"),
        reverse("reports:what-if", args=[population["run"].scheme_id]),
    ]
    findings, visited = [], 0
    for url in urls:
        response = client.get(url)
        if response.status_code == 403:  # an admin that forbids adding, say
            continue
        assert response.status_code == 200, url
        visited += 1
        findings += [f"{url}: {code}" for code in _inline_script(response.content.decode())]

    assert visited > 50
    assert findings == [], "\n".join(findings)


@pytest.mark.django_db
def test_rendered_pages_have_no_inline_script_or_style(population, alice):
    """The people-facing pages keep the strict policy: no inline code of any kind."""
    pages = {
        alice: [
            reverse("manager:queue"),
            reverse("manager:customer", args=[population["account"].customer_id]),
            reverse("manager:notifications"),
        ],
        population["account"].user: [
            reverse("portal:home"),
            reverse("portal:grades"),
            reverse("portal:history"),
            reverse("portal:points"),
            reverse("portal:appeals"),
            reverse("portal:appeal_detail", args=[population["appeal"].pk]),
            reverse("portal:notifications"),
        ],
    }
    findings, visited = [], 0
    for user, urls in pages.items():
        client = Client()
        client.force_login(user)
        for url in urls:
            response = client.get(url)
            if response.status_code == 403:  # an admin that forbids adding, say
                continue
            assert response.status_code == 200, url
            visited += 1
            findings += [f"{url}: {code}" for code in _inline_code(response.content.decode())]

    assert visited == 10
    assert findings == [], "\n".join(findings)


# ------------------------------------------------------------- narrow third-party exceptions


def _directives(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return dict(part.strip().partition(" ")[::2] for part in header.split(";"))


def test_a_style_attribute_is_allowed_by_its_hash_only():
    # The hash Chrome names when it refuses style="float: right; margin-right: 10px".
    chrome = "'sha256-OfgyIBrd+/vP79JdFMYP+re4T+fIenvkrHPD2HZ8/cs='"

    assert style_attribute_sources("float: right; margin-right: 10px") == {
        "style-src-attr": ["'unsafe-hashes'", chrome]
    }


@pytest.mark.django_db
def test_only_the_browsable_api_allows_its_style_attribute(client):
    superuser = UserFactory(username="root-admin", is_staff=True, is_superuser=True)
    client.force_login(superuser)

    browsable = client.get("/api/customers/", headers={"accept": "text/html"})
    as_json = client.get("/api/customers/", headers={"accept": "application/json"})

    assert _directives(browsable)["style-src-attr"] == " ".join(BROWSABLE_API_CSP["style-src-attr"])
    for response in (browsable, as_json):
        assert _directives(response)["style-src"] == "'self'"
        assert _directives(response)["script-src"] == "'self'"
    assert "style-src-attr" not in _directives(as_json)


STRICT = {"script-src": "'self'", "style-src": "'self'"}
STAFF = {"script-src": "'self' 'unsafe-eval'", "style-src": "'self' 'unsafe-inline'"}


@pytest.mark.django_db
def test_the_staff_policy_covers_the_admin_and_the_reports_only(population, alice):
    superuser = UserFactory(username="root-admin", is_staff=True, is_superuser=True)
    staff, manager, customer, anonymous = Client(), Client(), Client(), Client()
    staff.force_login(superuser)
    manager.force_login(alice)
    customer.force_login(population["account"].user)
    grade = Grade.objects.first()
    expected = {
        # unfold's layout: Alpine.js needs 'unsafe-eval' and inline styles.
        (staff, reverse("admin:index")): STAFF,
        (staff, reverse("admin:grading_grade_history", args=[grade.pk])): STAFF,
        (staff, reverse("admin:grading_grade_change", args=[grade.pk])): STAFF,
        (staff, reverse("reports:index")): STAFF,
        (anonymous, reverse("admin:login")): STAFF,
        # Everything else keeps the strict policy.
        (customer, reverse("portal:home")): STRICT,
        (customer, reverse("portal:history")): STRICT,
        (anonymous, reverse("portal:login")): STRICT,
        (manager, reverse("manager:queue")): STRICT,
        (staff, "/api/customers/"): STRICT,
        (staff, "/api/docs/"): STRICT,
        (anonymous, "/no-such-page/"): STRICT,
    }

    found = {}
    for (client, url), policy in expected.items():
        response = client.get(url)
        assert response.status_code in {200, 404}, url
        directives = _directives(response)
        found[url] = {name: directives[name] for name in policy}
        assert "'unsafe-inline'" not in directives["script-src"], url
        assert directives["frame-ancestors"] == "'none'", url

    assert found == {url: policy for (_, url), policy in expected.items()}
