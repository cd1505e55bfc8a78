"""Warning follow-up (预警沟通): recorded against the pending warning or proposal, it clears
the queue's "reach out" need and shows on the manager's customer page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from appeals.models import FollowUp, QueueNeeds
from appeals.selectors import warning_pending_for_customer
from appeals.services import follow_up_create
from common.exceptions import DomainError
from grading.models import GradeChange
from manager.needs import queue_needs_diff
from tests.appeals.factories import downgrade, run_for, snapshot
from tests.benefits.factories import set_grade
from tests.customers.factories import CustomerFactory


@pytest.fixture
def warned(alice):
    """Alice's customer whom the latest run warned (Key, below its requirements)."""
    customer = CustomerFactory(code="WARNED", name="Liu Jing", account_manager=alice)
    set_grade(customer, "key")
    run = run_for(dt.date(2026, 11, 1))
    snapshot(customer, run, grade_code="key", composite=45.0, action="warn")
    run.save()  # a run succeeding refreshes the queue
    return customer


@pytest.mark.django_db
def test_a_warning_follow_up_clears_the_reach_out_need(warned, alice):
    assert QueueNeeds.objects.get(customer=warned).flag_follow_up

    follow_up = follow_up_create(
        customer=warned,
        kind="warning",
        outcome="Orders paused for a warehouse move.",
        next_step="Call again on 12 December.",
        by=alice,
    )

    assert follow_up.run == run_for(dt.date(2026, 11, 1))
    row = QueueNeeds.objects.get(customer=warned)
    assert not row.flag_follow_up
    assert row.urgency == 0
    assert queue_needs_diff(now=timezone.now())[0] == 0
    assert warning_pending_for_customer(customer=warned).follow_up == follow_up


@pytest.mark.django_db
def test_a_plain_call_does_not_clear_it_and_a_new_warning_needs_a_new_follow_up(warned, alice):
    follow_up_create(customer=warned, kind="call", outcome="No answer.", by=alice)
    assert QueueNeeds.objects.get(customer=warned).flag_follow_up

    follow_up_create(
        customer=warned, kind="warning", outcome="Spoke.", next_step="Visit.", by=alice
    )
    later = run_for(dt.date(2026, 12, 1))
    snapshot(warned, later, grade_code="key", composite=44.0, action="warn")
    later.save()

    assert QueueNeeds.objects.get(customer=warned).flag_follow_up
    assert queue_needs_diff(now=timezone.now())[0] == 0


@pytest.mark.django_db
def test_a_warning_follow_up_needs_a_pending_warning_and_a_next_step(alice):
    quiet = CustomerFactory(account_manager=alice)
    with pytest.raises(DomainError) as nothing:
        follow_up_create(customer=quiet, kind="warning", outcome="Hi.", next_step="x", by=alice)
    assert nothing.value.field == "kind"


@pytest.mark.django_db
def test_the_next_step_is_required_for_a_warning_follow_up(warned, alice):
    with pytest.raises(DomainError) as missing:
        follow_up_create(customer=warned, kind="warning", outcome="Spoke.", by=alice)
    assert missing.value.field == "next_step"
    assert not FollowUp.objects.exists()


@pytest.mark.django_db
def test_a_follow_up_names_the_open_proposal(alice):
    customer = CustomerFactory(account_manager=alice)
    change = downgrade(customer, status=GradeChange.Status.PROPOSED)

    follow_up = follow_up_create(
        customer=customer, kind="warning", outcome="Agreed.", next_step="Order in Dec.", by=alice
    )

    assert follow_up.change == change
    assert list(change.follow_ups.all()) == [follow_up]


@pytest.mark.django_db
def test_the_manager_page_records_it_and_shows_the_proposal_not_the_next_grade(client, alice):
    customer = CustomerFactory(code="PROP", account_manager=alice)
    downgrade(customer, status=GradeChange.Status.PROPOSED)
    client.force_login(alice)
    url = reverse("manager:customer", args=[customer.pk])

    page = client.get(url).content.decode()
    assert 'data-testid="pending-warning"' in page
    assert "The grading proposed lowering the grade from Key to Growth" in page
    assert "Reach out before downgrade" in page
    assert "Next grade" not in page  # no "1 more order would reach Key" while pending
    assert '<option value="warning" selected>' in page

    missing = client.post(url, {"kind": "warning", "outcome": "Spoke.", "next_step": ""})
    assert "Say what happens next" in missing.content.decode()

    response = client.post(
        url,
        {"kind": "warning", "outcome": "Orders resume.", "next_step": "Check in January."},
        follow=True,
    )
    page = response.content.decode()
    assert 'data-testid="followed-up"' in page
    assert "Check in January." in page
    assert not QueueNeeds.objects.get(customer=customer).flag_follow_up


def _older_warning_only(customer):
    older = run_for(dt.date(2026, 10, 1))
    snapshot(customer, older, grade_code="key", composite=45.0, action="warn")
    run_for(dt.date(2026, 11, 1))


def _latest_kept(customer):
    snapshot(customer, run_for(dt.date(2026, 10, 1)), grade_code="key", action="warn")
    snapshot(customer, run_for(dt.date(2026, 11, 1)), grade_code="key", action="keep")


def _latest_warned(customer):
    snapshot(customer, run_for(dt.date(2026, 11, 1)), grade_code="key", action="warn")


def _open_proposal_of_an_older_run(customer):
    downgrade(customer, status=GradeChange.Status.PROPOSED, as_of=dt.date(2026, 10, 1))
    snapshot(customer, run_for(dt.date(2026, 11, 1)), grade_code="key", action="keep")


def _another_scheme_graded_the_period_later(customer):
    """The newest run of the period (another scheme's, finished later) did not grade them."""
    from grading.services.schemes import scheme_revise

    first = run_for(dt.date(2026, 11, 1))
    snapshot(customer, first, grade_code="key", action="warn")
    first.pk = None
    first.scheme = scheme_revise(scheme=first.scheme, by=None)
    first.finished_at = timezone.now() + dt.timedelta(minutes=5)
    first.save()


@pytest.mark.parametrize(
    "history",
    [
        lambda customer: None,
        _older_warning_only,
        _latest_kept,
        _latest_warned,
        _open_proposal_of_an_older_run,
        _another_scheme_graded_the_period_later,
    ],
    ids=["never graded", "older warning", "kept", "warned", "older proposal", "other scheme"],
)
@pytest.mark.django_db
def test_the_pending_warning_read_from_the_page_s_snapshot_is_the_one_read_alone(alice, history):
    """The manager's customer page passes the snapshot its explanation read: same answer."""
    from grading.selectors import snapshot_latest_for_customer

    customer = CustomerFactory(account_manager=alice)
    set_grade(customer, "key")
    history(customer)
    latest = snapshot_latest_for_customer(customer=customer)

    alone = warning_pending_for_customer(customer=customer)
    shared = warning_pending_for_customer(customer=customer, latest=latest)

    assert shared == alone
