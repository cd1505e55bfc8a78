"""A downgrade reversed by an accepted appeal reads "Reversed on appeal", with the date and the
grade kept, in the portal's history and on the manager's customer page; a downgrade that
stands still reads "Applied"."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from appeals.selectors import appeal_reversals_annotate
from appeals.services import appeal_accept, appeal_reject
from grading.models import GradeChange
from tests.appeals.factories import file_appeal, portal_customer

ZH_WORDING = "已于 2026年11月20日 申诉后撤销：保留重点客户"  # noqa: RUF001 (Chinese colon)
DECIDED = timezone.make_aware(dt.datetime(2026, 11, 20, 10, 0))


@pytest.fixture
def reversed_change(carol, carols_change, ops):
    appeal = file_appeal(carol, carols_change)
    with time_machine.travel(DECIDED, tick=False):
        appeal_accept(appeal_id=appeal.pk, by=ops, note="Delay on our side.")
    return carols_change


def _status_cell(page: str) -> str:
    start = page.index('data-testid="reversed"')
    return page[start : page.index("</", start)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "wording"),
    [
        ("en", "Reversed on appeal on Nov. 20, 2026: Key kept"),
        ("zh-Hans", ZH_WORDING),
    ],
)
def test_the_portal_history_says_the_downgrade_was_reversed(
    client, carol, reversed_change, language, wording
):
    client.force_login(carol.user)

    page = client.get(reverse("portal:history"), HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert wording in _status_cell(page)
    applied = "Applied" if language == "en" else "已生效"
    assert applied not in page.split("<h2>", 1)[1]  # the downgrades table


@pytest.mark.django_db
def test_a_downgrade_that_stands_still_reads_applied(client, carol, carols_change, ops):
    appeal = file_appeal(carol, carols_change)
    appeal_reject(appeal_id=appeal.pk, by=ops, note="The orders did drop.")
    client.force_login(carol.user)

    page = client.get(reverse("portal:history")).content.decode()

    assert "<td>Applied</td>" in page
    assert "Reversed on appeal" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "wording"),
    [
        ("en", "Reversed on appeal on Nov. 20, 2026: Key kept"),
        ("zh-Hans", ZH_WORDING),
    ],
)
def test_the_manager_page_says_the_downgrade_was_reversed(
    client, alice, carol, reversed_change, language, wording
):
    client.force_login(alice)
    url = reverse("manager:customer", args=[carol.customer.pk])

    page = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert wording in _status_cell(page)


@pytest.mark.django_db
def test_the_manager_page_says_nothing_of_a_reversal_for_a_rejected_appeal(
    client, alice, carol, carols_change, ops
):
    appeal = file_appeal(carol, carols_change)
    appeal_reject(appeal_id=appeal.pk, by=ops, note="The orders did drop.")
    client.force_login(alice)

    page = client.get(reverse("manager:customer", args=[carol.customer.pk])).content.decode()

    assert 'data-testid="reversed"' not in page


@pytest.mark.django_db
def test_the_reversals_cost_one_query_whatever_the_changes(
    alice, ops, reversed_change, django_assert_num_queries
):
    _account, other = portal_customer(code="OTHER", manager=alice)
    changes = list(GradeChange.objects.filter(pk__in=[reversed_change.pk, other.pk]).order_by("pk"))

    with django_assert_num_queries(1):
        appeal_reversals_annotate(changes)
    with django_assert_num_queries(0):
        assert appeal_reversals_annotate([]) == []

    assert changes[0].reversal.decided_at == DECIDED
    assert changes[1].reversal is None
