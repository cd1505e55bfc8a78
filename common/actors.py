"""Who is acting: the signed-in user an interface hands to a service as `by=`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User


def acting_user(user: AbstractBaseUser | AnonymousUser) -> User:
    """Return `user` (a request's user) as the project's user model, or refuse an anonymous one.

    Admin pages, portal and manager views and the API sit behind a login, so this never
    refuses there; it turns `request.user` (typed "user or anonymous") into the user that
    services record as the actor of audit rows.
    """
    if not isinstance(user, get_user_model()) or not user.is_authenticated:
        raise PermissionDenied
    return user
