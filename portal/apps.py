from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """The customer portal at /portal/: a customer's grade and why, benefits, appeals.

    An interface app (docs/architecture.md, "Layers"): it reads the domain apps through their
    selectors and acts through their services, and nothing imports it but `tierhub`.
    """

    name = "portal"
    verbose_name = _("Customer portal")
