"""Grade overrides: pin a customer's grade from the add form, end pins with an action.

An override is never edited: the add form calls `grade_override_set`, ending one is the
"End selected overrides" action (`grade_override_end`), and its history is read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from common.actors import acting_user
from common.exceptions import DomainError
from customers.admin import CustomerScopedAdmin
from grading.admin.base import GuardedHistoryAdmin, confirmed_action
from grading.forms import EndOverridesForm, GradeOverrideAddForm
from grading.models import GradeOverride
from grading.services.overrides import grade_override_end, grade_override_set

ADD_FIELDS = ("customer", "grade", "reason", "expires_on")
VIEW_FIELDS = (
    "customer",
    "grade",
    "source",
    "reason",
    "expires_on",
    "created_by",
    "created_at",
    "ended_at",
    "ended_by",
    "end_reason",
)


class OverrideStateFilter(admin.SimpleListFilter):
    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", gettext_lazy("Active")), ("ended", gettext_lazy("Ended"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "active":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "ended":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(GradeOverride)
class GradeOverrideAdmin(CustomerScopedAdmin, GuardedHistoryAdmin):
    list_display = (
        "customer",
        "grade",
        "source",
        "expires_on",
        "created_by",
        "created_at",
        "ended_at",
        "end_reason",
    )
    list_filter = (OverrideStateFilter, "source", "grade")
    list_select_related = ("customer", "grade", "created_by")
    search_fields = ("customer__code", "customer__name", "reason")
    autocomplete_fields = ("customer",)
    actions = ("end_overrides",)
    show_full_result_count = False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ADD_FIELDS if obj is None else VIEW_FIELDS

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = GradeOverrideAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Existing overrides are never edited (the change page is a read-only view).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An override is part of the audited history of the customer's grade.
        return False

    def has_end_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("grading.change_gradeoverride")

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The form checked the input already; a rule the service still refuses (an override
        # set concurrently) rolls the admin's transaction back and is reported here.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: GradeOverride, form: Any, change: bool) -> None:
        """Set the override through the service (ends the previous one, audits, pins)."""
        if change:
            raise PermissionDenied
        data = form.cleaned_data
        override = grade_override_set(
            customer=data["customer"],
            grade=data["grade"],
            reason=data["reason"],
            expires_on=data["expires_on"],
            by=acting_user(request.user),
        )
        # The admin goes on with `obj` (log entry, redirect): make it the saved row.
        for field in GradeOverride._meta.concrete_fields:
            setattr(obj, field.attname, getattr(override, field.attname))
        obj._state.adding = False

    @admin.action(description=gettext_lazy("End selected overrides"), permissions=["end"])
    def end_overrides(
        self, request: HttpRequest, queryset: QuerySet[GradeOverride]
    ) -> TemplateResponse | None:
        def perform(data: dict[str, Any]) -> str:
            selected = list(queryset.order_by("pk"))
            active = [o for o in selected if o.ended_at is None]
            with transaction.atomic():
                for override in active:
                    grade_override_end(
                        override=override, by=acting_user(request.user), reason=data["reason"]
                    )
            return ngettext(
                "Ended %(ended)d override; %(skipped)d had already ended.",
                "Ended %(ended)d overrides; %(skipped)d had already ended.",
                len(active),
            ) % {
                "ended": len(active),
                "skipped": len(selected) - len(active),
            }

        return confirmed_action(
            self,
            request,
            queryset,
            action="end_overrides",
            form_class=EndOverridesForm,
            perform=perform,
            title=_("End overrides"),
            intro=_(
                "These customers keep their current grade until the next grading run "
                "decides it normally."
            ),
            submit_label=_("Yes, end them"),
        )
