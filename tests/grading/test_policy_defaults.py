"""The policy's default counts (issue #17) and the one cadence: migration 0010 on the shipped
default scheme, the admin notice and its revised draft, new ladder rungs, the Grades list."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse

from grading.models import Grade, GradingScheme, SchemeGrade
from grading.selectors import scheme_rungs_with_outdated_counts
from grading.services.schemes import scheme_revise, scheme_revise_with_default_counts
from tests.grading.factories import default_scheme

migration = importlib.import_module("grading.migrations.0010_policy_default_counts")


def counts(scheme) -> dict[str, tuple[str, int, int]]:
    return {
        code: (cadence, warn, down)
        for code, cadence, warn, down in SchemeGrade.objects.filter(scheme=scheme).values_list(
            "grade__code", "cadence", "warn_after", "downgrade_after"
        )
    }


NEW = {
    "strategic": ("quarterly", 2, 3),
    "key": ("quarterly", 2, 3),
    "growth": ("monthly", 1, 2),
    "standard": ("monthly", 1, 2),
    "basic": ("monthly", 1, 2),
}


def shipped_counts(scheme) -> None:
    """Put the default scheme back to the counts migration 0002 shipped (1 and 2)."""
    SchemeGrade.objects.filter(scheme=scheme).update(warn_after=1, downgrade_after=2)


@pytest.mark.django_db
def test_the_migrated_default_scheme_has_the_new_default_counts():
    assert counts(default_scheme()) == NEW
    assert not scheme_rungs_with_outdated_counts(scheme=default_scheme())


@pytest.mark.django_db
def test_migration_updates_an_untouched_default_scheme_with_a_history_row():
    scheme = default_scheme()
    shipped_counts(scheme)

    migration.forwards(apps, None)

    assert counts(scheme) == NEW
    # Each changed rung's history says why (a migration writes these rows itself).
    reasons = SchemeGrade.history.filter(scheme=scheme, history_change_reason__contains="#17")
    assert set(reasons.values_list("grade__code", flat=True)) == {"strategic", "key"}

    migration.backwards(apps, None)
    assert {code: c[1:] for code, c in counts(scheme).items()} == dict.fromkeys(NEW, (1, 2))


@pytest.mark.parametrize(
    "edit",
    [
        {"min_score": Decimal("60")},
        {"hysteresis": Decimal("3")},
        {"min_frequency": 6},
        {"downgrade_needs_review": False},
    ],
)
@pytest.mark.django_db
def test_migration_leaves_an_edited_default_scheme_alone(edit):
    scheme = default_scheme()
    shipped_counts(scheme)
    SchemeGrade.objects.filter(scheme=scheme, grade__code="growth").update(**edit)

    migration.forwards(apps, None)

    assert {code: c[1:] for code, c in counts(scheme).items()} == dict.fromkeys(NEW, (1, 2))
    assert [r.grade.code for r in scheme_rungs_with_outdated_counts(scheme=scheme)] == [
        "strategic",
        "key",
    ]


@pytest.mark.django_db
def test_migration_leaves_a_retired_default_scheme_alone(ops):
    scheme = default_scheme()
    shipped_counts(scheme)
    GradingScheme.objects.filter(pk=scheme.pk).update(status=GradingScheme.Status.RETIRED)

    migration.forwards(apps, None)

    assert counts(scheme)["key"] == ("quarterly", 1, 2)


@pytest.mark.django_db
def test_revised_draft_gets_the_new_counts_and_the_source_is_untouched(ops):
    scheme = default_scheme()
    shipped_counts(scheme)
    SchemeGrade.objects.filter(scheme=scheme, grade__code="key").update(min_score=Decimal("58"))

    draft = scheme_revise_with_default_counts(scheme=scheme, by=ops)

    assert (draft.status, draft.version, draft.based_on_id) == ("draft", 2, scheme.pk)
    assert counts(draft) == NEW
    assert SchemeGrade.objects.get(scheme=draft, grade__code="key").min_score == Decimal("58")
    assert counts(scheme)["key"] == ("quarterly", 1, 2)
    assert SchemeGrade.history.filter(scheme=draft, history_user=ops).exists()


@pytest.mark.django_db
def test_admin_notice_offers_a_revised_draft_for_outdated_quarterly_counts(client, ops):
    scheme = default_scheme()
    url = reverse("admin:grading_gradingscheme_change", args=[scheme.pk])
    client.force_login(ops)
    assert 'data-testid="outdated-counts"' not in client.get(url).content.decode()

    shipped_counts(scheme)
    page = client.get(url).content.decode()
    assert 'data-testid="outdated-counts"' in page
    assert "The quarterly grades Strategic, Key still warn after 1 review" in page
    assert 'value="revise_with_default_counts"' in page

    response = client.post(
        reverse("admin:grading_gradingscheme_changelist"),
        {"action": "revise_with_default_counts", "index": 0, "_selected_action": [scheme.pk]},
    )

    draft = GradingScheme.objects.get(name="default", version=2)
    assert response.status_code == 302
    assert response.url == reverse("admin:grading_gradingscheme_change", args=[draft.pk])
    assert counts(draft) == NEW
    # The draft is editable: the notice says so instead of offering another draft.
    SchemeGrade.objects.filter(scheme=draft, grade__code="key").update(
        warn_after=1, downgrade_after=2
    )
    draft_page = client.get(response.url).content.decode()
    assert "The quarterly grade Key still warns after 1 review" in draft_page
    assert 'value="revise_with_default_counts"' not in draft_page


def ladder_post(scheme, rows: list[dict]) -> dict:
    """The change form's POST data for a draft with `rows` as new ladder rungs."""
    data = {
        "name": scheme.name,
        "description": "",
        "window_days": 365,
        "rfm_method": "quintile",
        **{f"r_threshold_{s}": d for s, d in zip((5, 4, 3, 2), (30, 90, 180, 365), strict=True)},
        **{f"f_threshold_{s}": n for s, n in zip((2, 3, 4, 5), (2, 4, 8, 16), strict=True)},
        **{f"m_threshold_{s}": m for s, m in zip((2, 3, 4, 5), (1e3, 5e3, 2e4, 1e5), strict=True)},
        "industry_priors": "{}",
        "ladder-TOTAL_FORMS": len(rows),
        "ladder-INITIAL_FORMS": 0,
        "ladder-MIN_NUM_FORMS": 0,
        "ladder-MAX_NUM_FORMS": 1000,
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
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"ladder-{i}-{key}"] = value
        data[f"ladder-{i}-scheme"] = scheme.pk
    return data


