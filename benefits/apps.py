from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BenefitsConfig(AppConfig):
    """Benefits, redemptions, growth points and service levels (issue 5)."""

    name = "benefits"
    verbose_name = _("Benefits")

    def ready(self) -> None:
        from benefits.reports import SECTIONS
        from grading.reports import report_register

        for section in SECTIONS:
            report_register(section)
