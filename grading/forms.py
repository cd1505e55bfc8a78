"""Forms of the grading admin: the intermediate pages of its actions and the override form.

They check the *shape* of the input; business rules stay in the services, and a rule the
service reports (a DomainError naming a field) is shown next to that field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.exceptions import DomainError
from grading.models import GradeOverride, GradingScheme
from grading.services.as_of import grading_run_as_of_validate
from grading.services.overrides import grade_override_validate
from grading.services.schedule import period_as_of


def add_domain_error(form: forms.BaseForm, error: DomainError) -> None:
    """Show a service's DomainError on `form`: next to its field, or above the form."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class ApproveChangesForm(forms.Form):
    """Confirm approving the selected downgrades, with an optional note."""

    note = forms.CharField(
        label=_("Note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Recorded as the decision note and in the audit history."),
    )


class RejectChangesForm(forms.Form):
    """Confirm rejecting the selected downgrades; the reason is required."""

    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        error_messages={"required": _("Give a reason for rejecting the change.")},
        help_text=_("The account manager reads it; the customers keep their grades."),
    )


class DecideChangeForm(forms.Form):
    """Approve or reject one proposal from its page; a reject needs the reason.

    One note box for both buttons: the approval's note (optional) or the rejection's reason
    (required, checked by `grade_change_reject` and shown next to this field).
    """

    APPROVE = "approve"
    REJECT = "reject"

    decision = forms.ChoiceField(
        choices=[(APPROVE, _("Approve")), (REJECT, _("Reject"))], widget=forms.HiddenInput
    )
    note = forms.CharField(
        label=_("Note or reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_(
            "Optional when approving (recorded as the decision note and in the audit "
            "history); required when rejecting: the account manager reads it."
        ),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("decision") == self.REJECT and not cleaned.get("note", "").strip():
            self.add_error("note", _("Give a reason for rejecting the change."))
        return cleaned


class EndOverridesForm(forms.Form):
    """Confirm ending the selected overrides; the reason is required."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=GradeOverride._meta.get_field("end_reason").max_length,
        error_messages={"required": _("Give a reason for ending the override.")},
        help_text=_("The next grading run decides these customers' grades normally."),
    )


class GradeOverrideAddForm(forms.ModelForm):
    """Pin a customer's grade: who, which grade, why and until when."""

    class Meta:
        model = GradeOverride
        fields = ("customer", "grade", "reason", "expires_on")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "reason" in cleaned and "expires_on" in cleaned:
            try:
                grade_override_validate(reason=cleaned["reason"], expires_on=cleaned["expires_on"])
            except DomainError as error:
                add_domain_error(self, error)
        return cleaned


class GradeNowForm(forms.Form):
    """Start a grading run from the admin: which scheme, which period (its as-of date).

    The same checks as `manage.py run_grading`: a date, not after today; a scheme that can
    grade (active or retired). The service checks them again (`grading_run_queue`).
    """

    scheme = forms.ModelChoiceField(
        label=_("Scheme"),
        queryset=GradingScheme.objects.none(),
        empty_label=None,
        error_messages={"required": _("Choose the scheme to grade with.")},
        help_text=_("The active scheme, or a retired one to grade a past period as it was."),
    )
    as_of = forms.DateField(
        label=_("As of"),
        # The browser's date picker reads and sends ISO dates, whatever the language.
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": _("Give the as-of date: the first day after the graded period."),
            "invalid": _("Enter the as-of date as YYYY-MM-DD."),
        },
        help_text=_(
            "The first day after the period to grade: the run grades the orders before it. "
            "Today at the latest."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["scheme"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = GradingScheme.objects.filter(
            status__in=[GradingScheme.Status.ACTIVE, GradingScheme.Status.RETIRED]
        ).order_by("status", "name", "-version")  # "active" sorts before "retired"
        if not self.is_bound:
            active = field.queryset.filter(status=GradingScheme.Status.ACTIVE).first()
            self.initial.setdefault("scheme", active.pk if active else None)
            self.initial.setdefault("as_of", period_as_of(timezone.localdate()))

    def clean_as_of(self) -> dt.date:
        as_of: dt.date = self.cleaned_data["as_of"]
        try:
            grading_run_as_of_validate(as_of=as_of)
        except DomainError as error:
            raise forms.ValidationError(error.message, code=error.code) from error
        return as_of
