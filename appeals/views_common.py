"""Pieces the portal and the manager pages share."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import AnonymousUser, User
from django.http import FileResponse, Http404, HttpResponseRedirect

from appeals.evidence import EXTENSIONS, private_storage
from appeals.models import Evidence
from common.exceptions import DomainError
from common.models import Notification
from common.selectors import notification_unread_count
from common.services import notification_mark_read


def notifications_context(user: User | AnonymousUser, *, limit: int = 10) -> dict:
    """Return the unread count and the latest notifications of `user`.

    The count comes from the cache while the user's notifications do not change (every
    page's menu shows it); the notifications are a query run only where a page lists them
    (the messages pages), not on every page.
    """
    if not user.is_authenticated:
        return {"unread_count": 0, "notifications": []}
    return {
        "unread_count": notification_unread_count(user_id=user.pk),
        "notifications": Notification.objects.filter(recipient=user).order_by("-created_at", "-id")[
            :limit
        ],
    }


def domain_error_to_form(form: forms.Form, error: DomainError) -> None:
    """Show a service's refusal on the form field it names (or on the whole form)."""
    field: Any = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def evidence_response(evidence: Evidence) -> FileResponse:
    """Serve an evidence file as a download (never inline: no HTML or PDF runs in our origin)."""
    try:
        handle = private_storage.open(evidence.stored_name, "rb")
    except FileNotFoundError as missing:
        raise Http404 from missing
    name = evidence.original_name
    extension = EXTENSIONS.get(evidence.content_type, "")
    if extension and not name.lower().endswith(extension):
        name += extension
    response = FileResponse(
        handle, as_attachment=True, filename=name, content_type=evidence.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def notification_open_response(user: User, *, pk: int, fallback: str) -> HttpResponseRedirect:
    """Mark the user's notification `pk` read and go to the page it is about (404 if not theirs).

    Opening a message reads it; a message without a page (or with one outside this site)
    goes back to the messages list, `fallback`.
    """
    note = Notification.objects.filter(recipient=user, pk=pk).only("link").first()
    if note is None:
        raise Http404
    notification_mark_read(user_id=user.pk, ids=[note.pk])
    local = note.link.startswith("/") and not note.link.startswith("//")
    return HttpResponseRedirect(note.link if local else fallback)
