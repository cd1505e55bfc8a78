from typing import Any, ClassVar
from urllib.parse import parse_qsl

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList as DjangoChangeList
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import escape
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from unfold import admin as unfold_admin
from unfold import utils as unfold_utils
from unfold.decorators import display
from unfold.views import ChangeList as UnfoldChangeList

from common.models import Notification


class ChangeList(UnfoldChangeList):
    """unfold's ChangeList whose row links carry the list's filters without a URL resolve.

    The admin's `add_preserved_filters` resolves each row's change URL against every admin
    URL to ask whether it is the list itself (never, for a row): 50 resolves, about 6 ms of
    CPU, on every filtered, searched or paged list (bench/README.md, "Pages at scale").
    The row URL gets the list's filters here, the same query the tag would have written,
    and the tag, given none, leaves it as it is.
    """

    preserved_filters: str

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.row_filters = urlencode(dict(parse_qsl(self.preserved_filters)))
        self.preserved_filters = ""

    def url_for_result(self, result: Model) -> str:
        url = super().url_for_result(result)
        return f"{url}?{self.row_filters}" if self.row_filters else url


class ModelAdmin(unfold_admin.ModelAdmin):
    """unfold's ModelAdmin, the base of every TierHub admin.

    unfold's templates read `model_admin.list_sections` twice per list row and
    `model_admin.conditional_fields` once per form field; its ModelAdmin defines neither, and
    each failed template lookup lists the admin's attributes (`dir()`, ~0.1 ms): 10-13 ms of
    CPU per 50-row list page (bench/README.md, "Pages at scale"). Empty, they render the same.
    """

    list_sections: tuple[Any, ...] = ()
    conditional_fields: ClassVar[dict[str, str]] = {}

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[DjangoChangeList]:
        return ChangeList

    @display(description=unfold_admin.ModelAdmin.action_checkbox.short_description)
    def action_checkbox(self, obj: Model) -> SafeString:
        """unfold's row checkbox, its widget rendered once per language, not once per row."""
        language = get_language()
        html = _action_checkboxes.get(language)
        if html is None:
            html = unfold_admin.checkbox.render(helpers.ACTION_CHECKBOX_NAME, _PK_PLACEHOLDER)
            _action_checkboxes[language] = html
        return mark_safe(html.replace(_PK_PLACEHOLDER, escape(str(obj.pk))))


#: The row checkbox's HTML per language, with a placeholder where the row's key goes.
_action_checkboxes: dict[str | None, str] = {}
_PK_PLACEHOLDER = "tierhub-row-pk"

#: unfold's boolean icon per (language, state): None for unknown, else True or False.
_boolean_icons: dict[tuple[str | None, bool | None], str] = {}
_unfold_boolean_icon = unfold_utils._boolean_icon


def boolean_icon(value: Any) -> str:
    """unfold's icon of a boolean cell or field, its template rendered once per language.

    unfold renders `unfold/helpers/boolean.html` for every boolean cell of every list row
    (~0.1 ms each, bench/README.md "Pages at scale"); its output depends only on the language
    and on whether the value is unknown (None or ""), true or false.
    """
    state = None if value is None or value == "" else bool(value)
    key = (get_language(), state)
    html = _boolean_icons.get(key)
    if html is None:
        html = _boolean_icons[key] = _unfold_boolean_icon(value)
    return html


# unfold's list cells, readonly fields and display_for_value look the function up in
# unfold.utils when they run (tests/common/test_admin_base.py compares the output).
unfold_utils._boolean_icon = boolean_icon


@admin.register(Notification)
class NotificationAdmin(ModelAdmin):
    """Messages, worded in the reader's language (the search reads the default language's)."""

    list_display = ("message", "recipient", "created_at", "read_at")
    list_select_related = ("recipient",)
    search_fields = ("title", "recipient__username")
    date_hierarchy = "created_at"
    fields = ("recipient", "message", "text_body", "link", "created_at", "read_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(recipient=request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("message"), ordering="title")
    def message(self, obj: Notification) -> str:
        return obj.text.title

    @admin.display(description=_("text"))
    def text_body(self, obj: Notification) -> str:
        return obj.text.body
