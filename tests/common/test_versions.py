"""Values kept in the cache under a version (common.versions)."""

from __future__ import annotations

import pytest

from common.versions import version, version_replace, versioned


def counting():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    return calls, compute


def test_a_value_is_computed_once_then_comes_from_the_cache():
    calls, compute = counting()

    assert versioned("things", "k", compute, ttl=60) == 1
    assert versioned("things", "k", compute, ttl=60) == 1
    assert len(calls) == 1


@pytest.mark.django_db
def test_the_version_is_replaced_now_and_again_when_the_change_commits(
    django_capture_on_commit_callbacks,
):
    """A request between the change and its commit may have kept the old rows under the
    version of the moment: the commit leaves that version behind."""
    before = version("things")
    with django_capture_on_commit_callbacks(execute=True):
        version_replace("things")
        during = version("things")
    after = version("things")

    assert len({before, during, after}) == 3
    assert version("other-things") == version("other-things")


def test_keys_are_kept_apart():
    assert versioned("things", "en", lambda: "Key", ttl=60) == "Key"
    assert versioned("things", "zh-hans", lambda: "重点", ttl=60) == "重点"
    assert versioned("things", "en", lambda: "stale", ttl=60) == "Key"


@pytest.mark.django_db
def test_inside_a_transaction_the_value_is_read_and_not_kept():
    """It may hold the transaction's own rows, which a rollback would take back."""
    calls, compute = counting()

    versioned("things", "k", compute, ttl=60)
    versioned("things", "k", compute, ttl=60)

    assert len(calls) == 2
