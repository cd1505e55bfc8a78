"""What a grade change's page shows beside its explanation, from the apps above grading.

grading's review page (`grading.admin.reviews`) cannot import appeals, which owns the account
managers' follow-ups and the customers' appeals (docs/architecture.md, "Layers"): this module
gives it those sections through `change_section_register`, from `BackofficeConfig.ready()`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode

from appeals.selectors import appeal_list_for_customer, follow_up_list
from grading.models import GradeChange
from grading.review_sections import ChangeSection, change_section_register

#: Latest rows a section lists; the rest are a link to the filtered admin list away.
SECTION_ROWS = 10


def _filtered_list(name: str, change: GradeChange) -> str:
    query = urlencode({"customer__id__exact": change.customer_id})
    return f"{reverse(f'admin:{name}_changelist')}?{query}"


def follow_ups_context(request: HttpRequest, change: GradeChange) -> dict[str, Any]:
    """The account manager's latest follow-ups with the change's customer (newest first)."""
    return {
        "follow_ups": follow_up_list(customer=change.customer, limit=SECTION_ROWS),
        "manager": change.customer.account_manager,
        "all_url": _filtered_list("appeals_followup", change),
    }


def appeals_context(request: HttpRequest, change: GradeChange) -> dict[str, Any]:
    """The customer's appeals (newest first); the ones against this change are marked."""
    appeals = list(appeal_list_for_customer(customer=change.customer)[:SECTION_ROWS])
    return {
        "appeals": appeals,
        "change_id": change.pk,
        "all_url": _filtered_list("appeals_appeal", change),
    }


def register_change_sections() -> None:
    """Add the follow-ups and appeals sections to every grade change's page."""
    change_section_register(
        ChangeSection(
            key="follow_ups",
            template="backoffice/change_follow_ups.html",
            context=follow_ups_context,
        )
    )
    change_section_register(
        ChangeSection(
            key="appeals", template="backoffice/change_appeals.html", context=appeals_context
        )
    )
