from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppealsConfig(AppConfig):
    """Downgrade appeals and their evidence (issue 4)."""

    name = "appeals"
    verbose_name = _("Appeals")
