"""Staff permissions read once, not on every request (issue #19).

Django's `ModelBackend` asks the database for a user's own and their groups' permissions on
every request that checks one (two queries on every admin, reports and manager page: the
sets live on the request's user object only). `CachedModelBackend` keeps both sets in the
cache, keyed by the user, whether they are a superuser, and a *permissions version*: any
change to who has which permission (a user's permissions or groups, a group's permissions,
a group or permission deleted) replaces the version, so every process reads the new sets on
its next request. The version is replaced again when the changing transaction commits, so a
request that read the old rows in between cannot keep them.

Every `migrate` replaces the version too (a deploy's data migrations grant permissions
through historical models). Changes made past the ORM's signals (raw SQL) are seen after
`PERMISSIONS_TTL` at the latest; `permissions_changed()` applies them at once. The
superuser flag is part of the key and `is_active` is read with the user on every request.
docs/operations.md, "Permissions and the cache".
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

from common.versions import version, version_key, version_replace

VERSION_NAME = "auth-permissions"
VERSION_KEY = version_key(VERSION_NAME)
#: Seconds a user's permission sets stay cached without any change signalled.
PERMISSIONS_TTL = 600


def permissions_version() -> str:
    """The current permissions version (a new one when the cache has none)."""
    return version(VERSION_NAME)


def permissions_changed() -> None:
    """Make every process read the permission sets afresh: now and when the transaction
    commits (a request between the two may have read the rows before the change)."""
    version_replace(VERSION_NAME)


class CachedModelBackend(ModelBackend):
    """`ModelBackend` whose user and group permission sets come from the cache."""

    def _get_permissions(self, user_obj: Any, obj: Any, from_name: str) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        attribute = f"_{from_name}_perm_cache"
        if not hasattr(user_obj, attribute):
            key = (
                f"auth-permissions:{permissions_version()}:{user_obj.pk}"
                f":{int(user_obj.is_superuser)}"
            )
            sets = cache.get(key)
            if sets is None:
                base = ModelBackend._get_permissions  # type: ignore[attr-defined]
                sets = {name: base(self, user_obj, None, name) for name in ("user", "group")}
                cache.set(key, sets, PERMISSIONS_TTL)
            user_obj._user_perm_cache = sets["user"]
            user_obj._group_perm_cache = sets["group"]
        return getattr(user_obj, attribute)


def _on_membership_change(action: str, **kwargs: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        permissions_changed()


def _on_change(**kwargs: Any) -> None:
    permissions_changed()


def connect_signals() -> None:
    """Replace the permissions version whenever who-may-what changes (CommonConfig.ready)."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    for through in (
        user_model.groups.through,
        user_model.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(
            _on_membership_change, sender=through, dispatch_uid=f"perm-version-{through}"
        )
    for model in (Group, Permission):
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"perm-version-del-{model}")
    post_save.connect(_on_change, sender=Permission, dispatch_uid="perm-version-save-permission")
    # A deploy's data migrations grant permissions through historical models (no signals
    # of ours): every migrate ends with a new version.
    post_migrate.connect(_on_change, dispatch_uid="perm-version-migrate")
