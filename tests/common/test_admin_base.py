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
