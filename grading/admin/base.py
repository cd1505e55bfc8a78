"""Shared admin pieces: read-only admins, history that never writes, confirmation pages."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from simple_history.admin import SimpleHistoryAdmin

from common.admin import ModelAdmin
from common.exceptions import ConflictError, DomainError
from grading.forms import add_domain_error

#: Selected rows listed by name on a confirmation page; the rest are counted.
CONFIRM_LIST_LIMIT = 20


class ReadOnlyAdminMixin:
    """Rows written only by services: browse, never add, edit or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class GuardedHistoryAdmin(SimpleHistoryAdmin, ModelAdmin):
    """simple_history's pages, but a revert needs the permission to change the object.

    simple_history accepts a POST on an object's history page from anyone who may *view*
    the object and saves the old version; rows the admin keeps read-only (an active scheme,
    an override) must not be rewritten that way.
    """

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST":
            obj = self.get_object(request, unquote(object_id))
            if obj is None or not self.has_change_permission(request, obj):
                raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


def confirmed_action(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    form_class: type[forms.Form],
    perform: Callable[[dict[str, Any]], str],
    title: str,
    intro: str,
    submit_label: str,
    describe: Callable[[Any], str] = str,
) -> TemplateResponse | None:
    """Run the admin action named `action` behind a confirmation page for `form_class`.

    The first POST (from the changelist) renders the page; the page posts back with
    `confirm`, and a valid form calls `perform(cleaned_data)`, which calls the service and
    returns the one-line summary shown with `message_user`. A DomainError naming a form
    field is shown on the page; a ConflictError (decided meanwhile) returns to the list.
    """
    if "confirm" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            try:
                summary = perform(form.cleaned_data)
            except ConflictError as error:
                model_admin.message_user(request, error.message, messages.ERROR)
                return None
            except DomainError as error:
                add_domain_error(form, error)
            else:
                model_admin.message_user(request, summary, messages.SUCCESS)
                return None
    else:
        form = form_class()
    count = queryset.count()
    items: Iterable[Any] = queryset[:CONFIRM_LIST_LIMIT]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "submit_label": submit_label,
        "opts": model_admin.model._meta,
        "items": [describe(item) for item in items],
        "more": max(count - CONFIRM_LIST_LIMIT, 0),
        "form": form,
        "media": model_admin.media + form.media,
        "action": action,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/grading/action_confirmation.html", context)
