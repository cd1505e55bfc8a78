"""The scheme page: thresholds as one field per score (read from and written to the JSON
lists), the ladder's minimums checked by the scheme service, read-only active schemes and
"Create a new draft version" only where it applies."""

from decimal import Decimal

import pytest
from django.urls import reverse

from grading.models import GradingScheme, SchemeGrade
from grading.services.schemes import scheme_revise
from tests.grading.factories import default_scheme, threshold_scheme

THRESHOLDS = {
    "r_threshold_5": 30,
    "r_threshold_4": 90,
    "r_threshold_3": 180,
    "r_threshold_2": 365,
    "f_threshold_2": 2,
    "f_threshold_3": 4,
    "f_threshold_4": 8,
    "f_threshold_5": 16,
    "m_threshold_2": "1000",
    "m_threshold_3": "5000",
    "m_threshold_4": "20000",
    "m_threshold_5": "100000",
}


def scheme_post(scheme: GradingScheme, **changes) -> dict:
    """The change form's POST data for `scheme` as stored, its ladder rungs included."""
    data = {
        "name": scheme.name,
        "description": scheme.description,
        "window_days": scheme.window_days,
        "rfm_method": scheme.rfm_method,
        "industry_priors": "{}",
        **THRESHOLDS,
    }
    for field in GradingScheme._meta.concrete_fields:
        if field.name.startswith(("weight_", "pyramid_")) or field.name in (
            "default_industry_prior",
            "referral_cap",
            "review_cap",
            "points_rate",
            "points_cap",
            "new_days",
            "dormant_days",
            "churn_days",
            "growth_ratio",
        ):
            data[field.name] = getattr(scheme, field.name)
    rungs = list(SchemeGrade.objects.filter(scheme=scheme).order_by("pk"))
    data.update(
        {
            "ladder-TOTAL_FORMS": len(rungs),
            "ladder-INITIAL_FORMS": len(rungs),
            "ladder-MIN_NUM_FORMS": 0,
            "ladder-MAX_NUM_FORMS": 1000,
        }
    )
    for i, rung in enumerate(rungs):
        for name in (
            "grade",
            "min_score",
            "min_frequency",
            "min_monetary",
            "hysteresis",
            "cadence",
            "warn_after",
            "downgrade_after",
        ):
            value = getattr(rung, f"{name}_id" if name == "grade" else name)
            data[f"ladder-{i}-{name}"] = value
        if rung.downgrade_needs_review:
            data[f"ladder-{i}-downgrade_needs_review"] = "on"
        data[f"ladder-{i}-id"] = rung.pk
        data[f"ladder-{i}-scheme"] = scheme.pk
    data.update(changes)
    return data


def _rung_index(scheme: GradingScheme, code: str) -> int:
    pks = list(SchemeGrade.objects.filter(scheme=scheme).order_by("pk"))
    return next(i for i, rung in enumerate(pks) if rung.grade.code == code)


@pytest.fixture
def draft(db):
    return threshold_scheme("draft-edit")


@pytest.mark.django_db
def test_threshold_fields_show_the_stored_lists_or_the_defaults(client, ops, draft):
    empty = GradingScheme.objects.create(name="empty-thresholds")
    client.force_login(ops)

    stored = client.get(reverse("admin:grading_gradingscheme_change", args=[draft.pk]))
    defaults = client.get(reverse("admin:grading_gradingscheme_change", args=[empty.pk]))

    form = stored.context["adminform"].form
    assert {name: form[name].value() for name in THRESHOLDS} == {
        **THRESHOLDS,
        "m_threshold_2": "1000",
    }
    assert 'name="r_thresholds"' not in stored.content.decode()  # no raw JSON
    default_form = defaults.context["adminform"].form
    assert [default_form[f"m_threshold_{s}"].value() for s in (2, 3, 4, 5)] == [
        Decimal("1000.00"),
        Decimal("5000.00"),
        Decimal("20000.00"),
        Decimal("100000.00"),
    ]
    assert default_form["r_threshold_5"].value() == 30


@pytest.mark.django_db
def test_edited_thresholds_are_saved_back_to_the_json_lists(client, ops, draft):
    client.force_login(ops)
    url = reverse("admin:grading_gradingscheme_change", args=[draft.pk])

    response = client.post(
        url, scheme_post(draft, r_threshold_5=14, f_threshold_5=20, m_threshold_2="1500.50")
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    draft.refresh_from_db()
    assert draft.r_thresholds == [14, 90, 180, 365]
    assert draft.f_thresholds == [2, 4, 8, 20]
    assert draft.m_thresholds == ["1500.50", "5000", "20000", "100000"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"f_threshold_4": 4},
            "f_threshold_4",
            "Frequency (orders in the window): the threshold for score 4 (4) must be higher "
            "than the one for score 3 (4).",
        ),
        (
            {"r_threshold_3": ""},
            "r_threshold_3",
            "Recency (days since the last order): enter the threshold for score 3.",
        ),
        (
            {"m_threshold_5": "-5"},
            "m_threshold_5",
            "Monetary (net purchases in the window): the threshold for score 5 (-5) must be 0 or "
            "more.",
        ),
    ],
)
def test_thresholds_that_do_not_rise_or_are_missing_are_refused_naming_the_score(
    client, ops, draft, changes, field, message
):
    client.force_login(ops)
    url = reverse("admin:grading_gradingscheme_change", args=[draft.pk])

    response = client.post(url, scheme_post(draft, **changes))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [message]
    draft.refresh_from_db()
    assert draft.f_thresholds == [2, 4, 8, 16]
    assert draft.r_thresholds == [30, 90, 180, 365]


