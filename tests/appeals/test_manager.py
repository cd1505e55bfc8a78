"""The account manager's queue: flags computed in the database, order, filters, the customer
page with its follow-up log, the CSV export, and a query count independent of the rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from appeals.services import follow_up_create
from grading.models import CustomerGrade, GradeChange
from manager.needs import WEIGHTS
from manager.selectors import FLAGS, customer_queue_for_user
from tests.appeals.factories import (
    FollowUpFactory,
    downgrade,
    file_appeal,
    portal_customer,
    run_for,
    snapshot,
)
from tests.benefits.factories import RecommendationFactory
from tests.customers.factories import CustomerFactory, OrderFactory, ServiceTicketFactory
from tests.grading.factories import grade

LATEST = dt.date(2026, 11, 1)


def _graded(code, manager, grade_code, *, composite=50.0, action="keep"):
    customer = CustomerFactory(code=code, account_manager=manager)
    CustomerGrade.objects.create(customer=customer, grade=grade(grade_code), since=timezone.now())
    snapshot(customer, run_for(LATEST), grade_code=grade_code, composite=composite, action=action)
    return customer


def _flags(customer):
    row = customer_queue_for_user(user=customer.account_manager, now=timezone.now()).get(
        pk=customer.pk
    )
    return {
        name.removeprefix("flag_")
        for name in (
            "flag_follow_up",
            "flag_proposed",
            "flag_appeal",
            "flag_sla",
            "flag_upgraded",
            "flag_close",
            "flag_recommend",
        )
        if getattr(row, name)
    }


@pytest.mark.django_db
def test_each_flag_is_raised_by_its_cause(alice):
    quiet = _graded("QUIET", alice, "growth", composite=45.0)
    warned = _graded("WARNED", alice, "growth", composite=45.0, action="warn")
    close = _graded("CLOSE", alice, "growth", composite=52.0)  # Key needs 55
    late = _graded("LATE", alice, "strategic", composite=80.0)  # 60-minute first response
    ServiceTicketFactory(customer=late, opened_at=timezone.now() - dt.timedelta(minutes=61))
    answered = _graded("ANSWERED", alice, "strategic", composite=80.0)
    ServiceTicketFactory(
        customer=answered,
        opened_at=timezone.now() - dt.timedelta(hours=5),
        first_response_at=timezone.now() - dt.timedelta(hours=4),
    )
    fresh = _graded("FRESH", alice, "basic", composite=5.0)  # 2-day target, ticket 1 h old
    ServiceTicketFactory(customer=fresh, opened_at=timezone.now() - dt.timedelta(hours=1))
    upgraded = _graded("UPGRADED", alice, "key", composite=60.0)
    GradeChange.objects.create(
        customer=upgraded,
        from_grade=grade("growth"),
        to_grade=grade("key"),
        direction="up",
        status="applied",
        source="run",
    )
    account, change = portal_customer(code="APPEALED", manager=alice, status="proposed")
    file_appeal(account, change)
    focused = _graded("FOCUSED", alice, "growth", composite=45.0)
    RecommendationFactory(customer=focused)
    RecommendationFactory(customer=quiet, status="dismissed")  # decided: no longer a flag

    assert _flags(quiet) == set()
    assert _flags(warned) == {"follow_up"}
    assert _flags(close) == {"close"}
    assert _flags(late) == {"sla"}
    assert _flags(answered) == set()
    assert _flags(fresh) == set()
    assert _flags(upgraded) == {"upgraded"}
    assert _flags(focused) == {"recommend"}
    # The proposal run's snapshot says "propose_downgrade": reach out, proposed, appealed.
    assert _flags(account.customer) == {"follow_up", "proposed", "appeal"}


@pytest.mark.django_db
def test_the_queue_is_ordered_by_urgency_then_value(alice):
    _graded("B-BASIC", alice, "basic")
    _graded("K-CALM", alice, "key", composite=60.0)
    _graded("K-WARN", alice, "key", composite=50.0, action="warn")
    _graded("B-WARN", alice, "basic", composite=5.0, action="warn")
    _graded("S-TOP", alice, "strategic", composite=90.0)
    CustomerFactory(code="UNGRADED", account_manager=alice)

    codes = list(
        customer_queue_for_user(user=alice, now=timezone.now()).values_list("code", flat=True)
    )

    # The warned customers first (a Basic one before a calm Strategic one), then by grade.
    assert codes == ["K-WARN", "B-WARN", "S-TOP", "K-CALM", "B-BASIC", "UNGRADED"]


def test_urgency_weights_follow_the_issue_order():
    # SLA breached > downgrade proposed > warning without follow-up > appeal open > the
    # chances to reach out; each outweighs every need below it together.
    order = ["sla", "proposed", "follow_up", "appeal", "close", "upgraded", "recommend"]
    assert [f.code for f in FLAGS] == order
    for i, code in enumerate(order[:-1]):
        assert WEIGHTS[code] > sum(WEIGHTS[c] for c in order[i + 1 :])


@pytest.mark.django_db
def test_filters_and_search(client, alice):
    _graded("K-WARN", alice, "key", composite=50.0, action="warn")
    _graded("K-CALM", alice, "key", composite=60.0)
    _graded("G-ONE", alice, "growth")
    client.force_login(alice)

    def codes(**params):
        page = client.get(reverse("manager:queue"), params).context["page"]
        return [c.code for c in page]

    assert codes(flag="follow_up") == ["K-WARN"]
    assert codes(grade="growth") == ["G-ONE"]
    assert codes(q="k-c") == ["K-CALM"]  # a code prefix, any case
    # Urgency first: G-ONE is close to Key, K-CALM needs nothing.
    assert codes(flag="nonsense") == ["K-WARN", "G-ONE", "K-CALM"]


@pytest.mark.django_db
def test_the_queue_paginates_by_25(client, alice):
    for i in range(30):
        CustomerFactory(code=f"P{i:02d}", account_manager=alice)
    client.force_login(alice)

    first = client.get(reverse("manager:queue")).context["page"]
    second = client.get(reverse("manager:queue"), {"page": 2}).context["page"]

    assert len(first.object_list) == 25
    assert len(second.object_list) == 5


def _populate(n, manager):
    for i in range(n):
        customer = _graded(f"N{n}-{i:03d}", manager, ["key", "growth", "basic"][i % 3])
        OrderFactory(customer=customer)
        ServiceTicketFactory(customer=customer, opened_at=timezone.now() - dt.timedelta(days=3))
        if i % 4 == 0:
            change = downgrade(customer, status="proposed", as_of=dt.date(2026, 9, 1))
            from appeals.models import Appeal

            Appeal.objects.create(customer=customer, change=change, reason="r")


@pytest.mark.django_db
@pytest.mark.parametrize(("url_name", "queries"), [("manager:queue", 8), ("manager:export", 5)])
def test_queue_query_count_does_not_grow_with_rows(
    client, alice, url_name, queries, django_assert_max_num_queries
):
    """Measured, with the session and user of every request (the unread count, not the list),
    from the second request on: the first also reads the user's permission sets, which the
    cache keeps (common.permissions).

    On PostgreSQL the queue's paginator asks the planner's row estimate first (one more).
    """
    if url_name == "manager:queue" and connection.vendor == "postgresql":
        queries += 1
    client.force_login(alice)
    _populate(3, alice)
    b"".join(client.get(reverse(url_name)))  # the first request reads the permissions
    with django_assert_max_num_queries(queries) as small:
        response = client.get(reverse(url_name))
        if url_name == "manager:export":
            b"".join(response.streaming_content)
    _populate(40, alice)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse(url_name))
        if url_name == "manager:export":
            assert len(b"".join(response.streaming_content).splitlines()) == 44
        else:
            assert len(response.context["page"].object_list) == 25


@pytest.mark.django_db
def test_the_customer_page_and_its_follow_up_log(client, alice, carol, carols_change):
    FollowUpFactory(customer=carol.customer, author=alice, outcome="Left a voicemail")
    OrderFactory(customer=carol.customer, order_no="ORD-CAROL")
    file_appeal(carol, carols_change)
    client.force_login(alice)
    url = reverse("manager:customer", args=[carol.customer.pk])

    page = client.get(url).content.decode()
    response = client.post(url, {"kind": "call", "outcome": "Called: will order on Monday"})

    assert "Left a voicemail" in page
    assert "ORD-CAROL" in page
    assert "Submitted" in page
    assert "Why" not in page or "Score explanation" in page
    assert response.status_code == 302
    note = carol.customer.follow_ups.order_by("-id").first()
    assert (note.author, note.kind, note.outcome) == (alice, "call", "Called: will order on Monday")


@pytest.mark.django_db
def test_a_follow_up_needs_an_outcome(client, alice, carol):
    client.force_login(alice)

    response = client.post(
        reverse("manager:customer", args=[carol.customer.pk]), {"kind": "call", "outcome": ""}
    )

    assert response.status_code == 200
    assert not carol.customer.follow_ups.exists()


@pytest.mark.django_db
def test_the_export_has_the_flags_and_defuses_formulas(client, alice):
    customer = _graded("=CMD", alice, "key", composite=50.0, action="warn")
    customer.name = "@SUM(A1)"
    customer.save(update_fields=["name"])
    client.force_login(alice)

    body = b"".join(client.get(reverse("manager:export")).streaming_content)
    chinese = b"".join(
        client.get(reverse("manager:export"), HTTP_ACCEPT_LANGUAGE="zh-hans").streaming_content
    )

    assert body.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM Excel needs
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Customer code,Customer,Grade,Composite score,Account manager,")
    assert lines[1] == "'=CMD,'@SUM(A1),Key,50.00,alice-am,0,0,1,0,0,0,0"
    chinese_lines = chinese.decode("utf-8-sig").splitlines()
    assert chinese_lines[1].split(",")[2] == "重点客户"
    assert "Customer code" not in chinese_lines[0]


@pytest.mark.django_db
def test_the_manager_reads_appeal_messages(client, alice, carol, carols_change):
    file_appeal(carol, carols_change)
    client.force_login(alice)

    queue = client.get(reverse("manager:queue")).content.decode()
    messages = client.get(reverse("manager:notifications")).content.decode()
    client.post(reverse("manager:notifications"))

    assert 'data-testid="unread">1<' in queue
    assert "Appeal #" in messages
    assert "CAROL" in messages
    assert 'data-testid="unread"' not in client.get(reverse("manager:queue")).content.decode()


@pytest.mark.django_db
def test_recommendations_are_on_the_queue_and_closed_from_the_customer_page(client, alice, bob):
    customer = _graded("FOCUSED", alice, "growth")
    recommendation = RecommendationFactory(customer=customer, reason="90% in Steam")
    others = RecommendationFactory(customer=_graded("BOBS", bob, "growth"))
    client.force_login(alice)

    queue = client.get(reverse("manager:queue"), {"flag": "recommend"}).content.decode()
    page = client.get(reverse("manager:customer", args=[customer.pk])).content.decode()
    url = reverse("manager:recommendation_close", args=[customer.pk, recommendation.pk])
    done = client.post(url, {"status": "done"})
    again = client.post(url, {"status": "dismissed"}, follow=True)
    foreign = client.post(
        reverse("manager:recommendation_close", args=[others.customer.pk, others.pk]),
        {"status": "done"},
    )
    mismatched = client.post(
        reverse("manager:recommendation_close", args=[customer.pk, others.pk]), {"status": "done"}
    )

    assert 'data-code="FOCUSED"' in queue
    assert "Suggest a category" in queue
    assert "90% in Steam" in page
    assert done.status_code == 302
    recommendation.refresh_from_db()
    assert (recommendation.status, recommendation.decided_by) == ("done", alice)
    assert "already Done" in again.content.decode()
    assert foreign.status_code == mismatched.status_code == 404
    others.refresh_from_db()
    assert others.status == "open"
    assert (
        'data-code="FOCUSED"'
        not in client.get(reverse("manager:queue"), {"flag": "recommend"}).content.decode()
    )


@pytest.mark.django_db
def test_the_customer_page_shows_each_tickets_sla(client, alice):
    customer = _graded("TICKETS", alice, "strategic", composite=80.0)  # 60-minute target
    ServiceTicketFactory(
        customer=customer, subject="Late one", opened_at=timezone.now() - dt.timedelta(hours=2)
    )
    ServiceTicketFactory(
        customer=customer,
        subject="Answered in time",
        opened_at=timezone.now() - dt.timedelta(hours=3),
        first_response_at=timezone.now() - dt.timedelta(hours=3) + dt.timedelta(minutes=30),
    )
    client.force_login(alice)

    page = client.get(reverse("manager:customer", args=[customer.pk])).content.decode()

    rows = page.split('data-testid="tickets"', 1)[1].split("</table>", 1)[0].split("<tr")
    late = next(r for r in rows if "Late one" in r)
    in_time = next(r for r in rows if "Answered in time" in r)
    assert 'class="breached"' in late
    assert "SLA breached" in late
    assert "breached" not in in_time


@pytest.mark.django_db
def test_the_customer_page_runs_a_fixed_number_of_queries(
    client, alice, carol, carols_change, django_assert_max_num_queries
):
    """Measured from the second request on (the first also reads the permission sets)."""
    client.force_login(alice)
    url = reverse("manager:customer", args=[carol.customer.pk])
    client.get(url)
    with django_assert_max_num_queries(17) as small:
        assert client.get(url).status_code == 200

    file_appeal(carol, carols_change)
    for _ in range(5):
        OrderFactory(customer=carol.customer)
        ServiceTicketFactory(customer=carol.customer)
        FollowUpFactory(customer=carol.customer, author=alice)
        RecommendationFactory(customer=carol.customer)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_the_queue_shows_due_dates_and_last_contact(client, alice, settings):
    settings.APPEAL_REVIEW_SLA_DAYS = 5
    account, change = portal_customer(code="APPEALING", manager=alice)
    appeal = file_appeal(account, change)
    quiet = _graded("QUIET", alice, "key")
    ServiceTicketFactory(customer=quiet, priority="urgent", opened_at=timezone.now())
    follow_up_create(customer=account.customer, kind="call", outcome="Spoke.", by=alice)
    client.force_login(alice)

    page = client.get(reverse("manager:queue")).context["page"]
    rows = {row.code: row for row in page}

    assert rows["APPEALING"].appeal_due_at == appeal.created_at + dt.timedelta(days=5)
    assert rows["APPEALING"].last_contact_at is not None
    assert rows["QUIET"].last_contact_at is None
    assert rows["QUIET"].sla_due_at is not None
    html = client.get(reverse("manager:queue")).content.decode()
    assert "Appeal answer due" in html
    assert "Ticket answer due" in html
    assert "Never" in html


@pytest.mark.django_db
def test_a_grade_colour_must_be_a_hex_colour():
    from django.core.exceptions import ValidationError

    key = grade("key")
    key.color = "red; background: url(x)"
    with pytest.raises(ValidationError) as error:
        key.full_clean()
    assert "color" in error.value.message_dict
    key.color = "#1D4ED8"
    key.full_clean()


@pytest.mark.django_db
def test_the_manager_column_shows_to_those_who_see_every_customer(client, alice, ops):
    """Asked once per page (the view's `sees_all`), not once per row."""
    CustomerFactory(code="COLUMN-1", account_manager=alice)
    header = "<th>Manager</th>"

    client.force_login(alice)
    assert header not in client.get(reverse("manager:queue")).content.decode()

    client.force_login(ops)
    page = client.get(reverse("manager:queue")).content.decode()
    assert header in page
    assert f"<td>{alice.get_username()}</td>" in page
