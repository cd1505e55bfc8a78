"""Grades and versioned grading schemes.

A draft scheme is edited here (fields and ladder). Active and retired schemes are read-only,
ladder included: changing one means "Create a new draft version" (`scheme_revise`), editing
the draft and activating it (`scheme_activate`), so every past run stays explainable.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from unfold.admin import TabularInline
from unfold.decorators import action
from unfold.widgets import UnfoldAdminDecimalFieldWidget, UnfoldAdminIntegerFieldWidget

from common import formatting
from common.actors import acting_user
from common.exceptions import DomainError
from common.translation_admin import TranslationTabsAdmin
from grading.admin.base import GuardedHistoryAdmin
from grading.models import Cadence, Grade, GradingScheme, SchemeGrade
from grading.policy import DEFAULT_COUNTS, default_counts
from grading.scoring import ScoringParams
from grading.selectors import scheme_rungs_with_outdated_counts
from grading.services.schemes import (
    THRESHOLD_SCORES,
    scheme_activate,
    scheme_ladder_problems,
    scheme_retire,
    scheme_revise,
    scheme_revise_with_default_counts,
    scheme_threshold_problems,
)


def _is_draft(scheme: GradingScheme | None) -> bool:
    """True for a new scheme (no object yet) and for a draft."""
    return scheme is None or scheme.status == GradingScheme.Status.DRAFT


@admin.register(Grade)
class GradeAdmin(GuardedHistoryAdmin, TranslationTabsAdmin):  # name, description, service level
    list_display = (
        "name",
        "code",
        "rank",
        "review_cadence",
        "service_level",
        "first_response_minutes",
    )
    search_fields = ("code", "name_en", "name_zh_hans")
    ordering = ("-rank",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Grade]:
        # A grade's cadence lives on its rung of a scheme's ladder: show the active one's.
        rung = SchemeGrade.objects.filter(
            grade=OuterRef("pk"), scheme__status=GradingScheme.Status.ACTIVE
        )
        return (
            super()
            .get_queryset(request)
            .annotate(active_cadence=Subquery(rung.values("cadence")[:1]))
        )

    @admin.display(
        description=gettext_lazy("review cadence (active scheme)"), ordering="active_cadence"
    )
    def review_cadence(self, obj: Grade) -> str:
        cadence = getattr(obj, "active_cadence", None)
        return str(Cadence(cadence).label) if cadence else "—"


#: The columns of the ladder inline.
LADDER_FIELDS = (
    "grade",
    "min_score",
    "min_frequency",
    "min_monetary",
    "hysteresis",
    "cadence",
    "warn_after",
    "downgrade_after",
    "downgrade_needs_review",
)


#: The ladder's column headings: short, so that the nine columns fit a 1366 px screen; each
#: field's help text (the heading's tooltip) keeps the long form.
LADDER_LABELS = {
    "min_score": gettext_lazy("Minimum score"),
    "min_frequency": gettext_lazy("Gate: orders"),
    "min_monetary": gettext_lazy("Gate: purchases"),
    "hysteresis": gettext_lazy("Margin"),
    "cadence": pgettext_lazy("grade ladder column: the review cadence", "Review"),
    "warn_after": gettext_lazy("Warn after"),
    "downgrade_after": gettext_lazy("Downgrade after"),
    "downgrade_needs_review": gettext_lazy("Needs review"),
}
LADDER_HELP = {
    "min_score": gettext_lazy(
        "The composite score (0 to 100) a customer needs for this grade; a higher grade needs "
        "a higher score."
    ),
    "min_frequency": gettext_lazy("Gate: minimum orders in the window."),
    "min_monetary": gettext_lazy("Gate: minimum net purchases in the window."),
}


class SchemeGradeForm(forms.ModelForm):
    """A ladder rung. On a new rung the counts may be left empty: they then take the
    default of the rung's cadence (`grading.policy.DEFAULT_COUNTS`: 1 and 2 monthly, 2 and 3
    quarterly). The minimum score may be left empty here: the ladder's formset reports it,
    naming the grade (`LadderFormSet`)."""

    class Meta:
        model = SchemeGrade
        fields = LADDER_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, label in LADDER_LABELS.items():
            self.fields[name].label = label
        for name, help_text in LADDER_HELP.items():
            self.fields[name].help_text = help_text
        self.fields["min_score"].required = False
        # Grades are kept on their own page: no add/edit buttons beside each rung's grade.
        for flag in ("add", "change", "delete", "view"):
            if hasattr(self.fields["grade"].widget, f"can_{flag}_related"):
                setattr(self.fields["grade"].widget, f"can_{flag}_related", False)
        if self.instance.pk is None:
            for name in ("warn_after", "downgrade_after"):
                self.fields[name].required = False
                self.fields[name].widget.attrs["placeholder"] = _("by cadence")
                self.initial[name] = None

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.instance.pk is None:
            warn_after, downgrade_after = default_counts(cleaned.get("cadence") or "")
            if cleaned.get("warn_after") is None:
                cleaned["warn_after"] = warn_after
            if cleaned.get("downgrade_after") is None:
                cleaned["downgrade_after"] = downgrade_after
        return cleaned


class LadderFormSet(BaseInlineFormSet):
    """The ladder's rungs together: each has a minimum score, higher for a higher grade.

    The check is the scheme service's (`scheme_ladder_problems`, also run on activation);
    each problem is shown on the rung at fault, naming the grade and the value.
    """

    def clean(self) -> None:
        super().clean()
        forms_by_position = [
            form
            for form in self.forms
            if form.cleaned_data.get("grade") is not None
            and not (self.can_delete and form.cleaned_data.get("DELETE"))
        ]
        problems = scheme_ladder_problems(
            rungs=[
                (form.cleaned_data["grade"], form.cleaned_data.get("min_score"))
                for form in forms_by_position
            ]
        )
        for problem in problems:
            forms_by_position[problem.position].add_error("min_score", problem.message)


class SchemeGradeInline(TabularInline):
    """The ladder; editable only while its scheme is a draft (`obj` is the scheme)."""

    model = SchemeGrade
    form = SchemeGradeForm
    formset = LadderFormSet
    extra = 0
    fields = LADDER_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_delete_permission(request, obj)


def threshold_field(field: str, score: int) -> str:
    """Return the scheme form's field for one score of a threshold list ("r_threshold_5")."""
    return f"{field[0]}_threshold_{score}"


