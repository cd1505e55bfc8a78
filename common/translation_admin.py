"""The admin of a model with translated fields (django-modeltranslation): every language's
field on one form, one language at a time behind tabs (docs/operations.md, "Bilingual data").

modeltranslation's `TabbedTranslationAdmin` loads jQuery UI from a CDN, which the site's
Content-Security-Policy refuses; these tabs are a small script served by the site
(static/js/translation-tabs.js), which finds each translated field by the
`data-translation-language` attribute set here.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from modeltranslation.admin import TranslationAdmin


class TranslationTabsAdmin(TranslationAdmin[Any]):
    """`TranslationAdmin` with language tabs; put after unfold's ModelAdmin in the bases."""

    class Media:
        js = ("js/translation-tabs.js",)
        css = {"all": ("css/translation-tabs.css",)}

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        for fields in self.trans_opts.all_fields.values():
            for field in fields:
                if field.name in form.base_fields:
                    widget = form.base_fields[field.name].widget
                    widget.attrs["data-translation-language"] = field.language
        return form