@pytest.mark.django_db
def test_ladder_minimums_that_do_not_rise_with_the_grade_are_refused_naming_the_grade(
    client, ops, draft
):
    client.force_login(ops)
    url = reverse("admin:grading_gradingscheme_change", args=[draft.pk])
    growth = _rung_index(draft, "growth")
    basic = _rung_index(draft, "basic")

    too_high = client.post(url, scheme_post(draft, **{f"ladder-{growth}-min_score": "60"}))
    missing = client.post(url, scheme_post(draft, **{f"ladder-{basic}-min_score": ""}))

    assert too_high.status_code == missing.status_code == 200
    high_errors = too_high.context["inline_admin_formsets"][0].formset.forms[growth].errors
    assert high_errors["min_score"] == [
        "Growth: the minimum score (60) must be lower than that of the higher grade Key (55)."
    ]
    missing_errors = missing.context["inline_admin_formsets"][0].formset.forms[basic].errors
    assert missing_errors["min_score"] == ["Basic: enter a minimum score."]
    assert SchemeGrade.objects.get(scheme=draft, grade__code="growth").min_score == 25


@pytest.mark.django_db
def test_active_scheme_shows_its_thresholds_read_only_and_offers_a_new_draft(client, ops):
    active = default_scheme()
    client.force_login(ops)
    url = reverse("admin:grading_gradingscheme_change", args=[active.pk])

    page = client.get(url).content.decode()
    edit = client.post(url, scheme_post(active))

    assert 'name="r_threshold_5"' not in page
    assert 'name="_save"' not in page
    assert "score 5: 30 · score 4: 90 · score 3: 180 · score 2: 365" in page
    assert "score 2: ¥1,000.00 · score 3: ¥5,000.00" in page
    assert reverse("admin:grading_gradingscheme_revise_scheme", args=[active.pk]) in page
    assert "Create a new draft version" in page
    assert edit.status_code == 403


@pytest.mark.django_db
def test_a_draft_is_not_offered_a_new_draft_version_and_cannot_be_revised(client, ops):
    draft = scheme_revise(scheme=default_scheme(), by=ops)
    client.force_login(ops)
    revise = reverse("admin:grading_gradingscheme_revise_scheme", args=[draft.pk])

    page = client.get(reverse("admin:grading_gradingscheme_change", args=[draft.pk]))
    attempt = client.post(revise)

    text = page.content.decode()
    assert revise not in text
    assert "Create a new draft version" not in text
    assert reverse("admin:grading_gradingscheme_open_what_if", args=[draft.pk]) in text
    assert attempt.status_code == 403
    assert GradingScheme.objects.filter(name="default").count() == 2


@pytest.mark.django_db
def test_new_draft_version_asks_then_copies_and_opens_the_draft(client, ops):
    active = default_scheme()
    client.force_login(ops)
    revise = reverse("admin:grading_gradingscheme_revise_scheme", args=[active.pk])

    confirm = client.get(revise)
    assert GradingScheme.objects.filter(name="default").count() == 1
    done = client.post(revise)

    assert 'data-testid="revise-confirmation"' in confirm.content.decode()
    draft = GradingScheme.objects.get(name="default", version=2)
    assert done.status_code == 302
    assert done.url == reverse("admin:grading_gradingscheme_change", args=[draft.pk])
    assert (draft.status, draft.based_on, draft.created_by) == ("draft", active, ops)
    assert SchemeGrade.objects.filter(scheme=draft).count() == 5


@pytest.mark.django_db
def test_what_if_button_opens_the_schemes_what_if_page(client, ops):
    client.force_login(ops)
    scheme = default_scheme()

    response = client.get(reverse("admin:grading_gradingscheme_open_what_if", args=[scheme.pk]))

    assert response.status_code == 302
    assert response.url == reverse("reports:what-if", args=[scheme.pk])


def test_the_scheme_page_shows_every_stored_field_but_the_raw_threshold_lists():
    from grading.admin.schemes import SCHEME_FIELDSETS

    shown = {
        name
        for _title, options in SCHEME_FIELDSETS
        for line in options["fields"]
        for name in (line if isinstance(line, tuple) else (line,))
    }
    stored = {f.name for f in GradingScheme._meta.concrete_fields} - {"id"}
    assert stored - shown == {"r_thresholds", "f_thresholds", "m_thresholds"}


@pytest.mark.django_db
def test_a_new_scheme_starts_from_the_default_thresholds(client, ops):
    client.force_login(ops)

    page = client.get(reverse("admin:grading_gradingscheme_add"))

    form = page.context["adminform"].form
    assert page.status_code == 200
    assert [form[f"f_threshold_{s}"].value() for s in (2, 3, 4, 5)] == [2, 4, 8, 16]
    assert "Create a new draft version" not in page.content.decode()
