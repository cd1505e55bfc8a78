"""How the nudges' notifications read (common.messages).

The account manager reads about the customer (`customer`, their code and name); the
customer's own portal login reads about themselves. Parameters: `audience`, `day` (ISO
date: registration or last order), `benefit` (the benefit's name in every language, or
None when the rule names no active benefit).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from common.messages import MessageText, Params, day, in_reader_language, message_kind

STAFF = "staff"
CUSTOMER = "customer"


@message_kind("nudge_new_customer_pack")
def new_customer_pack(params: Params) -> MessageText:
    """A new customer: the manager welcomes them, the customer hears of their pack."""
    benefit = in_reader_language(params.get("benefit"))
    if params["audience"] == CUSTOMER:
        if not benefit:
            body = _("Thank you for joining us. Your grade and benefits are in the portal.")
        else:
            body = _(
                "Thank you for joining us. As a new customer you get “%(benefit)s”; your grade "
                "and benefits are in the portal."
            ) % {"benefit": benefit}
        return MessageText(_("Welcome: your new-customer pack"), body)
    values = {"day": day(params["day"]), "benefit": benefit}
    body = (
        _("Registered on %(day)s. Welcome them and hand over “%(benefit)s”.") % values
        if benefit
        else _("Registered on %(day)s. Welcome them.") % values
    )
    title = _("New customer %(customer)s: new-customer pack") % {"customer": params["customer"]}
    return MessageText(title, body)


@message_kind("nudge_growth_no_order_reminder")
def growth_no_order_reminder(params: Params) -> MessageText:
    """A quiet growth-grade customer: the manager reaches out, the customer gets an offer."""
    offer = in_reader_language(params.get("benefit"))
    values = {"day": day(params["day"]), "offer": offer}
    if params["audience"] == CUSTOMER:
        body = (
            _("Your last order was on %(day)s. An offer for your next order: “%(offer)s”.")
            if offer
            else _("Your last order was on %(day)s. We would be glad to see you again.")
        )
        return MessageText(_("An offer for your next order"), body % values)
    body = (
        _("Reach out with an offer: “%(offer)s”.") % values
        if offer
        else _("Reach out with an offer to bring them back.")
    )
    title = _("Reminder: %(customer)s has not ordered since %(day)s") % {
        "customer": params["customer"],
        "day": values["day"],
    }
    return MessageText(title, body)
