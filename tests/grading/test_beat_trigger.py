"""The beat's "Run selected tasks" on the monthly grading entry: it queues the current
period's run, or says plainly that the period is graded; never "successfully run" for nothing."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from grading.models import GradingRun
from tests.grading.factories import GradingRunFactory, default_scheme

BEAT = reverse("admin:django_celery_beat_periodictask_changelist")
NOW = dt.datetime(2026, 12, 4, 7, 0, tzinfo=dt.UTC)
PERIOD_START = dt.date(2026, 12, 1)


def _run_tasks(client, *names):
    ids = list(PeriodicTask.objects.filter(name__in=names).values_list("pk", flat=True))
    assert len(ids) == len(names)
    return client.post(
        BEAT, {"action": "run_tasks", ACTION_CHECKBOX_NAME: ids}, follow=True
    ).content.decode()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
def test_an_ungraded_period_is_queued_and_linked(
    client, ops, frozen, django_capture_on_commit_callbacks
):
    client.force_login(ops)

    with (
        mock.patch("grading.tasks.run_grading_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        body = _run_tasks(client, "Monthly grading")

    run = GradingRun.objects.get()
    delay.assert_called_once_with("2026-12-01", default_scheme().pk)
    assert (run.as_of, run.phase) == (PERIOD_START, GradingRun.Phase.QUEUED)
    assert f"Grading of {run} is queued." in body
    assert reverse("admin:grading_gradingrun_change", args=[run.pk]) in body
    assert "successfully run" not in body


@pytest.mark.django_db
def test_a_graded_period_says_so_and_sends_nothing(client, ops, frozen):
    run = GradingRunFactory(scheme=default_scheme(), as_of=PERIOD_START)
    client.force_login(ops)

    with (
        mock.patch("grading.tasks.run_grading_task.delay") as delay,
        mock.patch("celery.app.task.Task.apply_async") as sent,
    ):
        body = _run_tasks(client, "Monthly grading")

    delay.assert_not_called()
    sent.assert_not_called()
    assert f"{run} is graded already: nothing was started." in body
    assert "successfully run" not in body


@pytest.mark.django_db
def test_other_entries_keep_the_packages_behaviour(client, ops, frozen):
    GradingRunFactory(scheme=default_scheme(), as_of=PERIOD_START)
    client.force_login(ops)

    with mock.patch("celery.app.task.Task.apply_async") as sent:
        body = _run_tasks(client, "Monthly grading", "Check grades")

    assert sent.call_count == 1  # Check grades only
    assert "1 task was successfully run" in body
    assert "is graded already: nothing was started." in body


@pytest.mark.django_db
def test_staff_who_may_not_run_grading_are_told_so(client, frozen):
    from django.contrib.auth.models import Permission

    from tests.customers.factories import UserFactory

    clerk = UserFactory(username="beat-clerk", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="django_celery_beat", codename__endswith="periodictask"
        )
    )
    client.force_login(clerk)

    with mock.patch("grading.tasks.run_grading_task.delay") as delay:
        body = _run_tasks(client, "Monthly grading")

    delay.assert_not_called()
    assert "You may not start grading runs, so it was not run." in body
    assert not GradingRun.objects.exists()