@pytest.mark.django_db
def test_a_new_rung_left_without_counts_takes_its_cadence_defaults(client, ops):
    draft = GradingScheme.objects.create(name="draft-ladder")
    grades = {g.code: g.pk for g in Grade.objects.all()}
    rows = [
        {"grade": grades["key"], "min_score": "55", "cadence": "quarterly"},
        {"grade": grades["growth"], "min_score": "40", "cadence": "monthly"},
        {
            "grade": grades["strategic"],
            "min_score": "70",
            "cadence": "quarterly",
            "warn_after": "0",
            "downgrade_after": "4",
        },
    ]
    for row in rows:
        row.update(min_frequency=0, min_monetary="0", hysteresis="0")
        row.setdefault("warn_after", "")
        row.setdefault("downgrade_after", "")
    client.force_login(ops)
    url = reverse("admin:grading_gradingscheme_change", args=[draft.pk])

    response = client.post(url, ladder_post(draft, rows))

    assert response.status_code == 302, response.context and response.context.get("errors")
    assert counts(draft) == {
        "key": ("quarterly", 2, 3),
        "growth": ("monthly", 1, 2),
        "strategic": ("quarterly", 0, 4),
    }


@pytest.mark.django_db
def test_grades_list_shows_the_active_schemes_cadence(client, ops, django_assert_max_num_queries):
    draft = scheme_revise(scheme=default_scheme(), by=ops)
    SchemeGrade.objects.filter(scheme=draft).update(cadence="monthly")  # a draft: not shown
    client.force_login(ops)

    with django_assert_max_num_queries(12):
        page = client.get(reverse("admin:grading_grade_changelist")).content.decode()

    assert "Review cadence (active scheme)" in page
    assert page.count(">Quarterly<") == 2  # Strategic and Key
    assert page.count(">Monthly<") == 3
