"""Forms of the portal and the manager pages: they check the shape, services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from appeals.models import FollowUp

#: The file picker's filter; the server decides by content (appeals.evidence.ALLOWED_TYPES).
ACCEPT = ".pdf,.png,.jpg,.jpeg,.webp,.txt,.csv"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that takes several files and returns a list (empty when none)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class AppealForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is this downgrade wrong?"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=5000,
    )
    evidence = MultipleFileField(label=_("Evidence files"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["evidence"].help_text = _(
            "Up to %(count)d files of at most %(size)s each: PDF, images (PNG, JPEG, WebP) "
            "or text (plain text, CSV)."
        ) % {
            "count": settings.APPEAL_EVIDENCE_MAX_FILES,
            "size": filesizeformat(settings.APPEAL_EVIDENCE_MAX_BYTES),
        }


class FollowUpForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=FollowUp.Kind.choices)
    outcome = forms.CharField(
        label=_("Outcome"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    next_step = forms.CharField(
        label=_("Next step"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
        required=False,
        help_text=_("Required for a warning follow-up."),
    )


class DecisionForm(forms.Form):
    """The note ops give with a decision (required for accept and reject)."""

    note = forms.CharField(
        label=_("Note to the customer"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
