from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GradingConfig(AppConfig):
    name = "grading"
    verbose_name = _("Grading")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from customers.services.imports import customer_import_columns_ignore
        from grading.customer_export import GRADE_COLUMNS
        from grading.triggers import post_migrate_trigger_ensure

        # A customer export carries grades and scores; its import reads past them.
        customer_import_columns_ignore(*GRADE_COLUMNS)

        post_migrate.connect(post_migrate_trigger_ensure, sender=self)
        # Committed order writes enqueue the provisional upgrade check (docs/grading-policy.md).
        from grading.handlers import connect_signals

        connect_signals()
