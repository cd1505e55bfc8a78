from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppealsConfig(AppConfig):
    """Downgrade appeals and their evidence (issue 4)."""

    name = "appeals"
    verbose_name = _("Appeals")

    def ready(self) -> None:
        from appeals.reports import SECTIONS
        from grading.reports import report_register

        for section in SECTIONS:
            report_register(section)
