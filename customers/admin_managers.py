"""The account-manager picker of the customer forms, and the assignment it saves.

Django's own autocomplete answers from the *User* admin, and only to people allowed to view
users: Operations are not (and should not browse every login, portal logins included), so
it answered 403. The picker asks the customer admin instead, which offers only staff users,
account managers first (`customers.selectors.account_manager_candidates`), to whoever may add
or change customers. Saving a new manager goes through `customer_manager_assign`, which
writes the audit row (docs/operations.md, "The customer page").
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _

from common.actors import acting_user
from customers import selectors
from customers.services.managers import customer_manager_assign

#: Rows per page of the picker's answer (Select2 asks for the next page on scroll).
PICKER_PAGE_SIZE = 20


class StaffUserChoiceField(forms.ModelChoiceField):
    """A staff user, named by full name and username rather than the username alone."""

    def label_from_instance(self, obj: Any) -> str:
        return selectors.account_manager_label(obj)


class AccountManagerSelect(AutocompleteSelect):
    """Django's autocomplete widget, answered by the customer admin's own endpoint."""

    def get_url(self) -> str:
        return reverse(f"{self.admin_site.name}:customers_customer_account_managers")


class AccountManagerPickerMixin:
    """For the customer ModelAdmin: the picker's endpoint, its form field, and its save."""

    admin_site: Any
    opts: Any

    def get_urls(self) -> list[Any]:
        picker = self.admin_site.admin_view(self.account_managers_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_account_managers"
        urls: list[Any] = super().get_urls()  # type: ignore[misc]
        return [path("account-managers/", picker, name=name), *urls]

    def account_managers_view(self, request: HttpRequest) -> JsonResponse:
        """Answer the picker (Select2's format): staff users matching `term`, managers first.

        Open to whoever may add or change customers; an account manager (view only) and a
        portal login (not staff: the admin sends them to its login page) cannot list users.
        """
        if not (self.has_add_permission(request) or self.has_change_permission(request)):  # type: ignore[attr-defined]
            raise PermissionDenied
        users = selectors.account_manager_candidates(term=request.GET.get("term", "")[:100])
        page = Paginator(users, PICKER_PAGE_SIZE).get_page(request.GET.get("page"))
        groups: dict[bool, list[dict[str, str]]] = {True: [], False: []}
        for user in page:
            groups[bool(getattr(user, "is_manager", False))].append(
                {"id": str(user.pk), "text": selectors.account_manager_label(user)}
            )
        results = [
            {"text": title, "children": children}
            for title, children in (
                (_("Account managers"), groups[True]),
                (_("Other staff"), groups[False]),
            )
            if children
        ]
        return JsonResponse({"results": results, "pagination": {"more": page.has_next()}})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "account_manager":
            kwargs["queryset"] = selectors.account_manager_candidates()
            kwargs["form_class"] = StaffUserChoiceField
            kwargs["widget"] = AccountManagerSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]
        field = form.base_fields.get("account_manager")
        if field is not None and obj is not None and obj.account_manager_id is not None:
            # The current manager stays valid even after leaving (inactive), so the rest of
            # the customer can still be edited; a new choice must be active staff.
            field.queryset = get_user_model().objects.filter(
                Q(is_staff=True, is_active=True) | Q(pk=obj.account_manager_id)
            )
        return form

    def save_model(
        self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool
    ) -> None:
        """Save the customer; a new account manager goes through the assignment service."""
        if "account_manager" not in form.changed_data:
            super().save_model(request, obj, form, change)  # type: ignore[misc]
            return
        manager = obj.account_manager
        # The other fields are saved as edited, the manager as it was; the service then
        # moves it and writes the audit row (the admin's view runs in one transaction).
        obj.account_manager_id = form.initial.get("account_manager") if change else None
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        customer = customer_manager_assign(
            customer_id=obj.pk, manager=manager, by=acting_user(request.user)
        )
        obj.account_manager = customer.account_manager
