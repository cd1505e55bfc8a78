"""Abstract bases with no single owner."""

from django.conf import settings
from django.db import models
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from common.messages import MessageText, message_kind_known, message_render


class TimeStampedModel(models.Model):
    """Add `created_at` / `updated_at` bookkeeping columns."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class Notification(models.Model):
    """An in-app message to one user; e-mail copies are sent on commit by the same service.

    What it says is `kind` plus `params`, worded for whoever reads it (`text`, in the active
    language; common.messages). `title` and `body` keep the words in the site's default
    language at sending time, for the admin's search. `dedupe_key` makes sending
    idempotent: one event never notifies the same user twice.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=40)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True)
    dedupe_key = models.CharField(_("deduplication key"), max_length=150)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"], name="notification_once_per_event"
            ),
        ]
        indexes = [
            models.Index(
                fields=["recipient", "created_at"],
                name="notification_unread_idx",
                condition=models.Q(read_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.text.title

    @cached_property
    def text(self) -> MessageText:
        """The message in the active language.

        Rows written before messages had parameters (and any kind no app declares) read as
        their stored words.
        """
        if self.params and message_kind_known(self.kind):
            return message_render(self.kind, self.params)
        return MessageText(self.title, self.body)


class UserPreference(models.Model):
    """What a person chose for themselves: the language their e-mails are written in.

    Recorded when they log in (the language their browser or their choice gave the site)
    and when they switch language (common.views.language_set).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="preference",
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_language_display()})"