#: What the form shows for a scheme with no thresholds of its own (stored as []): the
#: values the scoring uses then (`grading.pipeline.rules.scheme_rules`).
_DEFAULT_THRESHOLDS: dict[str, tuple[Any, ...]] = {
    "r_thresholds": ScoringParams().r_thresholds,
    "f_thresholds": ScoringParams().f_thresholds,
    "m_thresholds": tuple(Decimal(c).scaleb(-2) for c in ScoringParams().m_thresholds_cents),
}
_THRESHOLD_LABELS = {
    "r_thresholds": gettext_lazy("Score %(score)s: last order within (days)"),
    "f_thresholds": gettext_lazy("Score %(score)s: from (orders)"),
    "m_thresholds": gettext_lazy("Score %(score)s: from (net purchases)"),
}


def _threshold_input(field: str, score: int) -> forms.Field:
    """Return the form field of one score's threshold: whole days and orders, money in cents.

    Not required here: a missing value is reported by the scheme service's check, which
    names the score (`GradingSchemeForm.clean`).
    """
    # Formatted when shown, in the reader's language (a lazy string's % is not lazy).
    label = lazy(lambda: str(_THRESHOLD_LABELS[field]) % {"score": score}, str)()
    if field == "m_thresholds":
        return forms.DecimalField(
            label=label,
            max_digits=14,
            decimal_places=2,
            required=False,
            widget=UnfoldAdminDecimalFieldWidget,
        )
    return forms.IntegerField(label=label, required=False, widget=UnfoldAdminIntegerFieldWidget)


