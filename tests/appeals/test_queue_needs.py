"""The manager queue's needs table equals a recomputation from scratch (issue #19).

Random sequences of the events that change a need (tickets opened, answered, closed; grade
changes proposed, applied, decided; grades set; recommendations opened and closed; a run
succeeding with warnings; customers reassigned or deactivated; time passing) keep
`appeals.models.QueueNeeds` equal to `needs_compute` at the queue's "now".
"""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appeals.models import QueueNeeds
from appeals.services import follow_up_create
from benefits.models import Recommendation
from common.exceptions import DomainError
from customers.models import Customer, ServiceTicket
from grading.models import GradeChange
from manager.needs import queue_needs_diff, queue_needs_refresh
from manager.selectors import customer_queue_for_user
from tests.appeals.factories import run_for, snapshot
from tests.benefits.factories import RecommendationFactory, set_grade
from tests.customers.factories import CustomerFactory, ServiceTicketFactory
from tests.grading.factories import GradeChangeFactory

GRADES = ("basic", "growth", "key", "strategic")
EVENTS = (
    "ticket",
    "answer",
    "close_ticket",
    "propose",
    "decide",
    "upgrade",
    "grade",
    "recommend",
    "dismiss",
    "snapshot",
    "follow_up",
    "reassign",
    "deactivate",
    "later",
)

event = st.tuples(
    st.sampled_from(EVENTS), st.integers(0, 3), st.integers(0, 3), st.integers(1, 5000)
)


def _apply(name, customer, other_manager, pick, minutes, clock):
    now = clock[0]
    if name == "ticket":
        ServiceTicketFactory(
            customer=customer,
            priority=("normal", "urgent")[pick % 2],
            opened_at=now - dt.timedelta(minutes=minutes),
        )
    elif name in ("answer", "close_ticket"):
        ticket = ServiceTicket.objects.filter(customer=customer).order_by("pk").last()
        if ticket is not None:
            field = "first_response_at" if name == "answer" else "closed_at"
            setattr(ticket, field, max(now, ticket.opened_at))
            ticket.save(update_fields=[field])
    elif name == "propose":
        if not GradeChange.objects.filter(customer=customer, status="proposed").exists():
            GradeChangeFactory(customer=customer)  # at most one open proposal per customer
    elif name == "decide":
        change = GradeChange.objects.filter(customer=customer, status="proposed").first()
        if change is not None:
            change.status = GradeChange.Status.REJECTED
            change.save(update_fields=["status"])
    elif name == "upgrade":
        GradeChangeFactory(
            customer=customer,
            direction=GradeChange.Direction.UP,
            status=GradeChange.Status.APPLIED,
        )
    elif name == "grade":
        set_grade(customer, GRADES[pick])
    elif name == "recommend":
        RecommendationFactory(customer=customer)
    elif name == "dismiss":
        recommendation = Recommendation.objects.filter(customer=customer, status="open").first()
        if recommendation is not None:
            recommendation.status = Recommendation.Status.DISMISSED
            recommendation.save(update_fields=["status"])
    elif name == "snapshot":
        # A run succeeding: its snapshots are written first, then the run is marked done.
        run = run_for(dt.date(2026, 11, 1))
        if not run.snapshots.filter(customer=customer).exists():
            snapshot(
                customer,
                run,
                grade_code=GRADES[pick],
                composite=40.0 + minutes % 60,
                action=("keep", "warn", "propose_downgrade", "keep")[pick],
            )
        run.save()
    elif name == "follow_up":
        # A warning follow-up (only accepted while a warning or proposal is pending), or a
        # plain call, which must not clear the need.
        kind = ("warning", "call")[pick % 2]
        with contextlib.suppress(DomainError):
            follow_up_create(
                customer=customer, kind=kind, outcome="Spoke to them.", next_step="Visit.", by=None
            )
    elif name == "reassign":
        customer.account_manager = other_manager if pick % 2 else customer.account_manager
        customer.save()
    elif name == "deactivate":
        customer.is_active = not customer.is_active
        customer.save()
    elif name == "later":
        clock[0] = now + dt.timedelta(minutes=minutes * 10)


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=st.lists(event, min_size=1, max_size=12))
def test_the_table_equals_a_recomputation_after_any_events(alice, bob, events):
    customers = [CustomerFactory(account_manager=alice) for _ in range(4)]
    clock = [timezone.now()]
    for name, index, pick, minutes in events:
        customer = customers[index]
        customer.refresh_from_db()
        _apply(name, customer, bob, pick, minutes, clock)
        # What a manager's page shows at this instant equals a recomputation.
        list(customer_queue_for_user(user=alice, now=clock[0])[:50])
        count, examples = queue_needs_diff(now=clock[0])
        assert count == 0, (name, examples)


