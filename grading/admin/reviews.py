"""The review queue (GradeChange), customers' current grades and the audit history.

The GradeChange changelist is where Operations approve or reject proposed downgrades. It
opens on the changes waiting for review; account managers see their own customers' changes
(read-only: deciding needs `grading.change_gradechange`, which only Operations have). A
proposal's own page decides it too (Approve / Reject in place, through the same services),
beside its explanation and the sections the apps above grading add there
(`change_section_register`: the account manager's follow-ups and the customer's appeals,
from `backoffice`). docs/operations.md, "Reviewing a proposal".
"""

from __future__ import annotations

import copy
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.actors import acting_user
from common.exceptions import ConflictError, DomainError
from customers.admin import CustomerScopedAdmin
from grading import selectors
from grading.admin.base import ReadOnlyAdminMixin, confirmed_action
from grading.admin.explanations import explain_change
from grading.forms import ApproveChangesForm, DecideChangeForm, RejectChangesForm, add_domain_error
from grading.labels import rule_name
from grading.models import CustomerGrade, GradeAuditEntry, GradeChange, GradingRun
from grading.review_sections import registered_change_sections
from grading.services.reviews import ReviewResult, grade_change_approve, grade_change_reject

REVIEW_PERMISSION = "grading.change_gradechange"

#: Runs offered in the "run" filter (newest first); older ones still filter by URL.
RUN_FILTER_LIMIT = 24


