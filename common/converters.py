"""URL path converters of the API (registered in `CommonConfig.ready`)."""

from __future__ import annotations


class KeyConverter:
    """A row's key in a URL (a customer code, an order number): any text but "/" and NUL.

    PostgreSQL text cannot hold NUL, so a key with one cannot exist: the URL does not match
    (404, like any missing row) instead of failing inside the lookup. drf-spectacular
    documents the parameter with this pattern.
    """

    regex = r"[^/\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