def _threshold_rows(fields: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [tuple(threshold_field(f, s) for s in THRESHOLD_SCORES[f]) for f in fields]


#: The scheme page, grouped by what each part of the score does (docs/grading.md).
SCHEME_FIELDSETS: list[tuple[Any, dict[str, Any]]] = [
    (None, {"fields": ("name", "version", "status", "based_on", "description")}),
    (
        gettext_lazy("Window and R/F/M scoring"),
        {
            "fields": (
                "window_days",
                "rfm_method",
                "rfm_within_pyramid",
                ("weight_r", "weight_f", "weight_m"),
            )
        },
    ),
    (
        gettext_lazy("Fixed R/F/M thresholds"),
        {
            "fields": _threshold_rows(tuple(THRESHOLD_SCORES)),
            "description": gettext_lazy(
                "Used when R/F/M scoring is by fixed thresholds. Recency: a customer whose last "
                "order is within the days of score 5 gets 5, and so on down to 1. Frequency and "
                "monetary: score 2 from its value up, then 3, 4 and 5. Each threshold must be "
                "higher than the one before it."
            ),
        },
    ),
    (
        gettext_lazy("Composite weights"),
        {"fields": (("weight_historical", "weight_potential", "weight_cooperation"),)},
    ),
    (
        gettext_lazy("Potential value"),
        {
            "fields": (
                ("weight_breadth", "weight_stability", "weight_growth", "weight_industry"),
                "industry_priors",
                "default_industry_prior",
            )
        },
    ),
    (
        gettext_lazy("Cooperation value"),
        {
            "fields": (
                ("weight_campaign", "weight_referral", "weight_complaint"),
                ("weight_on_time", "weight_review"),
                ("referral_cap", "review_cap"),
                ("points_rate", "points_cap"),
            )
        },
    ),
    (
        gettext_lazy("Lifecycle and value pyramid"),
        {
            "fields": (
                ("new_days", "dormant_days", "churn_days"),
                "growth_ratio",
                ("pyramid_top", "pyramid_large", "pyramid_medium"),
            )
        },
    ),
    (gettext_lazy("Between runs"), {"fields": ("provisional_upgrades",)}),
    (
        gettext_lazy("Record"),
        {"fields": (("created_by", "created_at"), ("activated_at", "retired_at"))},
    ),
]
#: The model fields the draft form edits (the rest of the page is read-only or computed).
SCHEME_FORM_FIELDS = tuple(
    name
    for _title, options in SCHEME_FIELDSETS
    for line in options["fields"]
    for name in (line if isinstance(line, tuple) else (line,))
    if name
    in {f.name for f in GradingScheme._meta.get_fields() if getattr(f, "editable", False)}
    - {"status", "based_on", "created_by", "created_at", "activated_at", "retired_at"}
)


class GradingSchemeForm(forms.ModelForm):
    """A draft scheme, its fixed R/F/M thresholds as one number field per score.

    The thresholds are stored as three JSON lists (`GradingScheme.r_thresholds`, ...); the
    form reads them into twelve fields and writes them back. They are checked with the scheme
    service's rule (`scheme_threshold_problems`, also run on activation): every score given,
    each higher than the one before, the message naming the score and the value.
    """

    class Meta:
        model = GradingScheme
        fields = SCHEME_FORM_FIELDS

    r_threshold_5 = _threshold_input("r_thresholds", 5)
    r_threshold_4 = _threshold_input("r_thresholds", 4)
    r_threshold_3 = _threshold_input("r_thresholds", 3)
    r_threshold_2 = _threshold_input("r_thresholds", 2)
    f_threshold_2 = _threshold_input("f_thresholds", 2)
    f_threshold_3 = _threshold_input("f_thresholds", 3)
    f_threshold_4 = _threshold_input("f_thresholds", 4)
    f_threshold_5 = _threshold_input("f_thresholds", 5)
    m_threshold_2 = _threshold_input("m_thresholds", 2)
    m_threshold_3 = _threshold_input("m_thresholds", 3)
    m_threshold_4 = _threshold_input("m_thresholds", 4)
    m_threshold_5 = _threshold_input("m_thresholds", 5)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field, scores in THRESHOLD_SCORES.items():
            stored = list(getattr(self.instance, field) or []) or list(_DEFAULT_THRESHOLDS[field])
            for position, score in enumerate(scores):
                if position < len(stored):
                    self.initial.setdefault(threshold_field(field, score), stored[position])

    def threshold_values(self) -> dict[str, list[Any]]:
        """Return the entered thresholds as {"r_thresholds": [4 values or None], ...}."""
        return {
            field: [self.cleaned_data.get(threshold_field(field, score)) for score in scores]
            for field, scores in THRESHOLD_SCORES.items()
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        entered = self.threshold_values()
        invalid = {
            threshold_field(field, score)
            for field, scores in THRESHOLD_SCORES.items()
            for score in scores
            if threshold_field(field, score) in self.errors
        }
        for problem in scheme_threshold_problems(thresholds=entered):
            name = threshold_field(problem.field, THRESHOLD_SCORES[problem.field][problem.position])
            if name not in invalid:  # a value that is not a number already says so
                self.add_error(name, problem.message)
        return self.cleaned_data

    def save(self, commit: bool = True) -> GradingScheme:
        for field, values in self.threshold_values().items():
            setattr(
                self.instance,
                field,
                [format(v, "f") if isinstance(v, Decimal) else v for v in values],
            )
        return super().save(commit=commit)


#: The thresholds of an active or retired scheme, read-only: one line per dimension.
THRESHOLD_DISPLAYS = ("recency_thresholds", "frequency_thresholds", "monetary_thresholds")


def _thresholds_text(scheme: GradingScheme, field: str) -> str:
    values = list(getattr(scheme, field) or []) or list(_DEFAULT_THRESHOLDS[field])
    return " · ".join(
        _("score %(score)s: %(value)s")
        % {
            "score": score,
            "value": formatting.money(value)
            if field == "m_thresholds"
            else formatting.count(value),
        }
        for score, value in zip(THRESHOLD_SCORES[field], values, strict=False)
    )


@admin.register(GradingScheme)
class GradingSchemeAdmin(GuardedHistoryAdmin):
    form = GradingSchemeForm
    list_display = (
        "name",
        "version",
        "status",
        "based_on",
        "window_days",
        "rfm_method",
        "activated_at",
        "retired_at",
    )
    list_filter = ("status", "rfm_method")
    list_select_related = ("based_on",)
    search_fields = ("name", "description")
    readonly_fields = (
        "status",
        "based_on",
        "created_by",
        "created_at",
        "activated_at",
        "retired_at",
        *THRESHOLD_DISPLAYS,
    )
    inlines = (SchemeGradeInline,)
    #: Buttons in the page's header (unfold); each is shown only where it applies.
    actions_detail = ("revise_scheme", "open_what_if")

    class Media:
        # The ladder's columns sized to fit a 1366 px screen.
        css = {"all": ("css/grading-scheme.css",)}

    actions = (
        "activate_scheme",
        "revise_schemes",
        "revise_with_default_counts",
        "retire_schemes",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The version is chosen when a scheme is created (or by `scheme_revise`), then fixed.
        return self.readonly_fields if obj is None else (*self.readonly_fields, "version")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if _is_draft(obj):
            return SCHEME_FIELDSETS
        # Active and retired: the thresholds as read-only lines, not twelve empty fields.
        return [
            (title, {**options, "fields": THRESHOLD_DISPLAYS})
            if options["fields"] == SCHEME_FIELDSETS[2][1]["fields"]
            else (title, options)
            for title, options in SCHEME_FIELDSETS
        ]

    @admin.display(description=gettext_lazy("Recency: last order within (days)"))
    def recency_thresholds(self, obj: GradingScheme) -> str:
        return _thresholds_text(obj, "r_thresholds")

    @admin.display(description=gettext_lazy("Frequency: from (orders)"))
    def frequency_thresholds(self, obj: GradingScheme) -> str:
        return _thresholds_text(obj, "f_thresholds")

    @admin.display(description=gettext_lazy("Monetary: from (net purchases)"))
    def monetary_thresholds(self, obj: GradingScheme) -> str:
        return _thresholds_text(obj, "m_thresholds")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_delete_permission(request, obj)

    def has_revise_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        """May create a new draft from this scheme: an active or retired one, by a changer."""
        if object_id is None:
            return super().has_change_permission(request)
        scheme = GradingScheme.objects.filter(pk=object_id).only("status").first()
        return (
            scheme is not None and not _is_draft(scheme) and super().has_change_permission(request)
        )

    @action(
        description=gettext_lazy("Create a new draft version"),
        url_path="revise",
        permissions=["revise"],
        icon="content_copy",
    )
    def revise_scheme(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Ask, then copy the scheme into its next draft version and open the draft."""
        scheme = get_object_or_404(GradingScheme, pk=object_id)
        if request.method != "POST":
            return TemplateResponse(
                request,
                "admin/grading/gradingscheme/revise_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.opts,
                    "title": _("Create a new draft version of %(scheme)s") % {"scheme": scheme},
                    "scheme": scheme,
                },
            )
        draft = scheme_revise(scheme=scheme, by=acting_user(request.user))
        self.message_user(
            request,
            _(
                "Created draft %(draft)s from %(scheme)s: edit it, check its what-if, then "
                "activate it."
            )
            % {"draft": draft, "scheme": scheme},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:grading_gradingscheme_change", args=[draft.pk]))

    @action(
        description=gettext_lazy("What-if"),
        url_path="what-if",
        permissions=["view"],
        icon="query_stats",
    )
    def open_what_if(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Open the what-if page of this scheme (the population scored under it)."""
        return HttpResponseRedirect(reverse("reports:what-if", args=[object_id]))

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Bulk delete would bypass the per-scheme rule above (only drafts are deleted).
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_revise": self.has_revise_permission(request, object_id),
        }
        scheme = self.get_object(request, object_id)
        if scheme is not None and scheme.status != GradingScheme.Status.RETIRED:
            # Quarterly rungs still at the counts shipped before issue #17 (the migration
            # updated only an untouched default scheme): offer a draft with the new ones.
            outdated = scheme_rungs_with_outdated_counts(scheme=scheme)
            context["outdated_rungs"] = outdated
            context["outdated_grades"] = ", ".join(str(rung.grade) for rung in outdated)
            context["quarterly_counts"] = DEFAULT_COUNTS[Cadence.QUARTERLY]
        return super().change_view(request, object_id, form_url, context)

    def save_model(self, request: HttpRequest, obj: GradingScheme, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = acting_user(request.user)
        super().save_model(request, obj, form, change)

    @admin.action(description=gettext_lazy("Activate the selected draft"), permissions=["change"])
    def activate_scheme(self, request: HttpRequest, queryset: QuerySet[GradingScheme]) -> None:
        schemes = list(queryset[:2])
        if len(schemes) != 1:
            self.message_user(request, _("Select exactly one draft to activate."), messages.ERROR)
            return
        try:
            scheme = scheme_activate(scheme=schemes[0], by=acting_user(request.user))
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(
            request,
            _("%(scheme)s is now active; the previously active scheme was retired.")
            % {"scheme": scheme},
            messages.SUCCESS,
        )

    @admin.action(description=gettext_lazy("Create a new draft version"), permissions=["change"])
    def revise_schemes(
        self, request: HttpRequest, queryset: QuerySet[GradingScheme]
    ) -> HttpResponseRedirect | None:
        drafts = [
            scheme_revise(scheme=s, by=acting_user(request.user)) for s in queryset.order_by("pk")
        ]
        self.message_user(
            request,
            ngettext("Created draft %(drafts)s.", "Created drafts %(drafts)s.", len(drafts))
            % {"drafts": ", ".join(str(d) for d in drafts)},
            messages.SUCCESS,
        )
        if len(drafts) == 1:
            # One scheme revised (e.g. from its change page): go straight to the new draft.
            return HttpResponseRedirect(
                reverse("admin:grading_gradingscheme_change", args=[drafts[0].pk])
            )
        return None

    @admin.action(
        description=gettext_lazy("Create a new draft version with the new default counts"),
        permissions=["change"],
    )
    def revise_with_default_counts(
        self, request: HttpRequest, queryset: QuerySet[GradingScheme]
    ) -> HttpResponseRedirect | None:
        drafts = [
            scheme_revise_with_default_counts(scheme=s, by=acting_user(request.user))
            for s in queryset.order_by("pk")
        ]
        self.message_user(
            request,
            ngettext(
                "Created draft %(drafts)s: its quarterly grades warn after 2 reviews under "
                "target and propose a downgrade after 3. Check it, then activate it.",
                "Created drafts %(drafts)s: their quarterly grades warn after 2 reviews under "
                "target and propose a downgrade after 3. Check them, then activate one.",
                len(drafts),
            )
            % {"drafts": ", ".join(str(d) for d in drafts)},
            messages.SUCCESS,
        )
        if len(drafts) == 1:
            return HttpResponseRedirect(
                reverse("admin:grading_gradingscheme_change", args=[drafts[0].pk])
            )
        return None

    @admin.action(description=gettext_lazy("Retire the selected schemes"), permissions=["change"])
    def retire_schemes(self, request: HttpRequest, queryset: QuerySet[GradingScheme]) -> None:
        was_active = queryset.filter(status=GradingScheme.Status.ACTIVE).exists()
        retired = [
            scheme_retire(scheme=s, by=acting_user(request.user)) for s in queryset.order_by("pk")
        ]
        self.message_user(
            request,
            ngettext("Retired %(count)d scheme.", "Retired %(count)d schemes.", len(retired))
            % {"count": len(retired)},
            messages.SUCCESS,
        )
        if was_active:
            self.message_user(
                request,
                _("No scheme is active now: grading runs will not start until one is activated."),
                messages.WARNING,
            )
