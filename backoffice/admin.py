"""The customer page of the admin as the customer 360: everything about one customer, on one page.

The customer admin is registered by `customers` and extended by the apps above it (grading adds
the export); this module registers it once more, as a subclass of whatever is registered,
whose change view shows above the edit form: the grade with since, pin and expiry; the latest
scores and their explanation (`grading.admin.explanations`); the pending proposal with
Approve / Reject in place (the review services, the review queue's permission); grade
history with each change's reason; appeals; follow-ups; redemptions and points; recent
orders; and the "Override grade" and "Invite to the portal" actions. Each section shows the
latest rows and links to the full list, filtered. See docs/operations.md, "The customer page".
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from backoffice import admin_packages  # noqa: F401  (the packages' admins on unfold's classes)
from backoffice.selectors import Customer360, customer_360_get
from common.actors import acting_user
from common.exceptions import DomainError
from customers.admin import CustomerAdmin
from customers.models import Customer
from grading.admin.explanations import explain_snapshot
from grading.admin.reviews import REVIEW_PERMISSION
from grading.forms import ApproveChangesForm, RejectChangesForm
from grading.selectors import grade_change_review_queue
from grading.services.reviews import ReviewResult, grade_change_approve, grade_change_reject

OVERRIDE_PERMISSION = "grading.add_gradeoverride"
#: Fields of the customers' edit form that the 360 above it shows better (and bounded).
SHOWN_ABOVE = frozenset({"current_grade", "recent_orders"})


def _registered_customer_admin() -> type[CustomerAdmin]:
    """Return the class of the customer admin registered so far (customers' or a subclass)."""
    model_admin = admin.site.get_model_admin(Customer)
    if not isinstance(model_admin, CustomerAdmin):
        raise TypeError(f"The customer admin is {type(model_admin)}, not a CustomerAdmin.")
    return type(model_admin)


RegisteredCustomerAdmin = _registered_customer_admin()
admin.site.unregister(Customer)


def _filtered(request: HttpRequest, name: str, customer: Customer, **extra: str) -> str:
    """Return the admin list `name` ("app_model") filtered on the customer (and `extra`).

    Empty when the user may not view that list (an account manager has no runs or ledger).
    """
    app_label, model_name = name.split("_", 1)
    if not request.user.has_perm(f"{app_label}.view_{model_name}"):
        return ""
    query = urlencode({"customer__id__exact": str(customer.pk), **extra})
    return f"{reverse(f'admin:{name}_changelist')}?{query}"


def _review_summary(result: ReviewResult) -> str:
    if result.applied:
        return _("Approved: the customer's grade changed.")
    if result.rejected:
        return _("Rejected: the customer keeps their grade.")
    if result.superseded:
        return _("Not applied: the customer's grade changed or was pinned after the proposal.")
    return _("This grade change was already decided.")


@admin.register(Customer)
class Customer360Admin(RegisteredCustomerAdmin):  # type: ignore[misc,valid-type]
    change_form_template = "admin/backoffice/customer_change_form.html"

    def view_on_site(self, obj: Customer) -> str:
        """The account manager's page of the customer (Operations may open it too)."""
        return reverse("manager:customer", args=[obj.pk])

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        trimmed = [
            (name, {**options, "fields": [f for f in options["fields"] if f not in SHOWN_ABOVE]})
            for name, options in fieldsets
        ]
        return [(name, options) for name, options in trimmed if options["fields"]]

    def get_urls(self) -> list[Any]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        decide = self.admin_site.admin_view(self.decide_view)
        invite = self.admin_site.admin_view(self.invite_view)
        return [
            path("<path:object_id>/decide/", decide, name=f"{info}_decide"),
            path("<path:object_id>/invite/", invite, name=f"{info}_invite"),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        customer = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if customer is not None:
            context["customer360"] = self._page(request, customer)
        return super().change_view(request, object_id, form_url, context)

    def _page(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        data: Customer360 = customer_360_get(customer=customer)
        user = request.user
        can_review = user.has_perm(REVIEW_PERMISSION)
        return {
            "data": data,
            "today": timezone.localdate(),
            "explanation": explain_snapshot(data.snapshot) if data.snapshot else None,
            "can_review": can_review,
            "can_open_run": user.has_perm("grading.view_gradingrun"),
            "approve_form": ApproveChangesForm(prefix="approve") if can_review else None,
            "reject_form": RejectChangesForm(prefix="reject") if can_review else None,
            "can_override": user.has_perm(OVERRIDE_PERMISSION),
            "override_url": (
                f"{reverse('admin:grading_gradeoverride_add')}?"
                f"{urlencode({'customer': customer.pk})}"
            ),
            "can_invite": self.has_invite_permission(request),
            "manager_page_url": reverse("manager:customer", args=[customer.pk]),
            "lists": {
                "history": _filtered(request, "grading_gradeauditentry", customer),
                "changes": _filtered(request, "grading_gradechange", customer, status="all"),
                "appeals": _filtered(request, "appeals_appeal", customer),
                "follow_ups": _filtered(request, "appeals_followup", customer),
                "redemptions": _filtered(request, "benefits_redemption", customer),
                "points": _filtered(request, "customers_pointsentry", customer),
                "orders": _filtered(request, "customers_order", customer),
            },
        }

    def _customer_or_404(self, request: HttpRequest, object_id: str) -> Customer:
        customer = self.get_object(request, unquote(object_id))
        if customer is None:  # missing, or another manager's: the same answer
            raise Http404
        return customer

    def _back(self, customer: Customer, anchor: str) -> HttpResponseRedirect:
        url = reverse("admin:customers_customer_change", args=[customer.pk])
        return HttpResponseRedirect(f"{url}#{anchor}")

    def decide_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Approve or reject the customer's pending proposal (POST), as the review queue does."""
        if request.method != "POST":
            return HttpResponse(status=405)
        customer = self._customer_or_404(request, object_id)
        if not request.user.has_perm(REVIEW_PERMISSION):
            raise PermissionDenied
        change_id = request.POST.get("change", "")
        change = (
            grade_change_review_queue(user=request.user)
            .filter(customer=customer, pk=int(change_id) if change_id.isdigit() else 0)
            .first()
        )
        if change is None:
            raise Http404
        by = acting_user(request.user)
        try:
            if request.POST.get("decision") == "approve":
                approve = ApproveChangesForm(request.POST, prefix="approve")
                approve.is_valid()
                result = grade_change_approve(
                    change_ids=[change.pk], by=by, note=approve.cleaned_data.get("note", "")
                )
            else:
                reject = RejectChangesForm(request.POST, prefix="reject")
                if not reject.is_valid():
                    for error in reject.errors.get("reason", []):
                        self.message_user(request, error, messages.ERROR)
                    return self._back(customer, "proposal")
                result = grade_change_reject(
                    change_ids=[change.pk], by=by, reason=reject.cleaned_data["reason"]
                )
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return self._back(customer, "proposal")
        self.message_user(request, _review_summary(result), messages.SUCCESS)
        return self._back(customer, "history")

    def invite_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Invite the customer's e-mail address to the portal (POST): the list action, for one."""
        if request.method != "POST":
            return HttpResponse(status=405)
        customer = self._customer_or_404(request, object_id)
        if not self.has_invite_permission(request):
            raise PermissionDenied
        self.invite_to_portal(request, Customer.objects.filter(pk=customer.pk))
        return self._back(customer, "summary")
