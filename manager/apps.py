from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ManagerConfig(AppConfig):
    """The account managers' workspace at /manager/: the queue of their customers.

    An interface app (docs/architecture.md, "Layers"): it reads the domain apps through their
    selectors and acts through their services, and nothing imports it but `tierhub`. The
    queue's needs table (`appeals.QueueNeeds`, a model of `appeals`) is maintained here.
    """

    name = "manager"
    verbose_name = _("Manager workspace")

    def ready(self) -> None:
        from manager.needs import connect_signals

        connect_signals()  # the manager queue's needs table follows its inputs
