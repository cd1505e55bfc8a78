"""Staff roles (auth groups) and the helper data migrations use to grant permissions.

Each app grants its own permissions to the roles in its own data migration, so adding an app
never means editing another app's migration.
"""

from __future__ import annotations

from typing import Any

OPERATIONS = "Operations"
ACCOUNT_MANAGERS = "Account managers"
ROLES = (OPERATIONS, ACCOUNT_MANAGERS)

FULL = ("add", "change", "delete", "view")


def grant_permissions(apps: Any, grants: dict[str, dict[str, tuple[str, ...]]]) -> None:
    """Give each group the listed permissions: {group: {"app_label.model": actions or codenames}}.

    Permissions are normally created after all migrations ran (post_migrate); create them
    now so a fresh database gets its roles in one `migrate`.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for group_name, per_model in grants.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        for dotted, actions in per_model.items():
            app_label, model = dotted.split(".")
            codenames = [a if "_" in a else f"{a}_{model}" for a in actions]
            perms = permission_model.objects.filter(
                content_type__app_label=app_label, codename__in=codenames
            )
            missing = set(codenames) - set(perms.values_list("codename", flat=True))
            if missing:
                raise LookupError(f"Unknown permissions for {dotted}: {sorted(missing)}")
            group.permissions.add(*perms)
