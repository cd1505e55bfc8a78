"""The admin site: unfold's, with the app list and the sidebar built once per permission set.

Django builds the admin's app list (every registered model the user may see, with its links)
on every admin page, twice on the admin home, and unfold builds the sidebar of
`backoffice/navigation.py` on every page too: ~8 ms of CPU per request (issue #19). Both
depend only on what the user may do (active, staff, superuser, their permissions), the
language and the registered models, so `BackofficeAdminSite` keeps them in this process
keyed by exactly that: a permission change makes a new key at once (the permission sets
themselves come from `common.permissions`, which sees every change), registering a model
empties the store, and a deploy starts new processes. What depends on the request's path
(which sidebar link is active) is computed per request. docs/operations.md, "The admin".
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

from django.http import HttpRequest
from django.urls import get_script_prefix
from django.utils import translation
from unfold.sites import UnfoldAdminSite

#: Distinct permission sets x languages kept per process before the store starts over.
MAX_KEPT = 512


def viewer_key(request: HttpRequest) -> tuple[Hashable, ...]:
    """What the app list and the sidebar depend on for this request's user."""
    user = request.user
    language = translation.get_language()
    if user.is_anonymous or not user.is_active:
        return (language, get_script_prefix(), "nobody")
    if user.is_superuser:
        permissions: frozenset[str] = frozenset()
    else:
        permissions = frozenset(user.get_all_permissions())
    return (language, get_script_prefix(), user.is_staff, user.is_superuser, permissions)


class BackofficeAdminSite(UnfoldAdminSite):
    """unfold's admin site, its app list and sidebar kept per permission set and language."""

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self._kept: dict[tuple[Hashable, ...], Any] = {}
        self._kept_lock = threading.Lock()

    # ---------------------------------------------------------------- the store
    def _keep(self, key: tuple[Hashable, ...], value: Any) -> None:
        with self._kept_lock:
            if len(self._kept) >= MAX_KEPT:
                self._kept.clear()
            self._kept[key] = value

    def forget(self) -> None:
        """Drop everything kept (the registered models changed)."""
        with self._kept_lock:
            self._kept.clear()

    def register(self, *args: Any, **kwargs: Any) -> None:
        super().register(*args, **kwargs)
        self.forget()

    def unregister(self, *args: Any, **kwargs: Any) -> None:
        super().unregister(*args, **kwargs)
        self.forget()

    # ---------------------------------------------------------------- the app list
    def _build_app_dict(self, request: HttpRequest, label: str | None = None) -> dict[str, Any]:
        key = ("apps", label, *viewer_key(request))
        app_dict = self._kept.get(key)
        if app_dict is None:
            app_dict = super()._build_app_dict(request, label)
            self._keep(key, app_dict)
        # Callers sort the lists in place: each request gets its own dicts and lists.
        return {
            app_label: {**app, "models": [dict(model) for model in app["models"]]}
            for app_label, app in app_dict.items()
        }

    # ---------------------------------------------------------------- the sidebar
    def get_sidebar_list(self, request: HttpRequest) -> list[dict[str, Any]]:
        key = ("sidebar", *viewer_key(request))
        groups = self._kept.get(key)
        if groups is None:
            groups = super().get_sidebar_list(request)
            navigation = self._get_value(
                self._get_config("SIDEBAR", request).get("navigation"), request
            )
            if not _keepable(navigation or []) or self._get_config("TABS", request):
                # Badges are counted per request, tabs mark links active their own way.
                return groups
            self._keep(key, groups)
        # Which link is active depends on the request's path: computed as unfold does.
        return [
            {
                **group,
                "items": [
                    {**item, "active": self._get_is_active(request, item["link"])}
                    for item in group["items"]
                ],
            }
            for group in groups
        ]


def _keepable(navigation: list[dict[str, Any]]) -> bool:
    """A sidebar of plain links only: no badges, callable links, active flags of its own or
    nested items, so nothing in it depends on the request but the permissions."""
    per_request = ("badge", "active", "items")
    for group in navigation:
        if "badge" in group:
            return False
        for item in group["items"]:
            if item is None:
                continue
            if any(name in item for name in per_request) or not isinstance(item.get("link"), str):
                return False
    return True
