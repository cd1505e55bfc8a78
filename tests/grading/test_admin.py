"""Grading admin: the review queue (bounded queries, confirmation pages, scoping), overrides
through the service, read-only active schemes and their next version."""

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone, translation

from grading import labels
from grading.labels import rule_name
from grading.models import (
    CustomerGrade,
    GradeAuditEntry,
    GradeChange,
    GradeOverride,
    GradingScheme,
    SchemeGrade,
)
from grading.services.schemes import scheme_activate, scheme_revise
from tests.customers.factories import CustomerFactory
from tests.grading.factories import (
    CustomerGradeFactory,
    GradeChangeFactory,
    GradeOverrideFactory,
    default_scheme,
    grade,
    proposal_for,
)

QUEUE = reverse("admin:grading_gradechange_changelist")


def _queue(n, manager=None):
    """`n` proposals with snapshots plus one decided change per proposal."""
    for _ in range(n):
        change = proposal_for(CustomerFactory(account_manager=manager))
        GradeChangeFactory(
            customer=change.customer,
            status=GradeChange.Status.APPLIED,
            direction=GradeChange.Direction.UP,
        )


def _action(client, action, ids, url=QUEUE, follow=False, **data):
    return client.post(url, {"action": action, ACTION_CHECKBOX_NAME: ids, **data}, follow=follow)


# ------------------------------------------------------------------------------ review queue


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["", "?status=all", "?q=C0", "?status=applied&direction=up"])
@pytest.mark.parametrize("user", ["ops", "alice"])
def test_review_queue_query_count_does_not_grow_with_rows(
    client, request, user, query, django_assert_max_num_queries
):
    actor = request.getfixturevalue(user)
    client.force_login(actor)
    _queue(3, manager=actor)
    with django_assert_max_num_queries(20) as small:
        assert client.get(QUEUE + query).status_code == 200
    _queue(30, manager=actor)

    with django_assert_max_num_queries(len(small.captured_queries)):
        page = client.get(QUEUE + query)

    assert page.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url_name",
    [
        "admin:grading_gradeoverride_changelist",
        "admin:grading_gradingscheme_changelist",
        "admin:grading_customergrade_changelist",
        "admin:grading_gradeauditentry_changelist",
    ],
)
def test_other_grading_changelists_stay_within_a_fixed_query_bound(
    client, ops, url_name, django_assert_max_num_queries
):
    def populate(n):
        for _ in range(n):
            customer = CustomerGradeFactory(grade=grade("growth")).customer
            GradeOverrideFactory(customer=customer, created_by=ops)
            scheme_revise(scheme=default_scheme(), by=ops)

    client.force_login(ops)
    populate(3)
    with django_assert_max_num_queries(20) as small:
        assert client.get(reverse(url_name)).status_code == 200
    populate(20)

    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(reverse(url_name)).status_code == 200


@pytest.mark.django_db
def test_review_queue_opens_on_pending_review_with_the_review_columns(client, ops, alice):
    change = proposal_for(CustomerFactory(code="WAITING", account_manager=alice))
    GradeChangeFactory(customer=CustomerFactory(code="DONE"), status=GradeChange.Status.APPLIED)
    client.force_login(ops)

    default = client.get(QUEUE).content.decode()
    everything = client.get(QUEUE, {"status": "all"})

    assert "WAITING" in default
    assert "DONE" not in default
    assert "Pending review" in default
    assert "Key → Growth" in default
    assert "51.2" in default  # the run snapshot's composite
    assert alice.username in default
    codes = [c.customer.code for c in everything.context["cl"].result_list]
    assert codes == ["WAITING", "DONE"]  # proposed first
    assert rule_name(change.rule) in default  # the rule in words
    assert f">{change.rule}<" not in default  # never its code


@pytest.mark.django_db
def test_approve_goes_through_a_confirmation_page_then_calls_the_service(client, ops):
    change = proposal_for(CustomerFactory(code="APPROVE-ME"))
    client.force_login(ops)

    page = _action(client, "approve_changes", [change.pk])

    assert page.status_code == 200
    assert "admin/grading/action_confirmation.html" in [t.name for t in page.templates]
    assert "APPROVE-ME" in page.content.decode()
    change.refresh_from_db()
    assert change.status == GradeChange.Status.PROPOSED  # nothing happens before confirming

    done = _action(
        client, "approve_changes", [change.pk], confirm="yes", note="Checked", follow=True
    )

    change.refresh_from_db()
    assert change.status == GradeChange.Status.APPLIED
    assert change.decided_by == ops
    audit = GradeAuditEntry.objects.get(change=change)
    assert (audit.source, audit.actor, audit.reason) == ("review", ops, "Checked")
    assert "Applied: 1" in done.content.decode()


