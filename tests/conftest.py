"""Project-wide fixtures: a small named cast of actors.

- ``ops``: an Operations staff user (sees everything in the admin).
- ``alice`` / ``bob``: account managers, each with their own customers.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from common.roles import ACCOUNT_MANAGERS, OPERATIONS
from tests.celery_worker import celery_worker_process  # noqa: F401  (fixture)
from tests.customers.factories import CustomerFactory, UserFactory


@pytest.fixture
def ops(db):
    return UserFactory(
        username="olivia-ops", is_staff=True, groups=[Group.objects.get(name=OPERATIONS)]
    )


@pytest.fixture
def alice(db):
    return UserFactory(
        username="alice-am", is_staff=True, groups=[Group.objects.get(name=ACCOUNT_MANAGERS)]
    )


@pytest.fixture
def bob(db):
    return UserFactory(
        username="bob-am", is_staff=True, groups=[Group.objects.get(name=ACCOUNT_MANAGERS)]
    )


@pytest.fixture
def alices_customer(alice):
    return CustomerFactory(code="ALICE-1", name="Alice's customer", account_manager=alice)


@pytest.fixture
def bobs_customer(bob):
    return CustomerFactory(code="BOB-1", name="Bob's customer", account_manager=bob)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (report tables, portal estimates)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _english():
    """Each test starts in English: a request in another language must not leak into the next."""
    from django.utils import translation

    with translation.override("en"):
        yield


def pytest_collection_modifyitems(config, items):
    """Skip tests marked `services` on a quick run without the harness's servers."""
    from tests.harness import services_available

    if services_available():
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL + Redis (TIERHUB_TEST_SERVICES=off)")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)
