from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BenefitsConfig(AppConfig):
    """Benefits, redemptions, growth points and service levels (issue 5)."""

    name = "benefits"
    verbose_name = _("Benefits")

    def ready(self) -> None:
        from benefits.models import Benefit, GradeBenefit
        from benefits.reports import SECTIONS
        from grading.handlers import ladder_changed_on
        from grading.reports import report_register

        # The published ladder shows each grade's benefits (grading.selectors.LADDER_VERSION).
        ladder_changed_on(Benefit, GradeBenefit)

        for section in SECTIONS:
            report_register(section)
