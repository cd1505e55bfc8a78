"""Admin for customers and their data. Account managers only ever see their own customers:
every changelist, change view and autocomplete goes through `customers.selectors`.

File import (upload, dry-run preview, confirm) lives in `customers.admin_io`; the ModelAdmins
here only opt in (`ImportAdminMixin`). The customers export carries grades, so it is grading's
(grading/admin/customer_export.py registers this admin again with the export added)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from common.actors import acting_user
from common.admin import ModelAdmin
from common.exceptions import DomainError
from common.listing import (
    EstimatedCountPaginator,
    choices_filter,
    indexed_values,
    money_column,
    period_filter,
)
from common.roles import ACCOUNT_MANAGERS
from customers import selectors
from customers.admin_io import ImportAdminMixin
from customers.admin_managers import AccountManagerPickerMixin
from customers.models import (
    Campaign,
    CampaignInvitation,
    Category,
    Complaint,
    Customer,
    CustomerAccount,
    Order,
    ProductReview,
    Referral,
    ServiceTicket,
)
from customers.search import customer_search_q


class CustomerScopedAdmin(ModelAdmin):
    """Limit rows to the customers the staff user may see (path to Customer in `customer_path`).

    These lists grow with the customers (a million customers, ten million orders): the count
    is estimated when large (`EstimatedCountPaginator`), there is no `date_hierarchy` and no
    list filter over a plain field, and the search is `customers.search` (code, e-mail or
    phone prefix, name through a trigram index) plus `exact_search_fields` (`field__lookup`).
    """

    customer_path = "customer"
    paginator: type[Paginator] = EstimatedCountPaginator
    show_full_result_count = False
    # Half Django's 100: rendering the rows is most of a list page's time.
    list_per_page = 50
    exact_search_fields: tuple[str, ...] = ()

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        prefix = f"{self.customer_path}__" if self.customer_path else ""
        condition = customer_search_q(search_term, prefix=prefix)
        if condition is None:
            return queryset, False
        for lookup in self.exact_search_fields:
            condition |= Q(**{lookup: search_term.strip()})
        return queryset.filter(condition), False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return selectors.scope_for_user(
            super().get_queryset(request), user=request.user, customer_path=self.customer_path
        )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Customer:
            kwargs["queryset"] = selectors.customer_list_for_user(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def industry_choices() -> list[tuple[str, str]]:
    """The customers' industries, read by hopping through the industry index (no DISTINCT)."""
    return [(industry, industry) for industry in indexed_values(Customer, "industry")]


def manager_choices() -> list[tuple[str, str]]:
    """The account managers (staff in the group), not every user: portal logins are users too."""
    candidates = selectors.account_manager_candidates(active_only=False)
    managers = candidates.filter(groups__name=ACCOUNT_MANAGERS)
    return [(str(user.pk), selectors.account_manager_label(user)) for user in managers]


MANAGER_FILTER = choices_filter("account_manager", _("account manager"), manager_choices)


@admin.register(Category)
class CategoryAdmin(ModelAdmin):
    list_display = ("code", "name", "parent")
    list_select_related = ("parent",)
    search_fields = ("code", "name")
    autocomplete_fields = ("parent",)


@admin.register(Customer)
class CustomerAdmin(AccountManagerPickerMixin, ImportAdminMixin, CustomerScopedAdmin):
    customer_path = ""
    import_kind = "customers"
    list_display = (
        "code",
        "name",
        "kind",
        "industry",
        "current_grade",
        "account_manager",
        "registered_at",
        "is_active",
    )
    list_filter = (
        "kind",
        "is_active",
        "grade_state__grade",
        choices_filter("industry", _("industry"), lambda: industry_choices()),
        period_filter("registered_at", _("registered")),
        MANAGER_FILTER,
    )
    list_select_related = ("account_manager", "grade_state__grade")
    # Shown as the search box's hint; the search itself is `customers.search`.
    search_fields = ("code", "name", "email", "phone")
    autocomplete_fields = ("account_manager",)
    readonly_fields = (
        "current_grade",
        "recent_orders",
        "recent_events",
        "created_at",
        "updated_at",
    )
    # The export actions and button are grading's (grading/admin/customer_export.py).
    actions: tuple[str, ...] = ("invite_to_portal",)
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "industry", "is_active", "current_grade")}),
        (_("Contact"), {"fields": ("contact_name", "email", "phone", "address")}),
        (_("Relationship"), {"fields": ("account_manager", "registered_at")}),
        (_("Activity"), {"fields": ("recent_orders", "recent_events")}),
        (_("Bookkeeping"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_list_filter(self, request: HttpRequest) -> Any:
        if selectors.user_sees_all_customers(request.user):
            return self.list_filter
        return tuple(f for f in self.list_filter if f is not MANAGER_FILTER)

    def has_invite_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.add_customeraccount")

    @admin.action(
        description=_("Invite to the portal (e-mail a set-password link)"), permissions=["invite"]
    )
    def invite_to_portal(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        """Invite each selected customer's e-mail address to the customer portal."""
        from customers.services.accounts import customer_account_invite

        invited, problems = 0, []
        for customer in queryset.order_by("pk"):
            if not customer.email:
                problems.append(_("%(customer)s has no e-mail address.") % {"customer": customer})
                continue
            try:
                customer_account_invite(
                    customer=customer,
                    email=customer.email,
                    by=acting_user(request.user),
                    base_url=request.build_absolute_uri("/"),
                )
                invited += 1
            except DomainError as error:
                problems.append(f"{customer}: {error.message}")
        if invited:
            self.message_user(
                request, _("Invitations sent: %(count)d.") % {"count": invited}, messages.SUCCESS
            )
        for problem in problems:
            self.message_user(request, problem, messages.WARNING)

    @admin.display(description=_("grade"), ordering="grade_state__grade__rank")
    def current_grade(self, obj: Customer) -> str:
        state = getattr(obj, "grade_state", None)
        return state.grade.name if state else "—"

    @admin.display(description=_("recent orders"))
    def recent_orders(self, obj: Customer) -> str:
        orders = selectors.customer_recent_orders(customer=obj) if obj.pk else []
        if not orders:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    o.order_no,
                    o.placed_at.date(),
                    o.net_amount,
                    o.get_status_display(),
                    o.category or "",
                )
                for o in orders
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            _("order"),
            _("date"),
            _("net amount"),
            _("status"),
            _("category"),
            rows,
        )

    @admin.display(description=_("recent engagement"))
    def recent_events(self, obj: Customer) -> str:
        events = selectors.customer_recent_events(customer=obj) if obj.pk else []
        if not events:
            return "—"
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", ((w, k, s) for w, k, s in events)
        )
        return format_html("<table><tbody>{}</tbody></table>", rows)


