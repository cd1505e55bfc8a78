"""Scheme versions: a draft is activated only with a valid ladder and replaces the active
scheme in one step; revising copies a scheme and its ladder into the next draft version."""

import datetime as dt
from decimal import Decimal

import pytest

from grading.exceptions import InvalidSchemeLadder, NoActiveScheme, SchemeNotDraft
from grading.models import GradingScheme, SchemeGrade
from grading.selectors import scheme_get_active
from grading.services.runs import grading_run_execute
from grading.services.schemes import scheme_activate, scheme_retire, scheme_revise
from tests.customers.factories import CustomerFactory
from tests.grading.factories import default_scheme

LADDER_FIELDS = (
    "grade_id",
    "min_score",
    "min_frequency",
    "min_monetary",
    "hysteresis",
    "cadence",
    "warn_after",
    "downgrade_after",
    "downgrade_needs_review",
)
SCHEME_NOT_COPIED = {
    "id",
    "version",
    "status",
    "based_on_id",
    "created_by_id",
    "created_at",
    "activated_at",
    "retired_at",
}


def _fields(scheme):
    return {
        f.attname: getattr(scheme, f.attname)
        for f in GradingScheme._meta.concrete_fields
        if f.attname not in SCHEME_NOT_COPIED
    }


def _ladder(scheme):
    return sorted(SchemeGrade.objects.filter(scheme=scheme).values_list(*LADDER_FIELDS))


@pytest.mark.django_db
def test_revise_copies_every_field_and_the_ladder_into_the_next_draft(ops):
    active = default_scheme()
    GradingScheme.objects.filter(pk=active.pk).update(
        window_days=180, industry_priors={"retail": 0.7}
    )
    active.refresh_from_db()

    draft = scheme_revise(scheme=active, by=ops)

    assert (draft.name, draft.version, draft.status) == ("default", 2, "draft")
    assert (draft.based_on, draft.created_by) == (active, ops)
    assert (draft.activated_at, draft.retired_at) == (None, None)
    assert _fields(draft) == _fields(active)
    assert _ladder(draft) == _ladder(active)
    assert len(_ladder(draft)) == 5
    active.refresh_from_db()
    assert active.status == "active"  # revising never touches the source


@pytest.mark.django_db
def test_revising_an_old_version_takes_the_next_free_number(ops):
    v1 = default_scheme()
    scheme_revise(scheme=v1, by=ops)

    v3 = scheme_revise(scheme=v1, by=ops)

    assert v3.version == 3
    assert v3.based_on == v1


@pytest.mark.django_db
def test_activate_swaps_the_active_scheme_and_runs_use_the_new_one(ops):
    old = default_scheme()
    draft = scheme_revise(scheme=old, by=ops)
    CustomerFactory()

    activated = scheme_activate(scheme=draft, by=ops)

    old.refresh_from_db()
    assert activated.status == "active"
    assert activated.activated_at is not None
    assert (old.status, old.retired_at is not None) == ("retired", True)
    assert scheme_get_active() == draft
    assert GradingScheme.objects.filter(status="active").count() == 1
    assert activated.history.first().history_user == ops
    assert grading_run_execute(as_of=dt.date(2026, 4, 1)).scheme == draft


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["active", "retired"])
def test_only_a_draft_can_be_activated(ops, status):
    scheme = scheme_revise(scheme=default_scheme(), by=ops)
    if status == "active":
        scheme = scheme_activate(scheme=scheme, by=ops)
    else:
        scheme = scheme_retire(scheme=scheme, by=ops)

    with pytest.raises(SchemeNotDraft):
        scheme_activate(scheme=scheme, by=ops)


def _no_ladder(scheme):
    SchemeGrade.objects.filter(scheme=scheme).delete()


def _nobody_qualifies_for_the_lowest(scheme):
    SchemeGrade.objects.filter(scheme=scheme, grade__code="basic").update(min_score=10)


def _negative_hysteresis(scheme):
    SchemeGrade.objects.filter(scheme=scheme, grade__code="key").update(hysteresis=-1)


def _all_rfm_weights_zero(scheme):
    GradingScheme.objects.filter(pk=scheme.pk).update(
        weight_r=Decimal(0), weight_f=Decimal(0), weight_m=Decimal(0)
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_no_ladder, "no grades"),
        (_nobody_qualifies_for_the_lowest, "minimum score of 0"),
        (_negative_hysteresis, "hysteresis"),
        (_all_rfm_weights_zero, "weights"),
    ],
)
def test_activate_refuses_a_scheme_that_cannot_grade_and_changes_nothing(ops, breakage, message):
    active = default_scheme()
    draft = scheme_revise(scheme=active, by=ops)
    breakage(draft)

    with pytest.raises(InvalidSchemeLadder) as error:
        scheme_activate(scheme=draft, by=ops)

    assert message in error.value.message
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert scheme_get_active() == active


@pytest.mark.django_db
def test_retire_is_idempotent_and_leaves_no_active_scheme(ops):
    active = default_scheme()

    retired = scheme_retire(scheme=active, by=ops)
    again = scheme_retire(scheme=active, by=ops)

    assert retired.status == again.status == "retired"
    assert again.retired_at == retired.retired_at
    with pytest.raises(NoActiveScheme):
        scheme_get_active()
