from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from common.models import Notification


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