@admin.register(Order)
class OrderAdmin(ImportAdminMixin, CustomerScopedAdmin):
    import_kind = "orders"
    list_display = (
        "order_no",
        "customer",
        "placed_at",
        money_column("amount", _("amount")),
        money_column("refunded_amount", _("refunded amount")),
        "status",
        "category",
        "on_time",
    )
    list_filter = ("status", "on_time", "category", period_filter("placed_at", _("placed")))
    list_select_related = ("customer", "category")
    search_fields = ("order_no", "customer__code", "customer__name")
    exact_search_fields = ("order_no",)
    autocomplete_fields = ("customer", "category")


@admin.register(Campaign)
class CampaignAdmin(ModelAdmin):
    list_display = ("code", "name", "starts_on", "ends_on")
    search_fields = ("code", "name")
    date_hierarchy = "starts_on"


@admin.register(CampaignInvitation)
class CampaignInvitationAdmin(ImportAdminMixin, CustomerScopedAdmin):
    import_kind = "invitations"
    list_display = ("campaign", "customer", "invited_at", "joined_at")
    list_filter = ("campaign",)
    list_select_related = ("campaign", "customer")
    search_fields = ("customer__code", "customer__name")
    autocomplete_fields = ("campaign", "customer")


@admin.register(Referral)
class ReferralAdmin(ImportAdminMixin, CustomerScopedAdmin):
    import_kind = "referrals"
    customer_path = "referrer"
    list_display = ("referrer", "referred", "referred_name", "created_at")
    list_select_related = ("referrer", "referred")
    search_fields = ("referrer__code", "referrer__name", "referred_name")
    exact_search_fields = ("referred_name__iexact",)
    autocomplete_fields = ("referrer", "referred")


@admin.register(Complaint)
class ComplaintAdmin(ImportAdminMixin, CustomerScopedAdmin):
    import_kind = "complaints"
    list_display = ("customer", "severity", "created_at", "resolved_at")
    list_filter = ("severity",)
    list_select_related = ("customer",)
    search_fields = ("customer__code", "customer__name")
    autocomplete_fields = ("customer", "order")


@admin.register(ProductReview)
class ProductReviewAdmin(ImportAdminMixin, CustomerScopedAdmin):
    import_kind = "reviews"
    list_display = ("customer", "rating", "created_at")
    list_filter = (choices_filter("rating", _("rating"), [str(n) for n in range(1, 6)]),)
    list_select_related = ("customer",)
    search_fields = ("customer__code", "customer__name")
    autocomplete_fields = ("customer", "order")


@admin.register(ServiceTicket)
class ServiceTicketAdmin(ImportAdminMixin, CustomerScopedAdmin):
    import_kind = "tickets"
    list_display = (
        "subject",
        "customer",
        "priority",
        "opened_at",
        "first_response_at",
        "closed_at",
    )
    list_filter = ("priority",)
    list_select_related = ("customer",)
    search_fields = ("customer__code", "customer__name")
    autocomplete_fields = ("customer",)


@admin.register(CustomerAccount)
class CustomerAccountAdmin(CustomerScopedAdmin):
    """Portal logins. Created by the customers' "Invite to the portal" action."""

    list_display = ("user", "customer", "invited_at", "invited_by", "last_login")
    list_select_related = ("user", "customer", "invited_by")
    search_fields = ("user__username", "user__email", "customer__code", "customer__name")
    exact_search_fields = ("user__username__iexact", "user__email__iexact")
    readonly_fields = ("user", "customer", "invited_at", "invited_by", "last_login")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # use the "Invite to the portal" action on customers

    @admin.display(description=_("last login"), ordering="user__last_login")
    def last_login(self, obj: CustomerAccount) -> Any:
        return obj.user.last_login or "—"


from customers import admin_lines  # noqa: E402,F401  (Source mappings, sales-line import)
