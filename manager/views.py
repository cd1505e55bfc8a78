"""Account managers' pages (/manager/): the queue, its CSV export and a customer page.

Staff with the follow-up permission only (account managers and Operations). Every customer
lookup goes through the scoped queue selector, so another manager's customer is a 404 by
URL, absent from search results and from the export (docs/architecture.md, invariant 5).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from appeals import selectors, services
from appeals.forms import FollowUpForm
from appeals.labels import grade_label
from appeals.views_common import (
    domain_error_to_form,
    notification_open_response,
    notifications_context,
)
from benefits.exceptions import RecommendationAlreadyDecided
from benefits.models import Recommendation
from benefits.selectors import (
    recommendation_list_for_customer,
    recommendation_list_for_user,
    ticket_list_for_customer,
)
from benefits.services.recommendations import recommendation_decide
from common.actors import acting_user
from common.csv_files import csv_attachment
from common.exceptions import DomainError
from common.listing import EstimatedCountPaginator
from common.services import notification_mark_read
from customers.selectors import (
    VIEW_ALL_PERMISSION,
    customer_list_for_user,
    customer_recent_orders,
)
from manager.selectors import FLAGS, appeal_due_at, customer_queue_for_user, grade_choices
from portal import selectors as portal_selectors

PAGE_SIZE = 25
VIEW_PERMISSION = "appeals.view_followup"
ADD_PERMISSION = "appeals.add_followup"
RECOMMENDATION_PERMISSION = "benefits.change_recommendation"

View = Callable[..., HttpResponseBase]


def manager_view(view: View) -> View:
    """Require a staff login allowed to read the follow-up log (managers and Operations)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "admin:login")
        if not (user.is_active and user.is_staff and user.has_perm(VIEW_PERMISSION)):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _filters(request: HttpRequest) -> dict[str, str]:
    return {
        "flag": request.GET.get("flag", ""),
        "grade": request.GET.get("grade", ""),
        "search": request.GET.get("q", "")[:100],
    }


@require_GET
@manager_view
def queue(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    rows = customer_queue_for_user(user=request.user, now=timezone.now(), **filters)
    page = EstimatedCountPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    for row in page:
        row.appeal_due_at = appeal_due_at(row.appeal_filed_at)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "manager/queue.html",
        {
            "page": page,
            "flags": FLAGS,
            "grades": grade_choices(),
            "filters": filters,
            "query": query.urlencode(),
            # The manager column: asked once, not per row (bench/README.md, issue #19).
            "sees_all": request.user.has_perm(VIEW_ALL_PERMISSION),
            "section": "manager",
            **notifications_context(request.user),
        },
    )


def _cell(value: str) -> str:
    # A spreadsheet runs text starting with = + - @ as a formula (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@manager_view
def queue_export(request: HttpRequest) -> StreamingHttpResponse:
    rows = customer_queue_for_user(user=request.user, now=timezone.now(), **_filters(request))
    writer = csv.writer(_Echo())
    # A file for people: headings and grades in the reader's language (nothing imports it).
    header = [
        _("Customer code"),
        _("Customer"),
        _("Grade"),
        _("Composite score"),
        _("Account manager"),
        *[str(f.label) for f in FLAGS],
    ]

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for c in rows.iterator(chunk_size=2000):
            composite = getattr(c, "composite", None)  # annotated by the queue
            yield writer.writerow(
                [
                    _cell(c.code),
                    _cell(c.name),
                    _cell(grade_label(c.grade)) if c.grade_id else "",
                    "" if composite is None else f"{composite:.2f}",
                    c.account_manager.get_username() if c.account_manager else "",
                    *[int(getattr(c, f"flag_{f.code}")) for f in FLAGS],
                ]
            )

    return csv_attachment(lines(), filename="manager-queue.csv")


@require_http_methods(["GET", "POST"])
@manager_view
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(customer_list_for_user(user=request.user), pk=pk)
    explanation = portal_selectors.grade_explanation_for_customer(
        customer=customer, today=timezone.localdate()
    )
    pending = selectors.warning_pending_for_customer(customer=customer, latest=explanation.snapshot)
    initial = {"kind": "warning"} if pending is not None and not pending.followed_up else {}
    form = FollowUpForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not request.user.has_perm(ADD_PERMISSION):
            raise PermissionDenied
        if form.is_valid():
            try:
                services.follow_up_create(
                    customer=customer, by=acting_user(request.user), **form.cleaned_data
                )
            except DomainError as error:
                domain_error_to_form(form, error)
            else:
                messages.success(request, _("Follow-up recorded."))
                return redirect("manager:customer", pk=customer.pk)
    return render(
        request,
        "manager/customer.html",
        {
            "customer": customer,
            "explanation": explanation,
            "orders": customer_recent_orders(customer=customer),
            "tickets": ticket_list_for_customer(customer=customer),
            "recommendations": recommendation_list_for_customer(customer=customer),
            "can_decide_recommendations": request.user.has_perm(RECOMMENDATION_PERMISSION),
            "history": portal_selectors.grade_history_for_customer(customer=customer),
            "appeals": list(selectors.appeal_list_for_customer(customer=customer)),
            "follow_ups": selectors.follow_up_list(customer=customer),
            "pending": pending,
            "form": form,
            "can_add_follow_up": request.user.has_perm(ADD_PERMISSION),
            "section": "manager",
            **notifications_context(request.user),
        },
    )


@require_POST
@manager_view
def recommendation_close(request: HttpRequest, pk: int, recommendation_pk: int) -> HttpResponse:
    """Mark one of the customer's open recommendations done or dismissed."""
    if not request.user.has_perm(RECOMMENDATION_PERMISSION):
        raise PermissionDenied
    customer = get_object_or_404(customer_list_for_user(user=request.user), pk=pk)
    recommendation = get_object_or_404(
        recommendation_list_for_user(user=request.user, status=None).filter(customer=customer),
        pk=recommendation_pk,
    )
    status = request.POST.get("status", "")
    if status not in (Recommendation.Status.DONE, Recommendation.Status.DISMISSED):
        messages.error(request, _("Choose done or dismissed."))
        return redirect("manager:customer", pk=customer.pk)
    try:
        recommendation_decide(
            recommendation_id=recommendation.pk, status=status, by=acting_user(request.user)
        )
    except RecommendationAlreadyDecided as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Recommendation updated."))
    return redirect("manager:customer", pk=customer.pk)


@require_http_methods(["GET", "POST"])
@manager_view
def notifications(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        notification_mark_read(user_id=acting_user(request.user).pk)
        return redirect("manager:notifications")
    return render(
        request,
        "manager/notifications.html",
        {"section": "manager", **notifications_context(request.user, limit=50)},
    )


@require_GET
@manager_view
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    return notification_open_response(
        acting_user(request.user), pk=pk, fallback=reverse("manager:notifications")
    )
