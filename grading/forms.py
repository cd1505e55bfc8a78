"""Forms of the grading admin: the intermediate pages of its actions and the override form.

They check the *shape* of the input; business rules stay in the services, and a rule the
service reports (a DomainError naming a field) is shown next to that field.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from common.exceptions import DomainError
from grading.models import GradeOverride
from grading.services.overrides import grade_override_validate


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
