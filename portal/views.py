"""Customer portal pages (/portal/): grade, explanation, ladder, history, appeals.

Every view requires a login that is a `CustomerAccount`; the customer is *always* the
login's customer, never read from the URL, and every lookup by id is filtered by that
customer, so another customer's appeal or file is a 404 exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from appeals import selectors, services
from appeals.evidence import EvidenceSizeLimitHandler
from appeals.forms import AppealForm
from appeals.views_common import (
    domain_error_to_form,
    evidence_response,
    notification_open_response,
    notifications_context,
)
from benefits.models import GrowthTask, Redemption
from benefits.selectors import (
    entitlement_list_for_customer,
    growth_task_progress_for_customer,
    redemption_list_for_customer,
)
from benefits.services.growth import customer_profile_save
from benefits.services.redemptions import benefit_redeem as redemption_make
from common.actors import acting_user
from common.exceptions import DomainError
from common.services import notification_mark_read
from customers.models import Customer
from customers.selectors import (
    customer_for_portal_user,
    points_balance,
    points_entries_for_customer,
)
from customers.services.profile import CONTACT_FIELDS, customer_profile_is_complete
from portal import selectors as portal_selectors
from portal.forms import ProfileForm, RedeemForm

View = Callable[..., HttpResponseBase]


def portal_view(view: View) -> View:
    """Require a logged-in customer account; pass its customer to the view."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "portal:login")
        customer = customer_for_portal_user(request.user)
        if customer is None:
            return render(request, "portal/not_a_customer.html", status=403)
        return view(request, customer, *args, **kwargs)

    return wrapper


def _render(
    request: HttpRequest, template: str, customer: Customer, **context: Any
) -> HttpResponse:
    context.update(customer=customer, section="portal", **notifications_context(request.user))
    return render(request, template, context)


@require_GET
@portal_view
def home(request: HttpRequest, customer: Customer) -> HttpResponse:
    explanation = portal_selectors.grade_explanation_for_customer(
        customer=customer, today=timezone.localdate()
    )
    return _render(
        request,
        "portal/home.html",
        customer,
        explanation=explanation,
        # The grade the explanation read with the customer, this request.
        entitlements=entitlement_list_for_customer(customer=customer, grade=explanation.grade),
        redemptions=redemption_list_for_customer(customer=customer, limit=10),
        appealable=list(selectors.appealable_change_list(customer=customer)[:5]),
        open_appeals=list(
            selectors.appeal_list_for_customer(customer=customer).filter(
                status__in=selectors.Appeal.OPEN_STATUSES
            )
        ),
        points=points_balance(customer),
        window_days=selectors.appeal_window_days(),
    )


@require_GET
@portal_view
def grades(request: HttpRequest, customer: Customer) -> HttpResponse:
    state = getattr(customer, "grade_state", None)
    return _render(
        request,
        "portal/grades.html",
        customer,
        ladder=portal_selectors.ladder_published(),
        current_grade_id=state.grade_id if state else None,
    )


@require_GET
@portal_view
def history(request: HttpRequest, customer: Customer) -> HttpResponse:
    return _render(
        request,
        "portal/history.html",
        customer,
        entries=portal_selectors.grade_history_for_customer(customer=customer),
        downgrades=selectors.appeal_reversals_annotate(
            portal_selectors.downgrades_for_customer(customer=customer)
        ),
        appealable_ids=set(
            selectors.appealable_change_list(customer=customer).values_list("pk", flat=True)
        ),
    )


@require_GET
@portal_view
def points(request: HttpRequest, customer: Customer) -> HttpResponse:
    return _render(
        request,
        "portal/points.html",
        customer,
        points=points_balance(customer),
        entries=points_entries_for_customer(customer=customer),
        tasks=growth_task_progress_for_customer(customer=customer),
    )


@require_GET
@portal_view
def benefits(request: HttpRequest, customer: Customer) -> HttpResponse:
    entitlements = entitlement_list_for_customer(customer=customer)
    return _render(
        request,
        "portal/benefits.html",
        customer,
        offers=[(e, RedeemForm.for_benefit(e.benefit.code)) for e in entitlements],
        redemptions=redemption_list_for_customer(customer=customer),
    )


@require_POST
@portal_view
def benefit_redeem(request: HttpRequest, customer: Customer) -> HttpResponse:
    # The key comes from the rendered form: a double click or a resent POST carries the
    # same key, and the service returns the first redemption instead of making another.
    form = RedeemForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("This form has expired. Please try again."))
        return redirect("portal:benefits")
    try:
        redemption = redemption_make(
            customer_id=customer.pk,
            benefit_code=form.cleaned_data["benefit"],
            idempotency_key=form.cleaned_data["key"],
            channel=Redemption.Channel.PORTAL,
            by=acting_user(request.user),
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Redeemed: %(benefit)s. It is listed under “Benefits you used”.")
            % {"benefit": redemption.benefit.name},
        )
    return redirect("portal:benefits")


