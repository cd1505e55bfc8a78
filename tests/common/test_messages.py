"""Messages are a kind plus parameters, worded for the reader: every kind reads in both
languages, an unknown kind is refused before anything is written, and a person's language
is remembered for their e-mails."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from common.messages import _RENDERERS, UnknownMessageKind, message_render
from common.models import Notification, UserPreference
from common.services import NotificationDraft, notification_send_many, user_language
from tests.customers.factories import UserFactory

GRADE = {"en": "Key", "zh-hans": "重点客户"}
LOWER = {"en": "Growth", "zh-hans": "成长客户"}
RUN = {"scheme": "default", "version": 2, "as_of": "2026-12-01"}
BENEFIT = {"en": "Free shipping", "zh-hans": "免运费"}


def _appeal(status):
    return {"id": 7, "status": status, "from": GRADE, "to": LOWER, "note": "", "customer": "Liu"}


#: Parameters of every kind, for each reader (what the services store).
SAMPLES = {
    **{
        f"grade_{action}": [
            {
                "action": action,
                "audience": "staff",
                "customer": "C1 Liu",
                "grade": GRADE,
                "score": 71.25,
                "run": RUN,
            },
        ]
        + ([{"action": action, "audience": "customer", "grade": GRADE}] if action != "warn" else [])
        for action in ("upgrade", "warn", "propose_downgrade", "downgrade")
    },
    **{
        f"change_{decision}": [
            {
                "decision": decision,
                "audience": "staff",
                "customer": "C1 Liu",
                "from": GRADE,
                "to": LOWER,
                "note": "",
            },
            {"decision": decision, "audience": "customer", "from": GRADE, "to": LOWER},
        ]
        for decision in ("approved", "rejected")
    },
    "grade_provisional_upgrade": [
        {
            "action": "provisional_upgrade",
            "audience": "staff",
            "customer": "C1 Liu",
            "grade": GRADE,
            "date": "2026-12-04",
            "score": 71.25,
            "run": RUN,
        },
        {
            "action": "provisional_upgrade",
            "audience": "customer",
            "grade": GRADE,
            "date": "2026-12-04",
        },
    ],
    "grades_check": [{"count": 3, "lines": ["[run_counters] Run 4: x"]}],
    "queue_needs_check": [
        {"count": 1, "lines": ["C1: flag_appeal True != False"]},
        {"count": 30, "lines": ["C1: missing"]},
    ],
    **{
        f"appeal_{status}": [
            {**_appeal(status), "audience": "staff"},
            {**_appeal(status), "audience": "customer"},
        ]
        for status in ("submitted", "under_review", "accepted", "rejected", "withdrawn")
    },
    "appeal_accepted": [
        {**_appeal("accepted"), "audience": "customer", "until": "2027-01-04"},
        {**_appeal("accepted"), "audience": "staff"},
    ],
    **{
        kind: [
            {"audience": audience, "customer": "C1 Liu", "day": "2026-10-01", "benefit": benefit}
            for audience in ("staff", "customer")
            for benefit in (BENEFIT, None)
        ]
        for kind in ("nudge_new_customer_pack", "nudge_growth_no_order_reminder")
    },
}


def test_every_declared_kind_has_a_sample_here():
    assert set(_RENDERERS) == set(SAMPLES)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_kind_reads_in_english_and_in_chinese(kind):
    for params in SAMPLES[kind]:
        with translation.override("en"):
            english = message_render(kind, params)
        with translation.override("zh-hans"):
            chinese = message_render(kind, params)
        assert english.title
        assert chinese.title
        assert english.title != chinese.title, (kind, params)
        for text in (english.title, english.body, chinese.title, chinese.body):
            assert "%(" not in text
            assert "{" not in text
        assert "Key" not in chinese.title  # names in the reader's language too


def test_the_reader_is_addressed_in_their_person():
    with translation.override("en"):
        staff = message_render("grade_upgrade", SAMPLES["grade_upgrade"][0])
        customer = message_render("grade_upgrade", SAMPLES["grade_upgrade"][1])
    assert staff.title == "Upgrade: C1 Liu is now Key"
    assert staff.body == "Composite score 71.3 in the run default v2, November 2026."
    assert customer.title == "Congratulations: you are now Key"


@pytest.mark.django_db
def test_an_unknown_kind_is_refused_before_anything_is_written(alice):
    drafts = [
        NotificationDraft(
            recipient_id=alice.pk,
            kind="grades_check",
            dedupe_key="a",
            params={"count": 1, "lines": []},
        ),
        NotificationDraft(recipient_id=alice.pk, kind="made_up", dedupe_key="b"),
    ]
    with pytest.raises(UnknownMessageKind):
        notification_send_many(drafts=drafts)
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_logging_in_and_switching_language_remember_the_persons_language(client):
    user = UserFactory(username="mei")
    assert user_language(user) == "en"  # nothing recorded: the site's default

    client.cookies["django_language"] = "zh-hans"
    response = client.post(
        reverse("portal:login"), {"username": "mei", "password": "pass-Word-123"}
    )
    assert response.status_code == 302  # logged in
    assert UserPreference.objects.get(user=user).language == "zh-hans"

    client.post(reverse("set_language"), {"language": "en", "next": "/portal/"})
    assert UserPreference.objects.get(user=user).language == "en"
    client.post(reverse("set_language"), {"language": "xx", "next": "/portal/"})
    assert UserPreference.objects.get(user=user).language == "en"  # not a site language


@pytest.mark.django_db
def test_an_anonymous_language_switch_remembers_nothing(client):
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/portal/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "zh-hans"
    assert not UserPreference.objects.exists()


@pytest.mark.django_db
def test_a_message_stored_before_parameters_existed_reads_as_written(alice):
    old = Notification.objects.create(
        recipient=alice, kind="grade_upgrade", title="Upgrade: C1 is now Key", dedupe_key="old"
    )
    with translation.override("zh-hans"):
        assert old.text.title == "Upgrade: C1 is now Key"
