"""Grading from the admin: "Grade now" (form, permission, the task queued on commit), the
run's live progress (written by the lifecycle, read by the JSON endpoint) and durations."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.urls import reverse

from common.durations import duration_display
from grading.exceptions import PeriodAlreadyGraded, SchemeNotGradable
from grading.models import GradingRun, GradingScheme
from grading.pipeline import write
from grading.selectors import run_progress
from grading.services.runs import grading_run_execute, grading_run_queue
from grading.services.schemes import scheme_revise
from tests.customers.factories import CustomerFactory
from tests.grading.factories import GradingRunFactory, default_scheme, orders_for

GRADE_NOW = reverse("admin:grading_gradingrun_grade_now")
RUNS = reverse("admin:grading_gradingrun_changelist")
#: Friday 4 December 2026, mid-afternoon in Shanghai: the current period starts 1 December.
NOW = dt.datetime(2026, 12, 4, 7, 0, tzinfo=dt.UTC)
PERIOD_START = dt.date(2026, 12, 1)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _progress_url(run):
    return reverse("admin:grading_gradingrun_progress", args=[run.pk])


def _population(n=4):
    for i in range(n):
        customer = CustomerFactory(code=f"G{i}")
        orders_for(customer, (PERIOD_START - dt.timedelta(days=5 + i), str(100 * (i + 1))))


# ------------------------------------------------------------------------------ grade now


@pytest.mark.django_db
def test_grade_now_form_defaults_to_the_active_scheme_and_the_current_period(client, ops, frozen):
    client.force_login(ops)

    page = client.get(GRADE_NOW)

    assert page.status_code == 200
    form = page.context["form"]
    assert form["scheme"].value() == default_scheme().pk
    assert form["as_of"].value() == PERIOD_START
    assert "Grade now" in client.get(RUNS).content.decode()  # the button on the runs list


@pytest.mark.django_db
def test_grade_now_offers_active_and_retired_schemes_but_no_draft(client, ops, frozen):
    draft = scheme_revise(scheme=default_scheme(), by=ops)
    client.force_login(ops)

    choices = client.get(GRADE_NOW).context["form"].fields["scheme"].queryset

    assert default_scheme() in choices
    assert draft not in choices
    assert draft.status == GradingScheme.Status.DRAFT


@pytest.mark.django_db
def test_grade_now_refuses_a_future_as_of_on_the_field_and_queues_nothing(
    client, ops, frozen, django_capture_on_commit_callbacks
):
    client.force_login(ops)

    with (
        mock.patch("grading.tasks.run_grading_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        page = client.post(GRADE_NOW, {"scheme": default_scheme().pk, "as_of": "2026-12-05"})

    assert page.status_code == 200
    assert "as-of 2026-12-05 is after today (2026-12-04)" in " ".join(
        page.context["form"].errors["as_of"]
    )
    assert not page.context["form"].errors.get("scheme")
    delay.assert_not_called()
    assert not GradingRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"as_of": "2026-12-01"}, "scheme", "Choose the scheme to grade with."),
        ({"scheme": "", "as_of": "2026-12-01"}, "scheme", "Choose the scheme to grade with."),
        ({"scheme": "ACTIVE", "as_of": ""}, "as_of", "Give the as-of date"),
        ({"scheme": "ACTIVE", "as_of": "1 Dec"}, "as_of", "Enter the as-of date as YYYY-MM-DD."),
    ],
)
def test_grade_now_names_the_missing_or_bad_field(client, ops, frozen, data, field, message):
    client.force_login(ops)
    if data.get("scheme") == "ACTIVE":
        data = {**data, "scheme": default_scheme().pk}

    page = client.post(GRADE_NOW, data)

    assert page.status_code == 200
    form = page.context["form"]
    assert message in " ".join(form.errors[field])
    assert set(form.errors) == {field}
    assert not GradingRun.objects.exists()


@pytest.mark.django_db
def test_grade_now_queues_the_beat_task_on_commit_and_opens_the_run(
    client, ops, frozen, django_capture_on_commit_callbacks
):
    client.force_login(ops)
    scheme = default_scheme()

    with (
        mock.patch("grading.tasks.run_grading_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        response = client.post(GRADE_NOW, {"scheme": scheme.pk, "as_of": "2026-12-01"})

    run = GradingRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:grading_gradingrun_change", args=[run.pk])
    assert len(callbacks) == 1
    delay.assert_called_once_with("2026-12-01", scheme.pk)
    assert (run.scheme, run.as_of, run.status) == (scheme, PERIOD_START, GradingRun.Status.PENDING)
    assert (run.phase, run.triggered_by) == (GradingRun.Phase.QUEUED, "olivia-ops")
    page = client.get(response["Location"])
    body = page.content.decode()
    assert "is queued: its progress shows below." in body
    assert f'data-run-progress-url="{_progress_url(run)}"' in body
    assert "js/run-progress.js" in body


@pytest.mark.django_db
def test_grade_now_on_a_graded_period_says_so_and_opens_that_run(client, ops, frozen):
    run = GradingRunFactory(
        scheme=default_scheme(), as_of=PERIOD_START, status=GradingRun.Status.SUCCEEDED
    )
    client.force_login(ops)

    with mock.patch("grading.tasks.run_grading_task.delay") as delay:
        response = client.post(
            GRADE_NOW, {"scheme": default_scheme().pk, "as_of": "2026-12-01"}, follow=True
        )

    delay.assert_not_called()
    assert response.redirect_chain[-1][0] == reverse(
        "admin:grading_gradingrun_change", args=[run.pk]
    )
    assert "is graded already: nothing was started." in response.content.decode()


@pytest.mark.django_db
def test_grade_now_service_refuses_a_graded_period_and_a_draft(ops, frozen):
    GradingRunFactory(
        scheme=default_scheme(), as_of=PERIOD_START, status=GradingRun.Status.SUCCEEDED
    )
    with pytest.raises(PeriodAlreadyGraded):
        grading_run_queue(as_of=PERIOD_START, scheme=default_scheme(), by="x")
    draft = scheme_revise(scheme=default_scheme(), by=ops)
    with pytest.raises(SchemeNotGradable, match="is a draft") as refused:
        grading_run_queue(as_of=PERIOD_START, scheme=draft, by="x")
    assert refused.value.field == "scheme"


@pytest.mark.django_db
@pytest.mark.parametrize("user", ["alice", "manager_without_group"])
def test_only_users_allowed_to_run_grading_may_grade_now(client, request, user, frozen):
    if user == "manager_without_group":
        from tests.customers.factories import UserFactory

        actor = UserFactory(username="plain-staff", is_staff=True)
    else:
        actor = request.getfixturevalue(user)
    client.force_login(actor)

    with mock.patch("grading.tasks.run_grading_task.delay") as delay:
        get = client.get(GRADE_NOW)
        post = client.post(GRADE_NOW, {"scheme": default_scheme().pk, "as_of": "2026-12-01"})

    assert get.status_code == post.status_code == 403
    delay.assert_not_called()
    assert not GradingRun.objects.exists()


@pytest.mark.django_db
def test_a_portal_customer_cannot_grade_now_or_read_progress(client, frozen):
    from tests.customers.factories import UserFactory

    client.force_login(UserFactory(username="portal-login", is_staff=False))
    run = GradingRunFactory(scheme=default_scheme(), as_of=PERIOD_START)

    for url in (GRADE_NOW, _progress_url(run)):
        response = client.get(url)
        assert response.status_code == 302  # the admin login page, never the view
        assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_the_runs_list_hides_grade_now_from_account_managers(client, alice):
    client.force_login(alice)

    body = client.get(RUNS).content.decode()

    assert GRADE_NOW not in body


# ------------------------------------------------------------------------------ progress


@pytest.mark.django_db
def test_the_lifecycle_records_each_phase_and_the_endpoint_reports_it(client, ops, frozen):
    """Drive a real run over a small population; read the endpoint while it writes."""
    _population(4)
    client.force_login(ops)
    seen = []
    real_write = write.write_results

    def watching_write(**kwargs):
        run = kwargs["run"]
        seen.append(client.get(_progress_url(run)).json())
        return real_write(**kwargs)

    with mock.patch.object(write, "write_results", side_effect=watching_write):
        run = grading_run_execute(as_of=PERIOD_START, shards=1)

    during = seen[0]
    assert during["status"] == "running"
    assert during["phase"] == "write"
    assert (during["done"], during["total"]) == (0, 4)
    assert during["customers"] == "0 of 4 customers"
    assert during["percent"] == 60
    assert during["finished"] is False
    run.refresh_from_db()
    after = client.get(_progress_url(run)).json()
    assert (run.phase, run.progress_done, run.progress_total) == ("finishing", 4, 4)
    assert after["status"] == "succeeded"
    assert after["phase_label"] == "Finished"
    assert (after["percent"], after["finished"], after["customers"]) == (
        100,
        True,
        "4 of 4 customers",
    )


@pytest.mark.django_db
def test_a_failed_run_keeps_the_phase_it_failed_in_and_shows_its_error(client, ops, frozen):
    _population(2)
    client.force_login(ops)

    with (
        mock.patch.object(write, "write_results", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        grading_run_execute(as_of=PERIOD_START, shards=1)

    run = GradingRun.objects.get()
    state = client.get(_progress_url(run)).json()
    assert (state["status"], state["phase"], state["total"]) == ("failed", "write", 2)
    assert state["error"] == "RuntimeError: disk full"
    assert state["finished"] is True
    listing = client.get(RUNS).content.decode()
    assert "RuntimeError: disk full" in listing


@pytest.mark.django_db
def test_progress_of_a_running_run_estimates_time_left_from_the_last_run(frozen):
    scheme = default_scheme()
    GradingRunFactory(
        scheme=scheme,
        as_of=dt.date(2026, 11, 1),
        status=GradingRun.Status.SUCCEEDED,
        duration_seconds=100.0,
        finished_at=NOW - dt.timedelta(days=30),
    )
    run = GradingRunFactory(
        scheme=scheme,
        as_of=PERIOD_START,
        status=GradingRun.Status.RUNNING,
        phase=GradingRun.Phase.SCORE,
        started_at=NOW - dt.timedelta(seconds=72),
        progress_total=1000,
    )

    state = run_progress(run=run)

    assert (state.percent, state.elapsed_seconds, state.eta_seconds) == (30, 72.0, 28.0)
    body = state.as_json()
    assert (body["elapsed"], body["eta"]) == ("1 min 12 s", "about 28 s left")
    assert body["customers"] == "0 of 1,000 customers"


@pytest.mark.django_db
def test_a_sharded_run_counts_the_customers_its_shards_wrote(frozen):
    run = GradingRunFactory(
        scheme=default_scheme(),
        as_of=PERIOD_START,
        status=GradingRun.Status.RUNNING,
        phase=GradingRun.Phase.SCORE,
        shards=4,
        started_at=NOW - dt.timedelta(seconds=30),
        progress_total=2000,
        progress_done=500,
    )

    state = run_progress(run=run)

    assert (state.percent, state.done, state.total) == (25, 500, 2000)
    assert state.eta_seconds == 90.0  # no earlier run: 30 s for 25 %, so 90 s more


@pytest.mark.django_db
def test_progress_endpoint_is_forbidden_to_staff_who_cannot_view_runs(client, frozen):
    from tests.customers.factories import UserFactory

    run = GradingRunFactory(scheme=default_scheme(), as_of=PERIOD_START)
    client.force_login(UserFactory(username="plain-staff", is_staff=True))

    assert client.get(_progress_url(run)).status_code == 403


@pytest.mark.django_db
def test_runs_list_shows_live_progress_for_a_running_run_and_readable_durations(client, ops):
    scheme = default_scheme()
    GradingRunFactory(
        scheme=scheme,
        as_of=dt.date(2026, 10, 1),
        status=GradingRun.Status.SUCCEEDED,
        duration_seconds=0.22662157400191063,
    )
    running = GradingRunFactory(
        scheme=scheme,
        as_of=dt.date(2026, 11, 1),
        status=GradingRun.Status.RUNNING,
        phase=GradingRun.Phase.DECIDE,
        started_at=dt.datetime(2026, 12, 4, 6, 59, tzinfo=dt.UTC),
    )
    client.force_login(ops)

    with time_machine.travel(NOW, tick=False):
        body = client.get(RUNS).content.decode()

    assert "0.2 s" in body
    assert "0.22662157400191063" not in body
    assert f'data-run-progress-url="{_progress_url(running)}"' in body
    assert "Deciding grades" in body


@pytest.mark.django_db
def test_runs_list_and_run_page_show_the_counters_grouped(client, ops):
    run = GradingRunFactory(
        scheme=default_scheme(),
        as_of=dt.date(2026, 10, 1),
        scored=1_234_567,
        upgraded=88_802,
        unchanged=1_444,
        pinned=1_960,
    )
    client.force_login(ops)

    listing = client.get(RUNS).content.decode()
    page = client.get(reverse("admin:grading_gradingrun_change", args=[run.pk])).content.decode()

    for body in (listing, page):
        for grouped in ("1,234,567", "88,802", "1,444"):
            assert grouped in body
        for raw in (">1234567<", ">88802<"):
            assert raw not in body
    assert "1,960" in page  # pinned: on the run's page only


# ------------------------------------------------------------------------------ durations


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0.22662157400191063, "0.2 s"),
        (-1, "0.0 s"),
        (9.94, "9.9 s"),
        (12.4, "12 s"),
        (60, "1 min"),
        (72.3, "1 min 12 s"),
        (3599.6, "1 h"),
        (3600 + 5 * 60 + 10, "1 h 5 min"),
    ],
)
def test_durations_read_like_a_person_would_say_them(seconds, text):
    assert duration_display(seconds) == text


def test_durations_are_translated():
    from django.utils import translation

    with translation.override("zh-hans"):
        assert duration_display(72) == "1 分 12 秒"


@pytest.mark.django_db
def test_the_as_of_picker_gets_an_iso_date_in_every_language(client, ops, frozen):
    """A date input reads only YYYY-MM-DD: a localized 2026/12/01 would show an empty field."""
    from django.utils import translation

    client.force_login(ops)

    with translation.override("zh-hans"):
        body = client.get(GRADE_NOW, headers={"accept-language": "zh-hans"}).content.decode()

    assert 'type="date"' in body
    assert 'value="2026-12-01"' in body


@pytest.mark.django_db
def test_a_sharded_run_adds_each_shards_customers_to_its_progress(
    frozen, django_capture_on_commit_callbacks
):
    """Shards run eagerly here (a real worker runs them in tests/grading/test_sharding.py)."""
    from tierhub.celery import app

    _population(6)
    seen = []
    real_write = write.write_results

    def watching_write(**kwargs):
        run = GradingRun.objects.get(pk=kwargs["run"].pk)
        seen.append((run.phase, run.progress_done, run.progress_total))
        return real_write(**kwargs)

    app.conf.task_always_eager = True
    try:
        with (
            mock.patch.object(write, "write_results", side_effect=watching_write),
            django_capture_on_commit_callbacks(execute=True),
        ):
            run = grading_run_execute(as_of=PERIOD_START, shards=2)
    finally:
        app.conf.task_always_eager = False

    run.refresh_from_db()
    assert run.status == GradingRun.Status.SUCCEEDED
    assert [total for _, _, total in seen] == [6, 6]
    assert seen[0][1] == 0
    assert 0 < seen[1][1] < 6  # the first shard's customers, counted before the second writes
    assert (run.phase, run.progress_done, run.progress_total) == ("finishing", 6, 6)
