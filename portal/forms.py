"""Forms of the portal's self-service pages: they check the shape, services decide."""

from __future__ import annotations

import re
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from benefits.services.redemptions import IDEMPOTENCY_KEY_MAX

#: What a phone number may contain: digits, spaces, "+", "-", "(", ")" and "/", with
#: 6 to 20 digits in all (a Chinese mobile has 11; "+86 10 6552 9988" is fine).
PHONE_CHARACTERS = re.compile(r"^\+?[0-9 ()/-]+$")


class RedeemForm(forms.Form):
    """One benefit to redeem; `key` is generated per rendered form, so a resend redeems once."""

    benefit = forms.CharField(max_length=64, widget=forms.HiddenInput)
    key = forms.CharField(max_length=IDEMPOTENCY_KEY_MAX, widget=forms.HiddenInput)

    @classmethod
    def for_benefit(cls, code: str) -> RedeemForm:
        """Return an unbound form for `code` with a fresh idempotency key."""
        return cls(initial={"benefit": code, "key": uuid.uuid4().hex})


class ProfileForm(forms.Form):
    """The contact details a customer may edit (customers.services.profile.CONTACT_FIELDS)."""

    contact_name = forms.CharField(label=_("Contact name"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=32,
        required=False,
        help_text=_("Digits, spaces and + - ( ) only, for example +86 138 0013 8000."),
    )
    address = forms.CharField(
        label=_("Address"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"].strip()
        if not phone:
            return phone
        digits = sum(c.isdigit() for c in phone)
        if not PHONE_CHARACTERS.match(phone) or not 6 <= digits <= 20:
            raise ValidationError(
                _("Enter a phone number of 6 to 20 digits (spaces and + - ( ) are allowed)."),
                code="invalid",
            )
        return phone

    def clean_contact_name(self) -> str:
        return self.cleaned_data["contact_name"].strip()

    def clean_address(self) -> str:
        # One line in the customer record: line breaks become ", ".
        lines = [line.strip() for line in self.cleaned_data["address"].splitlines()]
        return ", ".join(line for line in lines if line)
