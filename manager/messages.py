"""How the manager app's notifications read (common.messages): the nightly needs check."""

from __future__ import annotations

from django.utils.translation import gettext as _

from common import formatting
from common.messages import MessageText, Params, message_kind


@message_kind("queue_needs_check")
def queue_needs_check(params: Params) -> MessageText:
    """The nightly check found rows of the queue's needs table that differed from a
    recomputation, and repaired them. Parameters: `count`, `lines` (as found)."""
    lines = list(params["lines"])
    if params["count"] > len(lines):
        lines.append(_("… and %(n)s more.") % {"n": formatting.count(params["count"] - len(lines))})
    lines.insert(
        0,
        _(
            "They were recomputed from the source data. A difference means something changed "
            "customers without refreshing the queue: tell the developers if it happens again."
        ),
    )
    return MessageText(
        _("Manager queue check: %(n)s customers' needs were out of date")
        % {"n": formatting.count(params["count"])},
        "\n".join(lines),
    )
