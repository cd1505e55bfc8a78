from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """The operations back office: the admin's dashboard and the customer 360 page.

    An interface app (docs/architecture.md, "Layers"): it reads every domain app through
    their selectors and acts through their services, and nothing imports it but `tierhub`.
    """

    name = "backoffice"
    default = True  # the module's other config, AdminConfig, is django.contrib.admin's
    verbose_name = _("Back office")

    def ready(self) -> None:
        # A grade change's admin page shows the follow-ups and appeals beside its
        # explanation: grading declares the sections, this interface app fills them.
        from backoffice.reviews import register_change_sections

        register_change_sections()


class AdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the site of `backoffice.site` (unfold's, its app list and
    sidebar kept per permission set); settings.INSTALLED_APPS names it for the admin."""

    default = False
    default_site = "backoffice.site.BackofficeAdminSite"
