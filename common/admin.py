from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from common.models import Notification


@admin.register(Notification)
class NotificationAdmin(ModelAdmin):
    list_display = ("title", "recipient", "kind", "created_at", "read_at")
    list_filter = ("kind",)
    list_select_related = ("recipient",)
    search_fields = ("title", "recipient__username")
    date_hierarchy = "created_at"
    readonly_fields = ("recipient", "kind", "title", "body", "link", "dedupe_key", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(recipient=request.user)