@require_http_methods(["GET", "POST"])
@portal_view
def profile(request: HttpRequest, customer: Customer) -> HttpResponse:
    initial = {name: getattr(customer, name) for name in CONTACT_FIELDS}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = customer_profile_save(
            customer_id=customer.pk, values=form.cleaned_data, by=acting_user(request.user)
        )
        if saved.points:
            messages.success(
                request,
                _("Your profile is complete: %(points)s growth points were added.")
                % {"points": saved.points},
            )
        elif saved.changed:
            messages.success(request, _("Your contact details were saved."))
        else:
            messages.info(request, _("Nothing changed."))
        return redirect("portal:profile")
    return _render(
        request,
        "portal/profile.html",
        customer,
        form=form,
        complete=customer_profile_is_complete(customer),
        task=next(
            (
                p
                for p in growth_task_progress_for_customer(customer=customer)
                if p.task.code == GrowthTask.Code.COMPLETE_PROFILE
            ),
            None,
        ),
    )


@require_GET
@portal_view
def appeal_list(request: HttpRequest, customer: Customer) -> HttpResponse:
    return _render(
        request,
        "portal/appeal_list.html",
        customer,
        appeals=list(selectors.appeal_list_for_customer(customer=customer)),
        appealable=list(selectors.appealable_change_list(customer=customer)),
    )


@csrf_exempt  # CSRF is checked below, after the size-limit upload handler is in place
@require_http_methods(["GET", "POST"])
def appeal_new(request: HttpRequest, change_id: int) -> HttpResponseBase:
    limit = EvidenceSizeLimitHandler(request)
    request.upload_handlers.insert(0, limit)
    return _appeal_new(request, change_id=change_id, limit=limit)


@csrf_protect
@portal_view
def _appeal_new(
    request: HttpRequest, customer: Customer, change_id: int, limit: EvidenceSizeLimitHandler
) -> HttpResponse:
    change = get_object_or_404(selectors.appealable_change_list(customer=customer), pk=change_id)
    form = AppealForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid() and not limit.skipped:
        try:
            appeal = services.appeal_file(
                customer=customer,
                change_id=change.pk,
                reason=form.cleaned_data["reason"],
                files=form.cleaned_data["evidence"],
                by=acting_user(request.user),
            )
        except DomainError as error:
            domain_error_to_form(form, error)
        else:
            messages.success(request, _("Your appeal was filed. We will get back to you."))
            return redirect("portal:appeal_detail", pk=appeal.pk)
    for refusal in limit.refusals():
        form.add_error("evidence", refusal)
    return _render(request, "portal/appeal_new.html", customer, change=change, form=form)


@require_GET
@portal_view
def appeal_detail(request: HttpRequest, customer: Customer, pk: int) -> HttpResponse:
    appeal = get_object_or_404(selectors.appeal_list_for_customer(customer=customer), pk=pk)
    return _render(
        request,
        "portal/appeal_detail.html",
        customer,
        appeal=appeal,
        answer_due=selectors.appeal_answer_due_at(appeal),
        lock=selectors.appeal_lock_for_customer(customer=customer)
        if appeal.status == selectors.Appeal.Status.ACCEPTED
        else None,
        events=list(selectors.appeal_events(appeal=appeal)),
        evidence=list(appeal.evidence.all()),
    )


@require_POST
@portal_view
def appeal_withdraw(request: HttpRequest, customer: Customer, pk: int) -> HttpResponse:
    try:
        services.appeal_withdraw(appeal_id=pk, customer=customer, by=acting_user(request.user))
    except selectors.Appeal.DoesNotExist as missing:
        raise Http404 from missing
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your appeal was withdrawn."))
    return redirect("portal:appeal_detail", pk=pk)


@require_GET
@portal_view
def evidence_download(request: HttpRequest, customer: Customer, pk: int) -> FileResponse:
    evidence = get_object_or_404(selectors.evidence_list_for_customer(customer=customer), pk=pk)
    return evidence_response(evidence)


@require_http_methods(["GET", "POST"])
@portal_view
def notifications(request: HttpRequest, customer: Customer) -> HttpResponse:
    if request.method == "POST":
        notification_mark_read(user_id=acting_user(request.user).pk)
        return redirect("portal:notifications")
    return _render(request, "portal/notifications.html", customer)


@require_GET
@portal_view
def notification_open(request: HttpRequest, customer: Customer, pk: int) -> HttpResponse:
    return notification_open_response(
        acting_user(request.user), pk=pk, fallback=reverse("portal:notifications")
    )
