"""Invariant 4 on PostgreSQL: parallel redemptions and a downgrade racing a redemption."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from benefits.exceptions import AllowanceExhausted, BenefitNotEntitled
from benefits.models import Redemption
from benefits.services.redemptions import benefit_redeem
from grading.models import CustomerGrade, Grade
from tests.benefits.factories import BenefitFactory, set_grade
from tests.customers.factories import CustomerFactory

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _in_thread(results, errors, **kwargs):
    def work():
        try:
            results.append(benefit_redeem(channel="api", **kwargs))
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    return threading.Thread(target=work)


def _wait_until_blocked_on_a_lock(thread: threading.Thread) -> None:
    """Return once another session of this database waits on a row lock.

    Asks PostgreSQL instead of sleeping and hoping: the thread must be alive and its
    statement waiting in pg_stat_activity, else the lock did not serialise anything.
    """
    deadline = time.monotonic() + 10
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                "AND pid <> pg_backend_pid()"
            )
            (waiting,) = cursor.fetchone()
        if waiting:
            return
        assert thread.is_alive(), "the thread finished without waiting for the lock"
        assert time.monotonic() < deadline, "the thread never waited for the lock"


def test_twenty_parallel_requests_for_a_single_use_coupon_redeem_exactly_once():
    customer = CustomerFactory()
    set_grade(customer, "key")
    BenefitFactory(code="one-shot", grades=["key"])
    results, errors = [], []
    barrier = threading.Barrier(20)

    def work(i):
        try:
            barrier.wait()
            results.append(
                benefit_redeem(
                    customer_id=customer.pk,
                    benefit_code="one-shot",
                    idempotency_key=f"request-{i}",
                    channel="api",
                )
            )
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 1
    assert len(errors) == 19
    assert all(isinstance(e, AllowanceExhausted) for e in errors), errors
    assert Redemption.objects.filter(customer=customer).count() == 1


def test_twenty_parallel_retries_with_one_key_make_one_redemption():
    customer = CustomerFactory()
    set_grade(customer, "key")
    BenefitFactory(code="one-shot", grades=["key"])
    results, errors = [], []
    threads = [
        _in_thread(
            results,
            errors,
            customer_id=customer.pk,
            benefit_code="one-shot",
            idempotency_key="same-request",
        )
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len({r.pk for r in results}) == 1
    assert Redemption.objects.count() == 1


def test_a_redemption_racing_a_downgrade_waits_and_then_refuses_for_the_lost_grade():
    customer = CustomerFactory()
    set_grade(customer, "key")
    BenefitFactory(code="key-only", grades=["key"])
    grade_changed = threading.Event()
    release = threading.Event()

    def downgrade():
        # The same statement shape as the grading engine's conditional grade UPDATE.
        try:
            with transaction.atomic():
                CustomerGrade.objects.filter(customer=customer, grade__code="key").update(
                    grade=Grade.objects.get(code="growth")
                )
                grade_changed.set()
                release.wait(10)
        finally:
            connections.close_all()

    results, errors = [], []
    grader = threading.Thread(target=downgrade)
    grader.start()
    assert grade_changed.wait(10)
    redeemer = _in_thread(
        results, errors, customer_id=customer.pk, benefit_code="key-only", idempotency_key="r-1"
    )
    redeemer.start()

    _wait_until_blocked_on_a_lock(redeemer)  # the redemption waits for the grade change
    release.set()
    grader.join()
    redeemer.join(10)

    assert results == []
    assert len(errors) == 1
    assert isinstance(errors[0], BenefitNotEntitled), errors
    assert "Growth" in errors[0].message
    assert not Redemption.objects.exists()


def test_a_downgrade_waits_for_a_redemption_that_locked_first():
    customer = CustomerFactory()
    set_grade(customer, "key")
    BenefitFactory(code="key-only", grades=["key"])
    redeemed = threading.Event()
    release = threading.Event()

    def redeem_and_hold():
        try:
            with transaction.atomic():
                benefit_redeem(
                    customer_id=customer.pk,
                    benefit_code="key-only",
                    idempotency_key="first",
                    channel="api",
                )
                redeemed.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=redeem_and_hold)
    holder.start()
    assert redeemed.wait(10)
    changed = []

    def downgrade():
        try:
            changed.append(
                CustomerGrade.objects.filter(customer=customer).update(
                    grade=Grade.objects.get(code="growth")
                )
            )
        finally:
            connections.close_all()

    grader = threading.Thread(target=downgrade)
    grader.start()
    _wait_until_blocked_on_a_lock(grader)  # the grade change waits for the redemption
    release.set()
    holder.join()
    grader.join(10)

    # The redemption happened while the customer was key; the downgrade applied after it.
    assert changed == [1]
    assert Redemption.objects.get().grade.code == "key"
    assert CustomerGrade.objects.get(customer=customer).grade.code == "growth"


def _double_click(customer, code: str) -> tuple[list, list]:
    """Two requests carrying one idempotency key, released together (a double click)."""
    results, errors = [], []
    barrier = threading.Barrier(2)

    def work():
        try:
            barrier.wait()
            results.append(
                benefit_redeem(
                    customer_id=customer.pk,
                    benefit_code=code,
                    idempotency_key="portal-form-1",
                    channel="portal",
                )
            )
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results, errors


def test_a_double_click_with_one_key_redeems_once_and_both_get_that_redemption():
    customer = CustomerFactory()
    set_grade(customer, "key")
    BenefitFactory(code="twice-a-month", grades=["key"], allowance=2, period="month")

    results, errors = _double_click(customer, "twice-a-month")

    assert errors == []
    assert len(results) == 2
    assert results[0].pk == results[1].pk
    assert Redemption.objects.filter(customer=customer).count() == 1


def test_mutant_without_the_idempotency_replay_the_double_click_fails():
    """The twin of the test above with the replay guard removed: its assertions break.

    Shows the guard is what the test above checks: without `_replay` the second request
    gets past the key and is refused (the unique key constraint), so the customer who
    double-clicked sees an error for a redemption that did happen.
    """
    from unittest import mock

    customer = CustomerFactory()
    set_grade(customer, "key")
    BenefitFactory(code="twice-a-month", grades=["key"], allowance=2, period="month")

    with mock.patch("benefits.services.redemptions._replay", return_value=None):
        results, errors = _double_click(customer, "twice-a-month")

    assert len(results) == 1
    assert len(errors) == 1  # the assertion `errors == []` above would fail
    assert isinstance(errors[0], AllowanceExhausted), errors
    assert Redemption.objects.filter(customer=customer).count() == 1
