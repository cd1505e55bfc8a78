"""common.admin.ModelAdmin: unfold's admin with its per-row template work done once."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin import helpers
from django.utils import translation
from unfold import admin as unfold_admin

from common.admin import ModelAdmin
from customers.models import Customer


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("pk", [7, 123456, "a<b"])
def test_row_checkbox_is_unfolds(language: str, pk: int | str) -> None:
    model_admin = admin.site.get_model_admin(Customer)
    assert isinstance(model_admin, ModelAdmin)
    with translation.override(language):
        expected = unfold_admin.checkbox.render(helpers.ACTION_CHECKBOX_NAME, str(pk))
        assert model_admin.action_checkbox(Customer(pk=pk)) == expected
        assert str(model_admin.action_checkbox(Customer(pk=pk))) == expected


def test_every_registered_admin_is_tierhubs() -> None:
    """The attributes unfold's templates read exist on every admin the site shows."""
    for model_admin in admin.site._registry.values():
        assert isinstance(model_admin, ModelAdmin), type(model_admin)
        assert model_admin.list_sections == ()
        assert model_admin.conditional_fields == {}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("value", [True, False, None, "", 1, 0])
def test_boolean_icon_is_unfolds(language: str, value: object) -> None:
    """The icon kept per language and state is the one unfold's template renders."""
    from django.template.loader import render_to_string
    from unfold import utils as unfold_utils

    from common.admin import boolean_icon

    assert unfold_utils._boolean_icon is boolean_icon
    with translation.override(language):
        expected = render_to_string("unfold/helpers/boolean.html", {"value": value})
        assert boolean_icon(value) == expected
        assert boolean_icon(value) == expected  # the kept copy
        assert unfold_utils.display_for_value(value, "-", boolean=True) == expected


def _row_links(admin_client, query: str) -> tuple[list[str], int]:
    """The customer list's row links for `query`, and how many URL resolves the page made."""
    import re
    from unittest import mock

    from django.urls import resolve as django_resolve

    tag_resolve = "django.contrib.admin.templatetags.admin_urls.resolve"
    with mock.patch(tag_resolve, wraps=django_resolve) as resolve:
        response = admin_client.get(f"/admin/customers/customer/?{query}")
    assert response.status_code == 200
    links = re.findall(r'href="(/admin/customers/customer/\d+/change/[^"]*)"', response.text)
    return links, resolve.call_count


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["o=1", "kind=company&o=-1", "q=acme&o=1"])
def test_row_links_carry_the_list_s_filters_without_a_resolve_each(
    admin_client, monkeypatch, query
):
    """Each row's link leads back to the same filtered list after saving (Django's
    preserved filters), written as unfold's own list writes it, without the URL resolve
    per row that unfold's list (the mutant twin, below) makes."""
    from urllib.parse import quote

    from unfold.views import ChangeList

    from tests.customers.factories import CustomerFactory

    for n in range(3):
        CustomerFactory(code=f"ACME-{n}", name=f"Acme {n}", kind="company")

    links, resolves = _row_links(admin_client, query)
    with monkeypatch.context() as mutant:
        mutant.setattr(ModelAdmin, "get_changelist", lambda self, request, **kw: ChangeList)
        unfold_links, unfold_resolves = _row_links(admin_client, query)

    assert len(links) == 3
    assert links == unfold_links
    assert all(
        link.endswith(f"/change/?_changelist_filters={quote(query, safe='')}") for link in links
    )
    assert unfold_resolves - resolves == 3
