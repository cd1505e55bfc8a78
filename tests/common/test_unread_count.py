"""The unread count every page's menu shows comes from the cache until the user's
notifications change (common.selectors): each change shows on the next page, and each check
fails when the replacement of the version behind it is removed (its mutant twin).

Transactional: a value read inside a transaction is never cached (common.versions).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.utils import timezone

from common import apps as common_apps
from common import services
from common.models import Notification
from common.selectors import notification_unread_count
from common.services import NotificationDraft, notification_mark_read, notification_send_many

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def send(user, key: str) -> None:
    notification_send_many(
        drafts=[
            NotificationDraft(
                recipient_id=user.pk,
                kind="grades_check",
                params={"count": 1, "lines": []},
                dedupe_key=key,
            )
        ]
    )


def a_new_notice(user) -> Callable[[], int]:
    send(user, "new")
    return lambda: 3


def all_read(user) -> Callable[[], int]:
    notification_mark_read(user_id=user.pk)
    return lambda: 0


def oldest() -> Notification:
    return Notification.objects.order_by("id")[0]


def one_read(user) -> Callable[[], int]:
    notification_mark_read(user_id=user.pk, ids=[oldest().pk])
    return lambda: 1


def read_in_the_admin(user) -> Callable[[], int]:
    note = oldest()
    note.read_at = timezone.now()
    note.save()
    return lambda: 1


def deleted_in_the_admin(user) -> Callable[[], int]:
    oldest().delete()
    return lambda: 1


CHANGES = [a_new_notice, all_read, one_read, read_in_the_admin, deleted_in_the_admin]


@pytest.fixture
def two_unread(alice):
    send(alice, "one")
    send(alice, "two")
    assert notification_unread_count(user_id=alice.pk) == 2  # now cached
    return alice


@pytest.fixture
def replacements_removed(monkeypatch):
    """The mutant twin: nothing replaces the versions when notifications change."""
    monkeypatch.setattr(services, "version_replace", lambda *names, **kwargs: None)
    for signal, uid in common_apps.NOTIFICATION_RECEIVERS:
        assert signal.disconnect(sender=Notification, dispatch_uid=uid)
    yield
    for signal, uid in common_apps.NOTIFICATION_RECEIVERS:
        signal.connect(common_apps._notification_changed, sender=Notification, dispatch_uid=uid)


def test_the_count_is_read_once_then_comes_from_the_cache(two_unread, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert notification_unread_count(user_id=two_unread.pk) == 2


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.__name__)
def test_every_change_shows_on_the_next_read(two_unread, change):
    expected = change(two_unread)()

    assert notification_unread_count(user_id=two_unread.pk) == expected


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.__name__)
def test_without_the_replacements_the_same_checks_fail(two_unread, replacements_removed, change):
    expected = change(two_unread)()

    assert notification_unread_count(user_id=two_unread.pk) == 2 != expected


def test_one_user_reading_leaves_the_others_counts_in_the_cache(
    two_unread, bob, django_assert_num_queries
):
    send(bob, "bob")
    assert notification_unread_count(user_id=bob.pk) == 1

    notification_mark_read(user_id=two_unread.pk)

    with django_assert_num_queries(0):
        assert notification_unread_count(user_id=bob.pk) == 1
    assert notification_unread_count(user_id=two_unread.pk) == 0


def test_the_menu_shows_the_count_and_follows_a_read(client, two_unread):
    client.force_login(two_unread)

    assert client.get("/manager/").context["unread_count"] == 2
    client.post("/manager/notifications/")
    assert client.get("/manager/").context["unread_count"] == 0
