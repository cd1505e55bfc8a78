"""How appeal notifications read (common.messages): one kind per status an appeal reaches.

The customer reads about their own appeal in the second person; the account manager reads
about the customer by name.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from appeals.models import Appeal
from common.messages import MessageText, Params, day, in_reader_language, message_kind

Status = Appeal.Status
STAFF = "staff"
CUSTOMER = "customer"


@message_kind(*(f"appeal_{status}" for status in Status.values))
def appeal_status(params: Params) -> MessageText:
    """An appeal moved to `status`.

    Parameters: `id`, `status`, `audience`, `from` and `to` (grade names in every language),
    `note` (what the reviewer or the customer wrote), `until` (ISO date the kept grade is
    locked to, for an accepted appeal), and for staff `customer`.
    """
    status = Status(params["status"])
    values = {
        "id": params["id"],
        "from": in_reader_language(params["from"]) or "—",
        "to": in_reader_language(params["to"]) or "—",
    }
    if params["audience"] == CUSTOMER:
        titles = {
            Status.SUBMITTED: _("We received your appeal #%(id)s against the change to %(to)s"),
            Status.UNDER_REVIEW: _("We are reviewing your appeal #%(id)s"),
            Status.ACCEPTED: _("Your appeal #%(id)s was accepted: your grade is %(from)s again"),
            Status.REJECTED: _("Your appeal #%(id)s was not accepted"),
            Status.WITHDRAWN: _("Your appeal #%(id)s was withdrawn"),
        }
        if status == Status.ACCEPTED and params.get("until"):
            titles[status] = _(
                "Your appeal #%(id)s was accepted: your grade is %(from)s again until %(until)s"
            )
            values["until"] = day(params["until"])
    else:
        values["customer"] = params["customer"]
        titles = {
            Status.SUBMITTED: _("Appeal #%(id)s filed for %(customer)s (%(from)s → %(to)s)"),
            Status.UNDER_REVIEW: _("Appeal #%(id)s of %(customer)s is under review"),
            Status.ACCEPTED: _("Appeal #%(id)s of %(customer)s accepted: %(from)s restored"),
            Status.REJECTED: _("Appeal #%(id)s of %(customer)s rejected"),
            Status.WITHDRAWN: _("Appeal #%(id)s of %(customer)s withdrawn"),
        }
    body = params.get("note") or _("Status: %(status)s.") % {"status": status.label}
    return MessageText(titles[status] % values, body)
