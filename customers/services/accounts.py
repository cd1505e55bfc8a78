"""Customer portal accounts: ops invite a customer's contact, who then sets a password.

The invitation creates a login with an unusable password and e-mails a one-time
set-password link (Django's password-reset token, so it expires with
PASSWORD_RESET_TIMEOUT and dies once used) to /portal/reset/<uidb64>/<token>/, on commit.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from common.exceptions import ConflictError, DomainError
from customers.models import Customer, CustomerAccount


def customer_account_set_password_link(*, user: User, base_url: str) -> str:
    """Return the absolute one-time link where `user` chooses a password."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("portal:password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    return base_url.rstrip("/") + path


def customer_account_invite(
    *, customer: Customer, email: str, by: User | None, base_url: str | None = None
) -> CustomerAccount:
    """Invite `email` to the portal of `customer`; e-mail the set-password link on commit.

    Creates the login (username = the e-mail address, unusable password, not staff) and
    its CustomerAccount. Inviting an address already linked to this customer sends a fresh
    link; an address used by any other login is refused (ConflictError).
    """
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as invalid:
        raise DomainError(
            _("“%(email)s” is not a valid e-mail address.") % {"email": email}, field="email"
        ) from invalid
    user_model = get_user_model()
    with transaction.atomic():
        user = (
            user_model.objects.select_for_update()
            .filter(**{user_model.USERNAME_FIELD: email})
            .first()
        )
        if user is None:
            user = user_model.objects.create_user(email, email=email)
            user.set_unusable_password()
            user.save(update_fields=["password"])
            account = CustomerAccount.objects.create(
                user=user, customer=customer, invited_by=by, invited_at=timezone.now()
            )
        else:
            existing = CustomerAccount.objects.filter(user=user, customer=customer).first()
            if existing is None:
                raise ConflictError(
                    _("%(email)s already has a login that is not this customer's.")
                    % {"email": email},
                    field="email",
                )
            account = existing
        user_id, base = user.pk, base_url or settings.SITE_URL
        transaction.on_commit(lambda: _invitation_send(user_id=user_id, base_url=base))
    return account


def _invitation_send(*, user_id: int, base_url: str) -> None:
    user = get_user_model().objects.select_related("customer_account__customer").get(pk=user_id)
    context = {
        "customer": user.customer_account.customer.name,
        "username": user.get_username(),
        "link": customer_account_set_password_link(user=user, base_url=base_url),
    }
    subject = " ".join(render_to_string("customers/invite_subject.txt", context).split())
    body = render_to_string("customers/invite_email.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
