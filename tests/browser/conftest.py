"""Browser tests: Playwright driving Debian's headless Chromium against `live_server`.

`playwright install` cannot download browsers here, so the launch points at
/usr/bin/chromium. Playwright runs an event loop in the test thread; Django's ORM calls
from the same thread are safe here, hence DJANGO_ALLOW_ASYNC_UNSAFE (set for this package's
tests only).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM) is None:
        skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


# pytest-playwright's playwright/browser fixtures are session-scoped: the event loop of its
# sync API would then outlive this package and make every later test look "async" to
# Django. The same fixtures, scoped to this package, stop Playwright when its tests are done.


@pytest.fixture(scope="package")
def playwright():
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="package")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args, browser_type):
    def launch(**kwargs):
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser):
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def _serialized_db_contents(django_db_setup, django_db_blocker):
    """The test database's serialized contents, read before Playwright starts.

    Django keeps them on the connection object, and connection objects live in a context
    variable; Playwright's sync API runs the test in another context (greenlets), where a
    fresh connection object lacks them, so `serialized_rollback` would restore nothing after
    an earlier transactional test flushed the database.
    """
    from django.db import connections

    return {
        alias: getattr(connections[alias], "_test_serialized_contents", None)
        for alias in connections
    }


@pytest.fixture(scope="package", autouse=True)
def _serialized_db_contents_restored(browser, _serialized_db_contents):
    """Give the connection objects of Playwright's context the serialized contents back."""
    from django.db import connections

    for alias, contents in _serialized_db_contents.items():
        if contents is not None and not hasattr(connections[alias], "_test_serialized_contents"):
            connections[alias]._test_serialized_contents = contents


@pytest.fixture(scope="package", autouse=True)
def _async_unsafe_allowed():
    """Allow the ORM in Playwright's event-loop thread, for the browser tests only.

    Set here rather than at import: the variable would leak into subprocesses of other tests
    (`manage.py check --deploy` rightly refuses it).
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, _serialized_db_contents):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": ARGS,
    }


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