class ReviewStatusFilter(admin.SimpleListFilter):
    """Status filter whose default is "pending review": the queue opens on open proposals."""

    title = gettext_lazy("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            (GradeChange.Status.PROPOSED, gettext_lazy("Pending review")),
            *(
                (status.value, status.label)
                for status in GradeChange.Status
                if status != GradeChange.Status.PROPOSED
            ),
        ]

    def value(self) -> str:
        return super().value() or GradeChange.Status.PROPOSED

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset if value == self.ALL else queryset.filter(status=value)

    def choices(self, changelist: Any) -> Any:
        value = self.value()
        yield {
            "selected": value == self.ALL,
            "query_string": changelist.get_query_string({self.parameter_name: self.ALL}),
            "display": _("All"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class RunFilter(admin.SimpleListFilter):
    """Filter by grading run; the runs are listed with their scheme in one query."""

    title = gettext_lazy("run")
    parameter_name = "run"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        runs = GradingRun.objects.select_related("scheme").order_by("-as_of", "-id")
        # The admin compares the query string's value with str(key): text keys are the same.
        return [(str(run.pk), str(run)) for run in runs[:RUN_FILTER_LIMIT]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(run_id=value) if value and value.isdigit() else queryset


@admin.register(GradeChange)
class GradeChangeAdmin(ReadOnlyAdminMixin, CustomerScopedAdmin):
    list_display = (
        "customer",
        "grades",
        "composite_score",
        "rule_name",
        "age",
        "account_manager",
        "status",
        "direction",
    )
    list_filter = (ReviewStatusFilter, "direction", "source", "to_grade", RunFilter)
    list_select_related = ("customer__account_manager", "from_grade", "to_grade")
    search_fields = ("customer__code", "customer__name")
    ordering = (selectors.PROPOSED_FIRST.asc(), "created_at")
    actions = ("approve_changes", "reject_changes")
    show_full_result_count = False

    class Media:
        css = {"all": ("css/grade-change.css",)}

    fields = (
        "customer",
        "run",
        "from_grade",
        "to_grade",
        "direction",
        "status",
        "source",
        "rule_name",
        "reason_text",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_note",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[GradeChange]:
        return selectors.grade_change_review_queue(user=request.user)

    def has_review_permission(self, request: HttpRequest) -> bool:
        """Deciding needs the change permission; account managers only have view."""
        return request.user.has_perm(REVIEW_PERMISSION)

    @admin.display(description=gettext_lazy("from → to"))
    def grades(self, obj: GradeChange) -> str:
        return f"{obj.from_grade or '—'} → {obj.to_grade}"

    @admin.display(description=gettext_lazy("composite"), ordering="composite")
    def composite_score(self, obj: GradeChange) -> str:
        composite = getattr(obj, "composite", None)
        return "—" if composite is None else f"{composite:.1f}"

    @admin.display(description=gettext_lazy("rule"), ordering="rule")
    def rule_name(self, obj: GradeChange) -> str:
        """The policy rule in words (grading.labels), never its code."""
        return rule_name(obj.rule)

    @admin.display(description=gettext_lazy("reason"))
    def reason_text(self, obj: GradeChange) -> str:
        """Why it changed, in the reader's language (a run's change names the run)."""
        return obj.reason_text

    @admin.display(description=gettext_lazy("age (days)"), ordering="created_at")
    def age(self, obj: GradeChange) -> int:
        return (timezone.now() - obj.created_at).days

    @admin.display(
        description=gettext_lazy("account manager"), ordering="customer__account_manager"
    )
    def account_manager(self, obj: GradeChange) -> str:
        return str(obj.customer.account_manager or "—")

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="{}_{}_decide".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        change = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if change is not None:
            context["title"] = str(change)
            context["explanation"] = explain_change(change)
            context["change_sections"] = [
                {"key": section.key, "template": section.template, "context": section_context}
                for section in registered_change_sections()
                if (section_context := section.context(request, change)) is not None
            ]
            if change.status == GradeChange.Status.PROPOSED and self.has_review_permission(request):
                context.setdefault("decision_form", DecideChangeForm())
                context["decide_url"] = reverse(
                    "admin:grading_gradechange_decide", args=[change.pk]
                )
        return super().change_view(request, object_id, form_url, context)

    def decide_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Approve or reject one proposal from its page: the list actions' services, rules
        and audit; a reason is required to reject; a change decided meanwhile is reported."""
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(object_id))
        if not self.has_review_permission(request):
            raise PermissionDenied
        change = self.get_object(request, unquote(object_id))
        if change is None:
            raise Http404
        form = DecideChangeForm(request.POST)
        if form.is_valid():
            try:
                decision = form.cleaned_data["decision"]
                if decision == DecideChangeForm.APPROVE:
                    result = grade_change_approve(
                        change_ids=[change.pk],
                        by=acting_user(request.user),
                        note=form.cleaned_data["note"],
                    )
                else:
                    result = grade_change_reject(
                        change_ids=[change.pk],
                        by=acting_user(request.user),
                        reason=form.cleaned_data["note"],
                    )
            except ConflictError as error:
                self.message_user(request, error.message, messages.ERROR)
                return HttpResponseRedirect(self._change_url(object_id))
            except DomainError as error:
                add_domain_error(form, error)
            else:
                change.refresh_from_db()
                self.message_user(request, _decided_message(change, result), messages.SUCCESS)
                return HttpResponseRedirect(self._change_url(object_id))
        # Shown again on the change page, with the note typed and the error next to it.
        page = copy.copy(request)
        page.method = "GET"
        response = self.change_view(page, object_id, extra_context={"decision_form": form})
        response.status_code = 400
        return response

    def _change_url(self, object_id: str) -> str:
        return reverse("admin:grading_gradechange_change", args=[unquote(object_id)])

    def _describe(self, change: GradeChange) -> str:
        return f"{change.customer}: {self.grades(change)} ({change.get_status_display()})"

    @admin.action(description=gettext_lazy("Approve selected downgrades"), permissions=["review"])
    def approve_changes(
        self, request: HttpRequest, queryset: QuerySet[GradeChange]
    ) -> TemplateResponse | None:
        def perform(data: dict[str, Any]) -> str:
            result = grade_change_approve(
                change_ids=list(queryset.values_list("pk", flat=True)),
                by=acting_user(request.user),
                note=data["note"],
            )
            return _summary(result)

        return confirmed_action(
            self,
            request,
            queryset,
            action="approve_changes",
            form_class=ApproveChangesForm,
            perform=perform,
            title=_("Approve downgrades"),
            intro=_(
                "The customers below move to the proposed grade, unless their grade changed "
                "meanwhile or is pinned by an override."
            ),
            submit_label=_("Yes, approve"),
            describe=self._describe,
        )

    @admin.action(description=gettext_lazy("Reject selected downgrades"), permissions=["review"])
    def reject_changes(
        self, request: HttpRequest, queryset: QuerySet[GradeChange]
    ) -> TemplateResponse | None:
        def perform(data: dict[str, Any]) -> str:
            result = grade_change_reject(
                change_ids=list(queryset.values_list("pk", flat=True)),
                by=acting_user(request.user),
                reason=data["reason"],
            )
            return _summary(result)

        return confirmed_action(
            self,
            request,
            queryset,
            action="reject_changes",
            form_class=RejectChangesForm,
            perform=perform,
            title=_("Reject downgrades"),
            intro=_(
                "The customers below keep their grades and start a fresh count of periods "
                "under target."
            ),
            submit_label=_("Yes, reject"),
            describe=self._describe,
        )


def _decided_message(change: GradeChange, result: ReviewResult) -> str:
    """What deciding one change from its page did, naming the change."""
    if result.applied:
        return _("Approved: %(change)s. The customer's grade changed.") % {"change": change}
    if result.rejected:
        return _("Rejected: %(change)s. The customer keeps the grade.") % {"change": change}
    return _("Not applied: %(change)s. %(why)s") % {
        "change": change,
        "why": change.decision_note,
    }


def _summary(result: ReviewResult) -> str:
    """One line for message_user: what a review decision did."""
    return _(
        "Applied: %(applied)d, rejected: %(rejected)d, superseded (grade moved or pinned): "
        "%(superseded)d, already decided: %(already)d."
    ) % {
        "applied": result.applied,
        "rejected": result.rejected,
        "superseded": result.superseded,
        "already": result.already_decided,
    }


@admin.register(CustomerGrade)
class CustomerGradeAdmin(ReadOnlyAdminMixin, CustomerScopedAdmin):
    list_display = ("customer", "grade", "since", "periods_under", "last_run")
    list_filter = ("grade",)
    list_select_related = ("customer", "grade", "last_run__scheme")
    search_fields = ("customer__code", "customer__name")
    readonly_fields = ("override_link",)
    show_full_result_count = False
    fields = ("customer", "grade", "since", "periods_under", "last_run", "updated_at")

    def _may_override(self, request: HttpRequest) -> bool:
        return request.user.has_perm("grading.add_gradeoverride")

    def get_list_display(self, request: HttpRequest) -> Any:
        if self._may_override(request):
            return (*self.list_display, "override_link")
        return self.list_display

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if self._may_override(request):
            return (*self.fields, "override_link")
        return self.fields

    @admin.display(description=gettext_lazy("override"))
    def override_link(self, obj: CustomerGrade) -> str:
        url = reverse("admin:grading_gradeoverride_add")
        query = urlencode({"customer": obj.customer_id})
        return format_html('<a href="{}?{}">{}</a>', url, query, _("Override grade"))


@admin.register(GradeAuditEntry)
class GradeAuditEntryAdmin(ReadOnlyAdminMixin, CustomerScopedAdmin):
    list_display = (
        "customer",
        "old_grade",
        "new_grade",
        "source",
        "actor",
        "reason_text",
        "created_at",
    )
    list_filter = ("source", "new_grade")
    list_select_related = ("customer", "old_grade", "new_grade", "actor", "run__scheme")

    @admin.display(description=gettext_lazy("reason"))
    def reason_text(self, obj: GradeAuditEntry) -> str:
        return obj.reason_text

    search_fields = ("customer__code", "customer__name", "reason")
    date_hierarchy = "created_at"
