from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.urls import register_converter
from django.utils.translation import gettext_lazy as _


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = _("Common")

    def ready(self) -> None:
        from common.converters import KeyConverter

        # `<key:code>` in the API's URLs: a row key that can exist (no "/", no NUL).
        register_converter(KeyConverter, "key")
        post_migrate.connect(_beat_schedule_sync, sender=self)


def _beat_schedule_sync(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """After every migrate (and test-database flush): the declared periodic jobs exist."""
    from common.schedule import beat_schedule_sync

    beat_schedule_sync(using=using)
