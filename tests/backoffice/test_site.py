"""The admin site keeps its app list and sidebar per permission set (issue #19).

The kept pages render exactly what unfold's own site renders, in English and Chinese; a
permission taken away takes its link away on the next request; the active link follows the
request's path.
"""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from unfold.sites import UnfoldAdminSite

from backoffice.site import BackofficeAdminSite, _keepable
from tests.customers.factories import UserFactory

CUSTOMERS = "/admin/customers/customer/"


def _html(response) -> str:
    """The page without what changes on every request (the CSRF token)."""
    html = response.content.decode()
    return re.sub(r'(name="csrfmiddlewaretoken" value=|csrfToken["\']?:\s*)"[^"]*"', r"\1", html)


def _sidebar(response) -> list:
    """The sidebar's groups and links (each build makes new permission callables)."""
    return [
        {
            **group,
            "items": [
                {k: v for k, v in item.items() if k != "permission"} for item in group["items"]
            ],
        }
        for group in response.context["sidebar_navigation"]
    ]


@pytest.fixture
def unfold_site(monkeypatch):
    """Switch the site's kept app list and sidebar to unfold's own, rebuilt per request."""

    def switch() -> None:
        monkeypatch.setattr(BackofficeAdminSite, "_build_app_dict", UnfoldAdminSite._build_app_dict)
        monkeypatch.setattr(
            BackofficeAdminSite, "get_sidebar_list", UnfoldAdminSite.get_sidebar_list
        )

    return switch


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("path", ["/admin/", CUSTOMERS, "/admin/customers/"])
def test_the_kept_app_list_and_sidebar_render_as_unfold_builds_them(
    client, ops, unfold_site, language, path
):
    client.force_login(ops)
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    client.get(path, **headers)  # fills the store
    kept = client.get(path, **headers)
    unfold_site()
    rebuilt = client.get(path, **headers)

    assert kept.status_code == rebuilt.status_code == 200
    assert kept.context["available_apps"] == rebuilt.context["available_apps"]
    assert _sidebar(kept) == _sidebar(rebuilt)
    assert _html(kept) == _html(rebuilt)


@pytest.mark.django_db
def test_a_user_who_loses_a_permission_no_longer_sees_the_link(client):
    group = Group.objects.create(name="Customer viewers")
    view_customer = Permission.objects.get(codename="view_customer")
    group.permissions.add(view_customer, Permission.objects.get(codename="view_order"))
    viewer = UserFactory(username="vera-viewer", is_staff=True, groups=[group])
    client.force_login(viewer)
    assert f'href="{CUSTOMERS}"' in client.get("/admin/").content.decode()

    group.permissions.remove(view_customer)

    page = client.get("/admin/")
    assert page.status_code == 200
    assert f'href="{CUSTOMERS}"' not in page.content.decode()
    assert "customers" in {app["app_label"] for app in page.context["available_apps"]}
    assert "Customer" not in {
        model["object_name"] for app in page.context["available_apps"] for model in app["models"]
    }


@pytest.mark.django_db
def test_the_active_link_follows_the_path_not_the_first_request(client, ops):
    client.force_login(ops)

    def active(path: str) -> set[str]:
        groups = client.get(path).context["sidebar_navigation"]
        return {item["link"] for group in groups for item in group["items"] if item["active"]}

    assert CUSTOMERS in active(CUSTOMERS)
    assert CUSTOMERS not in active("/admin/customers/order/")
    assert CUSTOMERS in active(CUSTOMERS)


@pytest.mark.django_db
def test_each_request_gets_its_own_lists(rf, ops):
    request = rf.get("/admin/")
    request.user = ops
    first = admin.site.get_app_list(request)
    first[0]["models"].clear()

    assert admin.site.get_app_list(request)[0]["models"]


def test_a_sidebar_with_badges_or_own_flags_is_built_per_request():
    plain = [{"title": "t", "items": [{"title": "a", "link": "/a/"}]}]
    assert _keepable(plain)
    assert not _keepable([{**plain[0], "badge": "x.count"}])
    assert not _keepable([{"title": "t", "items": [{"link": "/a/", "badge": "x.count"}]}])
    assert not _keepable([{"title": "t", "items": [{"link": "/a/", "active": True}]}])
    assert not _keepable([{"title": "t", "items": [{"link": lambda request: "/a/"}]}])


def test_registering_a_model_empties_the_store():
    site = BackofficeAdminSite(name="scratch")
    site._keep(("apps",), {})
    site.register(Group)

    assert site._kept == {}


def test_the_task_results_pages_are_named_in_chinese_without_the_packages_own_catalogue():
    # django_celery_results ships its zh_Hans .po without the compiled .mo: on a fresh
    # install its model names showed in English in the Chinese sidebar ("Task results").
    catalogue = gettext.translation(
        "django", localedir=Path(settings.BASE_DIR) / "locale", languages=["zh_Hans"]
    )
    assert catalogue.gettext("task results") == "任务结果"
    assert catalogue.gettext("group results") == "分组结果"
