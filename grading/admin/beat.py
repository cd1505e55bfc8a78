"""The beat's "Run selected tasks" on the monthly grading entry: grade, or say it is graded.

django_celery_beat's action sends the selected entries' tasks and reports "1 task was
successfully run" whatever the task then does; the periodic grading task does nothing once
its period is graded. Here the grading entry goes through "Grade now"'s service instead
(`grading_run_queue`, the current period with the active scheme): it queues the run and
links to its page, or says plainly that the period is graded or being graded. Other entries
keep the package's behaviour. A mixin: the PeriodicTask admin is registered once, on the
admin theme's classes, by `backoffice.admin_packages`, which puts this in front.
docs/operations.md, "The beat's manual trigger".
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_celery_beat.models import PeriodicTask

from common.exceptions import ConflictError, DomainError
from grading.admin.runs import RUN_PERMISSION
from grading.models import GradingRun
from grading.selectors import scheme_get_active
from grading.services.runs import grading_run_queue
from grading.services.schedule import period_as_of

#: The beat entry's task (grading.tasks.periodic_grading_task).
PERIODIC_GRADING_TASK = "grading.periodic_grading"


class GradingTriggerMixin:
    """On django_celery_beat's PeriodicTaskAdmin: "Run selected tasks" grades or says why not."""

    message_user: Any

    @admin.action(description=gettext_lazy("Run selected tasks"))
    def run_tasks(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        grading = queryset.filter(task=PERIODIC_GRADING_TASK)
        if grading.exists():
            self._grade_current_period(request)
        others = queryset.exclude(task=PERIODIC_GRADING_TASK)
        if others.exists():
            super().run_tasks(request, others)  # type: ignore[misc]

    def _grade_current_period(self, request: HttpRequest) -> None:
        """Queue the current period's run with the active scheme, or say why not."""
        if not request.user.has_perm(RUN_PERMISSION):
            self.message_user(
                request, _("You may not start grading runs, so it was not run."), messages.ERROR
            )
            return
        as_of = period_as_of(timezone.localdate())
        try:
            scheme = scheme_get_active()
            run = grading_run_queue(as_of=as_of, scheme=scheme, by=request.user.get_username())
        except ConflictError as error:
            # Graded or being graded: nothing was sent, and the message says so.
            existing = GradingRun.objects.filter(scheme=scheme, as_of=as_of).first()
            self.message_user(request, self._with_link(error.message, existing), messages.INFO)
            return
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(
            request,
            self._with_link(
                _("Grading of %(run)s is queued.") % {"run": run},
                run,
            ),
            messages.SUCCESS,
        )

    def _with_link(self, text: str, run: GradingRun | None) -> str:
        if run is None:
            return text
        url = reverse("admin:grading_gradingrun_change", args=[run.pk])
        return format_html('{} <a href="{}">{}</a>', text, url, _("Open the run"))