@pytest.mark.django_db
def test_reject_without_a_reason_shows_the_error_and_changes_nothing(client, ops):
    change = proposal_for(CustomerFactory())
    client.force_login(ops)

    page = _action(client, "reject_changes", [change.pk], confirm="yes", reason="  ")

    assert page.status_code == 200
    assert "Give a reason for rejecting the change." in page.content.decode()
    change.refresh_from_db()
    assert change.status == GradeChange.Status.PROPOSED
    assert CustomerGrade.objects.get(customer=change.customer).periods_under == 2


@pytest.mark.django_db
def test_reject_with_a_reason_keeps_the_grade(client, ops):
    change = proposal_for(CustomerFactory())
    client.force_login(ops)

    response = _action(client, "reject_changes", [change.pk], confirm="yes", reason="Seasonal")

    assert response.status_code == 302
    change.refresh_from_db()
    assert (change.status, change.decision_note) == ("rejected", "Seasonal")
    assert CustomerGrade.objects.get(customer=change.customer).grade.code == "key"


@pytest.mark.django_db
def test_approving_a_change_decided_meanwhile_reports_it(client, ops):
    change = proposal_for(CustomerFactory())
    GradeChange.objects.filter(pk=change.pk).update(status=GradeChange.Status.REJECTED)
    client.force_login(ops)

    done = _action(
        client,
        "approve_changes",
        [change.pk],
        url=QUEUE + "?status=all",
        confirm="yes",
        follow=True,
    )

    assert "already decided" in done.content.decode()
    assert not GradeAuditEntry.objects.exists()


@pytest.mark.django_db
def test_account_manager_sees_own_changes_only_and_cannot_decide(
    client, alice, alices_customer, bobs_customer
):
    mine = proposal_for(alices_customer)
    theirs = proposal_for(bobs_customer)
    client.force_login(alice)

    page = client.get(QUEUE)
    attempt = _action(client, "approve_changes", [mine.pk], confirm="yes")
    other = client.get(reverse("admin:grading_gradechange_change", args=[theirs.pk]))
    missing = client.get(reverse("admin:grading_gradechange_change", args=[999_999]))
    own = client.get(reverse("admin:grading_gradechange_change", args=[mine.pk]))

    body = page.content.decode()
    assert alices_customer.code in body
    assert bobs_customer.code not in body
    assert "approve_changes" not in body  # no actions offered
    # The action is not offered, so the POST is refused as "no action selected".
    assert "admin/grading/action_confirmation.html" not in [t.name for t in attempt.templates]
    mine.refresh_from_db()
    assert mine.status == GradeChange.Status.PROPOSED
    assert not GradeAuditEntry.objects.exists()
    assert other.status_code == missing.status_code == 302  # out of scope looks missing
    assert own.status_code == 200


@pytest.mark.django_db
def test_change_page_explains_the_decision_from_the_snapshot(client, ops):
    change = proposal_for(CustomerFactory(code="EXPLAIN"))
    client.force_login(ops)

    body = client.get(reverse("admin:grading_gradechange_change", args=[change.pk]))

    text = body.content.decode()
    for expected in (
        "Days since the last order (R)",
        ">95<",  # recency
        "¥2,400.00",  # monetary, with its currency and grouped
        "¥1,500.00",  # first half of the window
        "0.43",  # gap variation
        "87.50%",  # on-time rate, a share
        "Needs attention",  # the RFM label in words
        "51.23",  # composite
        "Downgrade after repeated reviews under target",  # the rule by its name
        "“downgrade after” consecutive reviews",
        "Downgrade proposed for review",
        # How the policy judged it, against the Key rung of the run's scheme.
        "How the grade policy judged it",
        "Key, reviewed quarterly",
        "51.23; minimum 55.00, margin 2.00: on target from 53.00 when every gate is met",
        "warn after 2, downgrade after 3 consecutive reviews under target",
        # The reason names the run as people do, not the stored English prose.
        f"Grading run {change.run}",
        reverse("admin:customers_customer_change", args=[change.customer_id]),
        reverse("admin:grading_gradingrun_change", args=[change.run_id]),
    ):
        assert expected in text, expected
    for code in ("downgrade_after", "propose_downgrade", "2400.00", "51.2345", change.reason):
        assert code not in text, code
    assert 'name="_save"' not in text  # read-only


