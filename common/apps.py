from django.apps import AppConfig
from django.urls import register_converter
from django.utils.translation import gettext_lazy as _


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = _("Common")

    def ready(self) -> None:
        from common.converters import KeyConverter

        # `<key:code>` in the API's URLs: a row key that can exist (no "/", no NUL).
        register_converter(KeyConverter, "key")
