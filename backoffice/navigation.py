"""The admin's sidebar, organised by the operator's jobs, and who sees each link.

settings.UNFOLD["SIDEBAR"]["navigation"] names `sidebar`: unfold calls it per request and
shows an item only when its `permission` callable answers True, so a user sees the lists
their permissions open (Django's "view" permission of the model) and the pages outside the
admin they may open (the account-manager queue, the reports). Labels are lazy translations;
the models' own names come from their verbose names. See docs/operations.md, "The admin".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from common.roles import ACCOUNT_MANAGERS, OPERATIONS
from grading.models import GradeChange

#: The account managers' pages need this (manager.views.VIEW_PERMISSION).
MANAGER_QUEUE_PERMISSION = "appeals.view_followup"
#: The reports need this (grading.views).
REPORTS_PERMISSION = "grading.view_gradingrun"

Permission = Callable[[HttpRequest], bool]


def may(permission: str) -> Permission:
    """Return a callable telling whether the request's user is staff with `permission`."""

    def check(request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and user.has_perm(permission))

    return check


def may_open_manager_queue(request: HttpRequest) -> bool:
    return may(MANAGER_QUEUE_PERMISSION)(request)


def may_open_reports(request: HttpRequest) -> bool:
    return may(REPORTS_PERMISSION)(request)


def site_url(request: HttpRequest) -> str:
    """Where "View site" leads from the admin: the reports, else the manager queue.

    Never the site root, which redirects to the admin itself.
    """
    if may_open_reports(request):
        return reverse("reports:index")
    if may_open_manager_queue(request):
        return reverse("manager:queue")
    return reverse("admin:index")


def landing_url(user: User | AnonymousUser) -> str:
    """Where a person lands after logging in, or at the site root, by who they are.

    Operations (and superusers) the admin's dashboard; an account manager their queue; a
    customer their portal; anyone else the staff login. docs/operations.md, "Sites and logins".
    """
    if not user.is_authenticated or not user.is_active:
        return reverse("admin:login")
    assert isinstance(user, User)
    groups = set(user.groups.values_list("name", flat=True))
    if user.is_staff:
        if user.is_superuser or OPERATIONS in groups or ACCOUNT_MANAGERS not in groups:
            return reverse("admin:index")
        return reverse("manager:queue")
    if hasattr(user, "customer_account"):
        return reverse("portal:home")
    return reverse("portal:login")


def admin_stylesheet(request: HttpRequest) -> str:
    """The URL of static/css/admin.css, TierHub's few additions to unfold's styles."""
    return static("css/admin.css")


def model_item(
    label: str, *, icon: str, title: Any = None, **filters: str
) -> dict[str, Any] | None:
    """A sidebar link to the admin list of model `label` ("app.Model"), filtered by `filters`,
    shown to users who may view that model; None when the admin does not show the model."""
    model = apps.get_model(label)
    if not admin.site.is_registered(model):
        return None
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return {
        "title": title or capfirst(opts.verbose_name_plural),
        "icon": icon,
        "link": f"{url}?{urlencode(filters)}" if filters else url,
        "permission": may(f"{opts.app_label}.view_{opts.model_name}"),
    }


def sidebar(request: HttpRequest) -> list[dict[str, Any]]:
    """Return unfold's sidebar navigation: one group per job of the operator."""
    groups = _groups()
    for group in groups:
        group["items"] = [item for item in group["items"] if item is not None]
    return groups


def _groups() -> list[dict[str, Any]]:
    return [
        {
            "title": pgettext_lazy("admin sidebar", "Review"),
            "items": [
                model_item(
                    "grading.GradeChange",
                    icon="rule",
                    title=_("Grade changes to review"),
                    status=GradeChange.Status.PROPOSED,
                ),
                model_item(
                    "appeals.Appeal", icon="gavel", title=_("Appeals past their SLA"), sla="overdue"
                ),
                {
                    "title": _("Account-manager queue"),
                    "icon": "checklist",
                    "link": reverse("manager:queue"),
                    "permission": may_open_manager_queue,
                },
            ],
        },
        {
            "title": _("Customers"),
            "items": [
                model_item("customers.Customer", icon="groups"),
                model_item("customers.Order", icon="receipt_long"),
                model_item(
                    "customers.SourceMapping", icon="upload_file", title=_("Sales-line imports")
                ),
                model_item("customers.CustomerAccount", icon="badge"),
                model_item("customers.Category", icon="category"),
                model_item("customers.Campaign", icon="campaign"),
                model_item("customers.CampaignInvitation", icon="mail"),
                model_item("customers.Referral", icon="share"),
                model_item("customers.Complaint", icon="report"),
                model_item("customers.ProductReview", icon="reviews"),
                model_item("customers.ServiceTicket", icon="support_agent"),
            ],
        },
        {
            "title": _("Grading"),
            "items": [
                model_item("grading.GradingRun", icon="play_circle"),
                model_item("grading.GradingScheme", icon="stairs"),
                model_item("grading.Grade", icon="military_tech"),
                model_item("grading.CustomerGrade", icon="workspace_premium"),
                model_item("grading.GradeChange", icon="swap_vert"),
                model_item("grading.GradeOverride", icon="push_pin"),
                model_item("grading.ScoreSnapshot", icon="analytics"),
                model_item("grading.GradeAuditEntry", icon="history"),
            ],
        },
        {
            "title": _("Benefits"),
            "items": [
                model_item("benefits.Benefit", icon="redeem"),
                model_item("benefits.Redemption", icon="shopping_bag"),
                model_item("customers.PointsEntry", icon="toll"),
                model_item("benefits.GrowthTask", icon="trending_up"),
                model_item("benefits.Recommendation", icon="lightbulb"),
                model_item("benefits.NudgeRule", icon="notifications_active"),
                model_item("benefits.NudgeEvent", icon="notifications"),
            ],
        },
        {
            "title": _("Appeals"),
            "items": [
                model_item("appeals.Appeal", icon="gavel"),
                model_item("appeals.FollowUp", icon="forum"),
            ],
        },
        {
            "title": _("Reports"),
            "items": [
                {
                    "title": _("Grading reports"),
                    "icon": "monitoring",
                    "link": reverse("reports:index"),
                    "permission": may_open_reports,
                },
            ],
        },
        {
            "title": _("Settings"),
            "items": [
                model_item("auth.User", icon="person"),
                model_item("auth.Group", icon="group"),
                model_item(
                    "django_celery_beat.PeriodicTask", icon="schedule", title=_("Beat schedule")
                ),
                model_item("django_celery_beat.CrontabSchedule", icon="calendar_month"),
                model_item("django_celery_results.TaskResult", icon="task_alt"),
                model_item("common.Notification", icon="mail"),
                model_item("authtoken.TokenProxy", icon="key"),
                model_item("axes.AccessAttempt", icon="lock"),
            ],
        },
    ]