@pytest.mark.django_db
def test_change_page_explains_in_chinese_with_words_and_formatted_numbers(client, ops):
    change = proposal_for(CustomerFactory(code="EXPLAIN"))
    client.force_login(ops)

    body = client.get(
        reverse("admin:grading_gradechange_change", args=[change.pk]),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )

    text = body.content.decode()
    with translation.override("zh-hans"):
        run = str(change.run)
        for expected in (
            str(labels.rule_name("downgrade_after")),
            str(labels.action_label("propose_downgrade")),
            "¥2,400.00",
            "¥1,500.00",
            "87.50%",
            f"评级批次 {run}",
        ):
            assert expected in text, expected
    for code in ("downgrade_after", "propose_downgrade", "2400.00", "Grading run"):
        assert code not in text, code


# ----------------------------------------------------------------------------------- overrides


@pytest.mark.django_db
def test_override_add_form_calls_the_service_which_replaces_the_active_pin(client, ops):
    state = CustomerGradeFactory(grade=grade("basic"))
    change = proposal_for(state.customer, from_code="basic", to_code="basic")
    previous = GradeOverrideFactory(customer=state.customer, grade=grade("basic"))
    expires = timezone.localdate() + dt.timedelta(days=30)
    client.force_login(ops)

    response = client.post(
        reverse("admin:grading_gradeoverride_add"),
        {
            "customer": state.customer.pk,
            "grade": grade("key").pk,
            "reason": "Strategic partner",
            "expires_on": expires.isoformat(),
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    override = GradeOverride.objects.get(ended_at__isnull=True)
    assert (override.grade.code, override.created_by, override.expires_on) == ("key", ops, expires)
    previous.refresh_from_db()
    assert (previous.end_reason, previous.ended_by) == ("replaced", ops)
    audit = GradeAuditEntry.objects.get(customer=state.customer)
    assert (audit.source, audit.actor, audit.new_grade.code) == ("override", ops, "key")
    assert CustomerGrade.objects.get(customer=state.customer).grade.code == "key"
    change.refresh_from_db()
    assert change.status == GradeChange.Status.SUPERSEDED


@pytest.mark.django_db
def test_override_add_form_shows_rule_errors_next_to_the_field(client, ops):
    customer = CustomerGradeFactory(grade=grade("basic")).customer
    client.force_login(ops)

    page = client.post(
        reverse("admin:grading_gradeoverride_add"),
        {
            "customer": customer.pk,
            "grade": grade("key").pk,
            "reason": "x",
            "expires_on": "2020-01-01",
        },
    )

    assert page.status_code == 200
    assert "The expiry date must be in the future." in page.content.decode()
    assert not GradeOverride.objects.exists()


@pytest.mark.django_db
def test_customer_grade_links_to_a_prefilled_override_form(client, ops):
    state = CustomerGradeFactory(customer=CustomerFactory(code="PIN-ME"))
    client.force_login(ops)
    add_url = reverse("admin:grading_gradeoverride_add") + f"?customer={state.customer_id}"

    listing = client.get(reverse("admin:grading_customergrade_changelist")).content.decode()
    form = client.get(add_url)

    assert add_url in listing
    assert "Override grade" in listing
    assert form.context["adminform"].form.initial["customer"] == str(state.customer_id)
    assert "PIN-ME" in form.content.decode()


@pytest.mark.django_db
def test_an_existing_override_cannot_be_edited_or_reverted(client, ops):
    customer = CustomerGradeFactory().customer
    client.force_login(ops)
    client.post(
        reverse("admin:grading_gradeoverride_add"),
        {"customer": customer.pk, "grade": grade("key").pk, "reason": "First"},
    )
    override = GradeOverride.objects.get()
    version = override.history.get().history_id

    edit = client.post(
        reverse("admin:grading_gradeoverride_change", args=[override.pk]),
        {"customer": customer.pk, "grade": grade("basic").pk, "reason": "Edited"},
    )
    revert = client.post(
        reverse("admin:grading_gradeoverride_simple_history", args=[override.pk, version]),
        {"customer": customer.pk, "grade": grade("basic").pk, "reason": "Reverted"},
    )
    history = client.get(reverse("admin:grading_gradeoverride_history", args=[override.pk]))

    assert edit.status_code == revert.status_code == 403
    override.refresh_from_db()
    assert (override.grade.code, override.reason) == ("key", "First")
    assert history.status_code == 200


@pytest.mark.django_db
def test_end_overrides_action_needs_a_reason_and_ends_them(client, ops):
    active = GradeOverrideFactory(customer=CustomerFactory(), created_by=ops)
    ended = GradeOverrideFactory(
        customer=CustomerFactory(), ended_at=timezone.now(), end_reason="expired"
    )
    url = reverse("admin:grading_gradeoverride_changelist")
    client.force_login(ops)

    refused = _action(client, "end_overrides", [active.pk, ended.pk], url=url, confirm="yes")
    done = _action(
        client,
        "end_overrides",
        [active.pk, ended.pk],
        url=url,
        confirm="yes",
        reason="Partnership over",
        follow=True,
    )

    assert "Give a reason for ending the override." in refused.content.decode()
    active.refresh_from_db()
    ended.refresh_from_db()
    assert (active.end_reason, active.ended_by) == ("Partnership over", ops)
    assert ended.end_reason == "expired"
    assert "Ended 1 override; 1 had already ended." in done.content.decode()


# ------------------------------------------------------------------------------------- schemes


@pytest.mark.django_db
def test_active_scheme_is_read_only_and_offers_the_next_version(client, ops):
    active = scheme_activate(scheme=scheme_revise(scheme=default_scheme(), by=ops), by=ops)
    url = reverse("admin:grading_gradingscheme_change", args=[active.pk])
    client.force_login(ops)

    page = client.get(url)
    edit = client.post(url, {"name": "hacked", "version": 1})
    version = active.history.first().history_id
    revert = client.post(
        reverse("admin:grading_gradingscheme_simple_history", args=[active.pk, version]),
        {"name": "hacked"},
    )

    text = page.content.decode()
    assert page.status_code == 200
    assert 'name="_save"' not in text
    assert 'name="ladder-0-min_score"' not in text  # the ladder is read-only too
    assert "Create a new draft version" in text
    assert reverse("admin:grading_gradingscheme_revise_scheme", args=[active.pk]) in text
    assert edit.status_code == revert.status_code == 403
    active.refresh_from_db()
    assert (active.name, active.status) == ("default", "active")


@pytest.mark.django_db
def test_draft_scheme_and_its_ladder_are_editable(client, ops):
    draft = scheme_revise(scheme=default_scheme(), by=ops)
    client.force_login(ops)

    text = client.get(reverse("admin:grading_gradingscheme_change", args=[draft.pk])).content

    assert b'name="_save"' in text
    assert b'name="ladder-0-min_score"' in text


@pytest.mark.django_db
def test_revise_action_creates_the_next_draft_and_opens_it(client, ops):
    active = default_scheme()
    client.force_login(ops)

    response = client.post(
        reverse("admin:grading_gradingscheme_changelist"),
        {"action": "revise_schemes", ACTION_CHECKBOX_NAME: [active.pk], "index": 0},
    )

    draft = GradingScheme.objects.get(version=2)
    assert response.status_code == 302
    assert response.url == reverse("admin:grading_gradingscheme_change", args=[draft.pk])
    assert (draft.status, draft.based_on, draft.created_by) == ("draft", active, ops)
    assert SchemeGrade.objects.filter(scheme=draft).count() == 5


@pytest.mark.django_db
def test_activate_action_swaps_schemes_or_reports_why_not(client, ops):
    active = default_scheme()
    good = scheme_revise(scheme=active, by=ops)
    bad = scheme_revise(scheme=active, by=ops)
    SchemeGrade.objects.filter(scheme=bad).delete()
    url = reverse("admin:grading_gradingscheme_changelist")
    client.force_login(ops)

    refused = _action(client, "activate_scheme", [bad.pk], url=url, index=0, follow=True)
    both = _action(client, "activate_scheme", [good.pk, bad.pk], url=url, index=0, follow=True)
    done = _action(client, "activate_scheme", [good.pk], url=url, index=0, follow=True)

    assert "no grades" in refused.content.decode()
    assert "Select exactly one draft" in both.content.decode()
    assert "is now active" in done.content.decode()
    good.refresh_from_db()
    active.refresh_from_db()
    assert (good.status, active.status) == ("active", "retired")


@pytest.mark.django_db
def test_account_managers_cannot_reach_overrides_or_schemes(client, alice):
    client.force_login(alice)

    for name in ("gradeoverride", "gradingscheme"):
        assert client.get(reverse(f"admin:grading_{name}_changelist")).status_code == 403


@pytest.mark.django_db
def test_every_grading_change_page_opens_read_only(client, ops):
    change = proposal_for(CustomerFactory())
    override = GradeOverrideFactory(customer=change.customer, created_by=ops)
    GradeAuditEntry.objects.create(
        customer=change.customer, new_grade=grade("key"), source="manual", reason="seed"
    )
    client.force_login(ops)
    pages = [
        ("customergrade", change.customer_id),
        ("gradeoverride", override.pk),
        ("gradeauditentry", GradeAuditEntry.objects.get().pk),
        ("gradingrun", change.run_id),
        ("scoresnapshot", change.run.snapshots.get().pk),
        ("gradechange", change.pk),
    ]

    for model, pk in pages:
        page = client.get(reverse(f"admin:grading_{model}_change", args=[pk]))
        assert page.status_code == 200, model
        assert 'name="_save"' not in page.content.decode(), model
