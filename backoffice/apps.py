from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """The operations back office: the admin's dashboard and the customer 360 page.

    An interface app (docs/architecture.md, "Layers"): it reads every domain app through
    their selectors and acts through their services, and nothing imports it but `tierhub`.
    """

    name = "backoffice"
    verbose_name = _("Back office")

    def ready(self) -> None:
        # A grade change's admin page shows the follow-ups and appeals beside its
        # explanation: grading declares the sections, this interface app fills them.
        from backoffice.reviews import register_change_sections

        register_change_sections()
