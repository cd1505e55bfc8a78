"""Admin for appeals: the review queue (age, SLA), evidence, snapshots, decisions.

Decisions are actions ("Start review", "Accept", "Reject") that go through an intermediate
page with the note for the customer and call `appeals.services`; the appeal itself is
read-only (its status changes only through the services). Account managers see their own
customers' appeals (view only); evidence downloads need `appeals.view_evidence`, which only
Operations hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from appeals import selectors, services
from appeals.forms import DecisionForm
from appeals.models import Appeal, FollowUp
from appeals.views_common import evidence_response
from common.admin import ModelAdmin
from common.exceptions import DomainError
from customers.selectors import scope_for_user
from grading.admin.explanations import RULE_LABELS
from grading.labels import ACTION_LABELS
from grading.models import GradingRun, ScoreSnapshot

EVIDENCE_PERMISSION = "appeals.view_evidence"

#: Snapshot values shown side by side, before and after the change.
SNAPSHOT_ROWS = (
    ("recency_days", gettext_lazy("Recency (days)")),
    ("frequency", gettext_lazy("Orders in window")),
    ("monetary", gettext_lazy("Net purchases")),
    ("r_score", gettext_lazy("R score")),
    ("f_score", gettext_lazy("F score")),
    ("m_score", gettext_lazy("M score")),
    ("rfm_label", gettext_lazy("RFM label")),
    ("lifecycle", gettext_lazy("Lifecycle")),
    ("historical", gettext_lazy("Historical value")),
    ("potential", gettext_lazy("Potential value")),
    ("cooperation", gettext_lazy("Cooperation value")),
    ("composite", gettext_lazy("Composite")),
    ("computed_grade", gettext_lazy("Computed grade")),
    ("action", gettext_lazy("Decision")),
    ("rule", gettext_lazy("Rule")),
)

#: Snapshot codes shown in words (the explanation of the grade policy's decision).
SNAPSHOT_WORDS = {"action": ACTION_LABELS, "rule": RULE_LABELS}


class OverdueFilter(admin.SimpleListFilter):
    title = gettext_lazy("review SLA")
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("overdue", gettext_lazy("Overdue")),
            ("due_soon", gettext_lazy("Due soon")),
            ("open", gettext_lazy("Open, within SLA")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Appeal]) -> QuerySet[Appeal]:
        cutoff = selectors.appeal_review_overdue_before()
        open_ = queryset.filter(status__in=Appeal.OPEN_STATUSES)
        if self.value() == "overdue":
            return open_.filter(created_at__lt=cutoff)
        if self.value() == "due_soon":
            return open_.filter(
                created_at__gte=cutoff, created_at__lt=selectors.appeal_due_soon_before()
            )
        if self.value() == "open":
            return open_.filter(created_at__gte=cutoff)
        return queryset


@admin.register(Appeal)
class AppealAdmin(ModelAdmin):
    list_display = (
        "__str__",
        "customer",
        "change_summary",
        "status",
        "age_days",
        "sla",
        "evidence_count",
        "created_at",
    )
    list_filter = ("status", OverdueFilter)
    search_fields = ("=id", "customer__code", "customer__name")
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ("start_review_appeals", "accept_appeals", "reject_appeals")
    change_form_template = "admin/appeals/appeal/change_form.html"
    fields = (
        "customer",
        "change_summary",
        "status",
        "reason",
        "ops_note",
        "filed_by",
        "created_at",
        "decided_by",
        "decided_at",
        "evidence_links",
        "snapshots",
        "events",
    )
    readonly_fields = fields

    class Media:
        css = {"all": ("css/tierhub-admin.css",)}  # .overdue, the decision buttons

    def get_queryset(self, request: HttpRequest) -> QuerySet[Appeal]:
        # Open appeals first, oldest first: the top of the list is the next one to review.
        return (
            selectors.appeal_list_for_user(user=request.user)
            .annotate(
                open_rank=Case(
                    When(status__in=Appeal.OPEN_STATUSES, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                )
            )
            .order_by("open_rank", "created_at", "pk")
        )

    def get_ordering(self, request: HttpRequest) -> tuple[str, ...]:
        return ("open_rank", "created_at")  # annotated in get_queryset

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers file appeals in the portal

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the audit trail stays

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The form is read-only (status moves through the actions); without an object this
        # answers "may run the decision actions".
        if obj is not None:
            return False
        return super().has_change_permission(request)

    # ---------------------------------------------------------------- columns and fields

    @admin.display(description=gettext_lazy("change"))
    def change_summary(self, obj: Appeal) -> str:
        change = obj.change
        before = change.from_grade.name if change.from_grade else "—"
        return f"{before} → {change.to_grade.name} ({change.get_status_display()})"

    @admin.display(description=gettext_lazy("age (days)"), ordering="created_at")
    def age_days(self, obj: Appeal) -> int:
        end = obj.decided_at or timezone.now()
        return (end - obj.created_at).days

    @admin.display(description=gettext_lazy("SLA"))
    def sla(self, obj: Appeal) -> str:
        if not obj.is_open:
            return "—"
        due = obj.created_at + dt.timedelta(days=settings.APPEAL_REVIEW_SLA_DAYS)
        if timezone.now() > due:
            return format_html('<strong class="overdue">{}</strong>', _("Overdue"))
        return _("due %(date)s") % {"date": timezone.localtime(due).date().isoformat()}

    @admin.display(description=gettext_lazy("files"), ordering="evidence_count")
    def evidence_count(self, obj: Appeal) -> int:
        return getattr(obj, "evidence_count", 0)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Only holders of the evidence permission (Operations) get download links.
        if request.user.has_perm(EVIDENCE_PERMISSION):
            return self.fields
        return tuple("evidence_names" if f == "evidence_links" else f for f in self.fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_fields(request, obj)

    @admin.display(description=gettext_lazy("evidence"))
    def evidence_links(self, obj: Appeal) -> str:
        return (
            format_html_join(
                "",
                '<div><a href="{}">{}</a> <span class="quiet">{} · {} B</span></div>',
                (
                    (
                        reverse("admin:appeals_evidence_download", args=[f.pk]),
                        f.original_name,
                        f.content_type,
                        f.size,
                    )
                    for f in obj.evidence.all()
                ),
            )
            or "—"
        )

    @admin.display(description=gettext_lazy("evidence"))
    def evidence_names(self, obj: Appeal) -> str:
        return ", ".join(f"{f.original_name} ({f.size} B)" for f in obj.evidence.all()) or "—"

    @admin.display(description=gettext_lazy("snapshots before / after"))
    def snapshots(self, obj: Appeal) -> str:
        change = obj.change
        run = change.run  # no query when the change has no run
        if run is None:
            return "—"
        after = (
            ScoreSnapshot.objects.filter(customer_id=obj.customer_id, run_id=change.run_id)
            .select_related("run", "computed_grade")
            .first()
        )
        before = (
            ScoreSnapshot.objects.filter(
                customer_id=obj.customer_id,
                run__as_of__lt=run.as_of,
                run__status=GradingRun.Status.SUCCEEDED,
            )
            .select_related("run", "computed_grade")
            .order_by("-run__as_of")
            .first()
        )

        def value(snapshot: ScoreSnapshot | None, field: str) -> str:
            if snapshot is None:
                return "—"
            raw = getattr(snapshot, field)
            if field in SNAPSHOT_WORDS:  # the policy's codes, said in words
                return str(SNAPSHOT_WORDS[field].get(raw, raw))
            if isinstance(raw, float):
                return f"{raw:.2f}"
            return "—" if raw is None else str(raw)

        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            ((label, value(before, f), value(after, f)) for f, label in SNAPSHOT_ROWS),
        )
        return format_html(
            "<table><thead><tr><th></th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("before (%(date)s)") % {"date": before.run.as_of if before else "—"},
            _("after (%(date)s)") % {"date": after.run.as_of if after else "—"},
            rows,
        )

    @admin.display(description=gettext_lazy("history"))
    def events(self, obj: Appeal) -> str:
        return format_html_join(
            "",
            "<div>{} · {} → {} · {} {}</div>",
            (
                (
                    timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M"),
                    e.get_from_status_display() or "∅",
                    e.get_to_status_display(),
                    e.actor or "",
                    e.note,
                )
                for e in selectors.appeal_events(appeal=obj)
            ),
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra_context = extra_context or {}
        extra_context["decision_actions"] = (
            [
                ("start_review_appeals", _("Start review")),
                ("accept_appeals", _("Accept")),
                ("reject_appeals", _("Reject")),
            ]
            if super().has_change_permission(request)
            else []
        )
        return super().change_view(request, object_id, form_url, extra_context)

    # ------------------------------------------------------------------ evidence download

    def get_urls(self) -> list[Any]:
        return [
            path(
                "evidence/<int:pk>/",
                self.admin_site.admin_view(self.evidence_download),
                name="appeals_evidence_download",
            ),
            *super().get_urls(),
        ]

    def evidence_download(self, request: HttpRequest, pk: int) -> FileResponse:
        """Serve one evidence file to staff allowed to read it (scoped; else 404)."""
        if not request.user.has_perm(EVIDENCE_PERMISSION):
            from django.http import Http404

            raise Http404
        evidence = get_object_or_404(selectors.evidence_list_for_user(user=request.user), pk=pk)
        return evidence_response(evidence)

    # -------------------------------------------------------------------------- decisions

    def _decide(
        self,
        request: HttpRequest,
        queryset: QuerySet[Appeal],
        *,
        action: str,
        title: str,
        service: Callable[..., Appeal],
        note_required: bool,
    ) -> HttpResponse | None:
        confirmed = "confirm" in request.POST
        form = DecisionForm(request.POST if confirmed else None)
        if confirmed and form.is_valid():
            note = form.cleaned_data["note"].strip()
            if note_required and not note:
                form.add_error("note", _("Write a note for the customer: it is required."))
            else:
                done, refused = 0, []
                for appeal in queryset.order_by("pk"):  # lock order: primary key
                    try:
                        service(appeal_id=appeal.pk, by=request.user, note=note)
                        done += 1
                    except DomainError as error:
                        refused.append(error.message)
                if done:
                    self.message_user(
                        request,
                        _("%(action)s: %(count)d appeal(s).") % {"action": title, "count": done},
                        messages.SUCCESS,
                    )
                for message in refused:
                    self.message_user(request, message, messages.ERROR)
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "appeals": list(queryset),
            "form": form,
            "action": action,
            "note_required": note_required,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/appeals/appeal/decide.html", context)

    @admin.action(description=gettext_lazy("Start review"), permissions=["change"])
    def start_review_appeals(self, request: HttpRequest, queryset: QuerySet[Appeal]) -> Any:
        return self._decide(
            request,
            queryset,
            action="start_review_appeals",
            title=_("Start review"),
            service=services.appeal_start_review,
            note_required=False,
        )

    @admin.action(
        description=gettext_lazy("Accept (restore and lock the grade)"), permissions=["change"]
    )
    def accept_appeals(self, request: HttpRequest, queryset: QuerySet[Appeal]) -> Any:
        return self._decide(
            request,
            queryset,
            action="accept_appeals",
            title=_("Accept"),
            service=services.appeal_accept,
            note_required=True,
        )

    @admin.action(description=gettext_lazy("Reject (the change stands)"), permissions=["change"])
    def reject_appeals(self, request: HttpRequest, queryset: QuerySet[Appeal]) -> Any:
        return self._decide(
            request,
            queryset,
            action="reject_appeals",
            title=_("Reject"),
            service=services.appeal_reject,
            note_required=True,
        )


@admin.register(FollowUp)
class FollowUpAdmin(ModelAdmin):
    list_display = ("customer", "kind", "author", "created_at", "outcome")
    list_filter = ("kind",)
    list_select_related = ("customer", "author")
    search_fields = ("customer__code", "customer__name", "outcome")
    date_hierarchy = "created_at"
    readonly_fields = ("customer", "kind", "author", "outcome", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[FollowUp]:
        return scope_for_user(
            super().get_queryset(request), user=request.user, customer_path="customer"
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written from the manager's customer page
