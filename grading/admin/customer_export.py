"""The customers export in the admin: a button on the customer list and two actions.

The export carries each customer's grade and latest scores (`grading.customer_export`), so
it is grading's, not customers' (docs/architecture.md, "Layers"): this module registers the
customer admin again as a subclass of `customers.admin.CustomerAdmin` that adds the export
URL (`admin:customers_customer_export`, `?format=csv|xlsx`), its two buttons and the
"Export selected customers" actions. Everything else on the customer pages is customers'.
"""

from __future__ import annotations

from typing import IO, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponseBase,
)
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.csv_files import csv_attachment
from customers.admin import CustomerAdmin
from customers.admin_io import FORMATS, ToolLink
from customers.models import Customer
from grading import customer_export


def customer_export_response(
    request: HttpRequest, *, queryset: QuerySet[Customer] | None, file_format: str
) -> HttpResponseBase:
    """Return the customer export of `queryset` (scoped to the user) as a download."""
    if file_format not in FORMATS:
        raise Http404(_("Unknown file format."))
    rows = customer_export.customer_export_rows(user=request.user, queryset=queryset)
    name = f"customers-{timezone.localdate().isoformat()}.{file_format}"
    if file_format == "csv":
        return csv_attachment(customer_export.customer_export_csv(rows), filename=name)
    workbook: IO[bytes] = customer_export.customer_export_xlsx(rows)
    return FileResponse(workbook, as_attachment=True, filename=name, content_type=FORMATS["xlsx"])


admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerExportAdmin(CustomerAdmin):
    """The customer admin plus the export of customers with their grades and scores."""

    actions = (*CustomerAdmin.actions, "export_csv", "export_xlsx")

    def get_urls(self) -> list[Any]:
        export = self.admin_site.admin_view(self.export_view)
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [path("export/", export, name=f"{info}_export"), *super().get_urls()]

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """Export every customer the user may see (`?format=csv|xlsx`)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return customer_export_response(
            request, queryset=None, file_format=request.GET.get("format", "csv")
        )

    def object_tool_links(self, request: HttpRequest) -> list[ToolLink]:
        links = super().object_tool_links(request)
        if self.has_view_permission(request):
            export = reverse(f"{self.admin_site.name}:customers_customer_export")
            links += [
                ToolLink(f"{export}?format=csv", gettext_lazy("Export customers (CSV)")),
                ToolLink(f"{export}?format=xlsx", gettext_lazy("Export customers (XLSX)")),
            ]
        return links

    @admin.action(description=gettext_lazy("Export selected customers (CSV)"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Customer]) -> HttpResponseBase:
        """Export the selected (or, with "select all", the filtered) customers as CSV."""
        return customer_export_response(request, queryset=queryset, file_format="csv")

    @admin.action(
        description=gettext_lazy("Export selected customers (XLSX)"), permissions=["view"]
    )
    def export_xlsx(self, request: HttpRequest, queryset: QuerySet[Customer]) -> HttpResponseBase:
        """Export the selected (or, with "select all", the filtered) customers as XLSX."""
        return customer_export_response(request, queryset=queryset, file_format="xlsx")
