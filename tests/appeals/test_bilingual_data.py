"""Grade, benefit and service-level names are data in English and Chinese: the portal, the
manager's queue and the admin show the reader's language (issue #14, docs/operations.md)."""

from __future__ import annotations

import pytest
from django.urls import reverse


def _page(client, url: str, language: str) -> str:
    return client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()


@pytest.mark.django_db
def test_the_portal_shows_grade_and_benefit_names_in_the_readers_language(client, carol):
    client.force_login(carol.user)

    chinese = _page(client, reverse("portal:home"), "zh-hans")
    ladder = _page(client, reverse("portal:grades"), "zh-hans")
    english = _page(client, reverse("portal:home"), "en")

    assert ">成长客户</span>" in chinese  # Carol's grade
    assert "免运费" in chinese
    assert "每月最多 4 笔订单免运费。" in chinese
    assert "Free shipping" not in chinese
    assert "战略客户" in ladder
    assert "1 小时内首次响应" in ladder
    assert ">Growth</span>" in english
    assert "Free shipping" in english


@pytest.mark.django_db
def test_the_managers_queue_names_grades_in_the_readers_language(client, alice, carol):
    client.force_login(alice)

    assert "成长客户" in _page(client, reverse("manager:queue"), "zh-hans")
    assert "Growth" in _page(client, reverse("manager:queue"), "en")


@pytest.mark.django_db
def test_the_admin_lists_grades_in_the_readers_language_and_edits_both(client, ops):
    from tests.grading.factories import grade

    client.force_login(ops)
    growth = grade("growth")

    chinese = _page(client, reverse("admin:grading_grade_changelist"), "zh-hans")
    english = _page(client, reverse("admin:grading_grade_changelist"), "en")
    change = _page(client, reverse("admin:grading_grade_change", args=[growth.pk]), "zh-hans")

    assert "战略客户" in chinese
    assert "成长客户" in chinese
    assert "Strategic" not in chinese
    assert "Strategic" in english
    for name in ("name_en", "name_zh_hans", "service_level_en", "service_level_zh_hans"):
        assert f'name="{name}"' in change
    assert 'value="成长客户"' in change
    assert 'value="Growth"' in change
