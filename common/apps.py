from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_migrate, post_save
from django.http import HttpRequest
from django.urls import register_converter
from django.utils import translation
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _

#: The signals that replace a recipient's notifications version, with their receivers' ids.
NOTIFICATION_RECEIVERS = (
    (post_save, "common.notification_saved"),
    (post_delete, "common.notification_deleted"),
)


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = _("Common")

    def ready(self) -> None:
        from common.converters import KeyConverter
        from common.permissions import connect_signals

        # A permission change reaches every process's cached permission sets at once.
        connect_signals()

        # `<key:code>` in the API's URLs: a row key that can exist (no "/", no NUL).
        register_converter(KeyConverter, "key")
        post_migrate.connect(_beat_schedule_sync, sender=self)
        user_logged_in.connect(_language_remember, dispatch_uid="common.language_remember")
        # A notification saved or deleted one by one (the admin) shows in its recipient's
        # unread count at once (common.selectors).
        notification = self.get_model("Notification")
        for signal, uid in NOTIFICATION_RECEIVERS:
            signal.connect(_notification_changed, sender=notification, dispatch_uid=uid)
        # Each app words its notifications in its own `messages.py` (common.messages).
        autodiscover_modules("messages")


def _language_remember(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """At login, remember the language the person is using: their e-mails are written in it."""
    from common.services import user_language_set

    if request is not None:
        user_language_set(user=user, language=translation.get_language() or "")


def _notification_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from common.selectors import NOTIFICATIONS_TTL, notifications_version
    from common.versions import version_replace

    version_replace(notifications_version(instance.recipient_id), ttl=NOTIFICATIONS_TTL)


def _beat_schedule_sync(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """After every migrate (and test-database flush): the declared periodic jobs exist."""
    from common.schedule import beat_schedule_sync

    beat_schedule_sync(using=using)
