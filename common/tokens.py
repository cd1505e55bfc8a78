"""The API token endpoint (apart from `common.api`, which DRF imports while it loads its
settings: the authtoken views import DRF's generic views, a circular import from there)."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import get_user_model
from django.db.models import Field
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from common.api import ErrorSerializer, IsStaff

_LOCKED_OUT = _(
    "Too many failed logins for this username from this address: logins are locked for a "
    "while. Try again later or ask an administrator to unlock them."
)


def _username_max_length() -> int:
    user_model = get_user_model()
    field = user_model._meta.get_field(user_model.USERNAME_FIELD)
    if not isinstance(field, Field) or field.max_length is None:
        raise TypeError("the username field has no maximum length")
    return field.max_length


class StaffTokenInputSerializer(AuthTokenSerializer):
    """A username and password. A username longer than any account's is refused as input (400)
    before the login attempt is recorded (django-axes stores it in a 255-character column)."""

    username = serializers.CharField(
        label=_("Username"), write_only=True, max_length=_username_max_length()
    )


class StaffTokenApi(ObtainAuthToken):
    """Exchange a staff username and password for the user's API token (created once).

    Wrong credentials are 400 and count towards the login lock-out (django-axes, like the
    admin's login form); a customer's portal login is 403: customers use the portal.
    """

    # api_settings imports the dotted paths of the settings: these are classes at run time.
    renderer_classes = api_settings.DEFAULT_RENDERER_CLASSES  # type: ignore[assignment]
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES  # type: ignore[assignment]
    serializer_class = StaffTokenInputSerializer

    @extend_schema(
        auth=[],
        request=StaffTokenInputSerializer,
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            429: OpenApiResponse(
                ErrorSerializer, description="Locked out after repeated failed logins."
            ),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if isinstance(username, str) and AxesProxyHandler.is_locked(
            request._request, credentials={"username": username}
        ):
            # Locked out (django-axes): say so, rather than "unable to log in" for ever.
            raise exceptions.Throttled(detail=_LOCKED_OUT)
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = payload.validated_data["user"]
        if not user.is_staff:
            raise exceptions.PermissionDenied(IsStaff.message)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
