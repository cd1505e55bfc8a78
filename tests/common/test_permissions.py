"""Permission sets kept in the cache (issue #19): read once, and a change applies at once."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common.permissions import permissions_version
from tests.customers.factories import UserFactory

VIEW_CUSTOMER = "customers.view_customer"


def _fresh(user):
    """The user as the next request loads it (no permission sets on the object)."""
    return get_user_model().objects.get(pk=user.pk)


def _permission_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "auth_permission" in q["sql"]]


@pytest.fixture
def viewers(db):
    group = Group.objects.create(name="Customer viewers")
    group.permissions.add(Permission.objects.get(codename="view_customer"))
    return group


@pytest.fixture
def viewer(viewers):
    return UserFactory(username="vera-viewer", is_staff=True, groups=[viewers])


@pytest.mark.django_db
def test_the_sets_are_read_once_then_come_from_the_cache(viewer):
    with CaptureQueriesContext(connection) as first:
        assert _fresh(viewer).has_perm(VIEW_CUSTOMER)
    with CaptureQueriesContext(connection) as second:
        assert _fresh(viewer).has_perm(VIEW_CUSTOMER)
        assert not _fresh(viewer).has_perm("customers.delete_customer")

    assert len(_permission_queries(first.captured_queries)) == 2  # the user's, the groups'
    assert _permission_queries(second.captured_queries) == []


@pytest.mark.django_db
def test_a_staff_page_asks_for_the_permissions_on_its_first_request_only(client, ops):
    client.force_login(ops)
    with CaptureQueriesContext(connection) as first:
        assert client.get(reverse("admin:index")).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get(reverse("admin:index")).status_code == 200

    assert len(_permission_queries(first.captured_queries)) == 2
    assert _permission_queries(second.captured_queries) == []


@pytest.mark.django_db
def test_a_permission_taken_from_the_group_is_gone_on_the_next_request(viewer, viewers):
    assert _fresh(viewer).has_perm(VIEW_CUSTOMER)

    viewers.permissions.remove(Permission.objects.get(codename="view_customer"))

    assert not _fresh(viewer).has_perm(VIEW_CUSTOMER)


@pytest.mark.django_db
def test_leaving_the_group_or_the_group_deleted_takes_its_permissions(viewer, viewers):
    other = UserFactory(username="vic-viewer", is_staff=True, groups=[viewers])
    assert _fresh(viewer).has_perm(VIEW_CUSTOMER)
    assert _fresh(other).has_perm(VIEW_CUSTOMER)

    viewer.groups.remove(viewers)
    assert not _fresh(viewer).has_perm(VIEW_CUSTOMER)
    assert _fresh(other).has_perm(VIEW_CUSTOMER)

    viewers.delete()
    assert not _fresh(other).has_perm(VIEW_CUSTOMER)


@pytest.mark.django_db
def test_a_permission_given_to_the_user_applies_at_once(viewer):
    assert not _fresh(viewer).has_perm("customers.change_customer")

    viewer.user_permissions.add(Permission.objects.get(codename="change_customer"))

    assert _fresh(viewer).has_perm("customers.change_customer")


@pytest.mark.django_db
def test_a_superuser_flag_is_part_of_the_key(viewer):
    assert not _fresh(viewer).has_perm("customers.delete_customer")

    get_user_model().objects.filter(pk=viewer.pk).update(is_superuser=True)  # no signal

    assert _fresh(viewer).has_perm("customers.delete_customer")
    assert "customers.delete_customer" in _fresh(viewer).get_all_permissions()


@pytest.mark.django_db
def test_an_inactive_user_has_no_permissions_whatever_is_cached(viewer):
    assert _fresh(viewer).has_perm(VIEW_CUSTOMER)

    get_user_model().objects.filter(pk=viewer.pk).update(is_active=False)

    assert not _fresh(viewer).has_perm(VIEW_CUSTOMER)


@pytest.mark.django_db
def test_the_version_changes_again_when_the_change_commits(
    viewer, viewers, django_capture_on_commit_callbacks
):
    before = permissions_version()
    with django_capture_on_commit_callbacks(execute=True):
        viewers.permissions.clear()
        during = permissions_version()
    after = permissions_version()

    # A request between the change and its commit may have cached the old rows under
    # `during`: the commit leaves that version behind.
    assert len({before, during, after}) == 3
    assert not _fresh(viewer).has_perm(VIEW_CUSTOMER)


@pytest.mark.django_db
def test_a_migrate_replaces_the_version():
    """A deploy's data migrations grant permissions without the models' signals."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    before = permissions_version()
    app_config = apps.get_app_config("backoffice")  # no models: the other receivers pass
    post_migrate.send(
        sender=app_config,
        app_config=app_config,
        verbosity=0,
        interactive=False,
        using="default",
        apps=apps,
        plan=[],
    )

    assert permissions_version() != before