@pytest.mark.django_db
def test_the_check_command_finds_and_repairs_drift(alice):
    customer = CustomerFactory(account_manager=alice)
    set_grade(customer, "key")
    QueueNeeds.objects.filter(customer=customer).update(flag_appeal=True, urgency=16)

    with pytest.raises(CommandError):
        call_command("queue_needs_check")
    call_command("queue_needs_check", "--rebuild")

    assert queue_needs_diff(now=timezone.now())[0] == 0


@pytest.mark.django_db
def test_a_full_rebuild_writes_one_row_per_active_customer(alice):
    CustomerFactory.create_batch(3, account_manager=alice)
    CustomerFactory(account_manager=alice, is_active=False)

    assert queue_needs_refresh() == 3
    assert QueueNeeds.objects.count() == 3


@pytest.mark.django_db
def test_a_succeeded_run_enqueues_one_rebuild_on_commit(
    settings, django_capture_on_commit_callbacks
):
    from manager.tasks import queue_needs_rebuild_task

    settings.QUEUE_NEEDS_REBUILD_AFTER_RUN = True
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = run_for(dt.date(2026, 11, 1))
        run.save()
        run.save()

    assert [c for c in callbacks if c == queue_needs_rebuild_task.delay] == [
        queue_needs_rebuild_task.delay
    ]


@pytest.mark.django_db
def test_the_nightly_check_repairs_only_the_rows_that_differ_and_tells_operations_once(
    ops, alice, monkeypatch
):
    from common.models import Notification
    from manager import needs
    from manager.tasks import check_queue_needs_task

    stale, lost, gone, fine = CustomerFactory.create_batch(4, account_manager=alice)
    set_grade(fine, "key")
    QueueNeeds.objects.filter(customer=stale).update(flag_appeal=True, urgency=16)
    QueueNeeds.objects.filter(customer=lost).delete()
    Customer.objects.filter(pk=gone.pk).update(is_active=False)  # no signal: its row stays
    rebuilt = []
    refresh = needs.queue_needs_refresh
    monkeypatch.setattr(
        needs,
        "queue_needs_refresh",
        lambda **kwargs: rebuilt.append(sorted(kwargs["customer_ids"])) or refresh(**kwargs),
    )

    assert check_queue_needs_task() == 3

    assert rebuilt == [sorted([stale.pk, lost.pk, gone.pk])]  # `fine` is left alone
    assert queue_needs_diff(now=timezone.now())[0] == 0
    assert not QueueNeeds.objects.filter(customer=gone).exists()
    note = Notification.objects.get(kind="queue_needs_check")
    assert note.recipient == ops
    assert note.params["count"] == 3
    assert sorted(note.params["lines"]) == sorted(
        [
            f"{lost.code}: missing",
            f"{stale.code}: flag_appeal True != False, urgency 16 != 0",
            f"{gone.code} (customer {gone.pk}): not an active customer",
        ]
    )
    # Clean again: nothing found, nothing said; drift later the same day: repaired, said once.
    assert needs.queue_needs_check_daily() == 0
    QueueNeeds.objects.filter(customer=fine).update(grade_rank=0)
    assert needs.queue_needs_check_daily() == 1
    assert queue_needs_diff(now=timezone.now())[0] == 0
    assert Notification.objects.filter(kind="queue_needs_check").count() == 1


@pytest.mark.django_db
def test_the_nightly_check_of_a_clean_table_says_nothing(ops, alice):
    from common.models import Notification
    from manager.needs import queue_needs_check_daily

    CustomerFactory.create_batch(2, account_manager=alice)

    assert queue_needs_check_daily() == 0
    assert not Notification.objects.filter(kind="queue_needs_check").exists()
