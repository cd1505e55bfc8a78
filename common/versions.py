"""Values read once and kept in the cache under a version that changes with their rows.

A page that shows the same few rows to everyone (the published ladder, the grades) need not
ask the database on every request: the value is cached under a *version* of what it was
read from, and a change to those rows replaces the version (signals connected by the app
that owns the value), so every process reads the new rows on its next request. The version
is replaced again when the changing transaction commits, so a request that read the old
rows in between cannot keep them; a value read inside a transaction is never cached (it may
hold the transaction's own uncommitted rows). Changes made past the ORM's signals (raw SQL,
`QuerySet.update`) are seen after the value's time to live at the latest.
docs/operations.md, "Caches".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection, transaction


def version_key(name: str) -> str:
    """The cache key holding the version of `name`."""
    return f"{name}-version"


def version(name: str, *, ttl: int | None = None) -> str:
    """The current version of `name` (a new one when the cache has none).

    `ttl` bounds how long a version is kept (one per user, say): a version that ran out is
    replaced by a new one, which only makes the values kept under the old one unreachable.
    """
    key = version_key(name)
    current = cache.get(key)
    if current is None:
        cache.add(key, uuid.uuid4().hex, ttl)
        current = cache.get(key) or ""
    return str(current)


def version_replace(*names: str, ttl: int | None = None) -> None:
    """Make every process read the rows of each of `names` afresh: now and when the
    transaction commits (a request between the two may have read the rows before the change).
    `ttl` as for `version`."""

    def replace() -> None:
        cache.set_many({version_key(name): uuid.uuid4().hex for name in names}, ttl)

    replace()
    transaction.on_commit(replace)


def versioned[T](name: str, key: str, compute: Callable[[], T], *, ttl: int) -> T:
    """Return `compute()`, kept `ttl` seconds under `key` and the current version of `name`.

    Inside a transaction the value is computed and not kept: it may hold rows the
    transaction wrote and could still roll back.
    """
    if connection.in_atomic_block:
        return compute()
    cache_key = f"{name}:{version(name)}:{key}"
    value = cache.get(cache_key)
    if value is None:
        value = compute()
        cache.set(cache_key, value, ttl)
    return value
