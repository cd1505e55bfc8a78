from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GradingConfig(AppConfig):
    name = "grading"
    verbose_name = _("Grading")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from grading.triggers import post_migrate_trigger_ensure

        post_migrate.connect(post_migrate_trigger_ensure, sender=self)
