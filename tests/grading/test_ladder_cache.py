"""The published ladder and the grades' names come from the cache until their rows change
(grading.selectors.LADDER_VERSION): every change an operator can make shows on the next
page, and the same checks fail when the receiver that replaces the version is gone.

Transactional: a value read inside a transaction is never cached (common.versions).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import translation

from benefits.models import Benefit, GradeBenefit
from grading.handlers import ladder_changed
from grading.models import Grade, GradingScheme, SchemeGrade
from grading.services.schemes import scheme_activate, scheme_revise
from manager.selectors import grade_choices
from portal.selectors import ladder_published
from tests.benefits.factories import BenefitFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def rung(code: str):
    return next(r for r in ladder_published() if r.grade.code == code)


def rename_key() -> Callable[[], bool]:
    key = Grade.objects.get(code="key")
    with translation.override("en"):
        key.name = "Key account"  # the English column (modeltranslation)
    key.save()
    return lambda: rung("key").grade.name == "Key account"


def raise_a_threshold() -> Callable[[], bool]:
    step = SchemeGrade.objects.get(scheme__status=GradingScheme.Status.ACTIVE, grade__code="key")
    step.min_score = Decimal("71.5")
    step.save()
    return lambda: rung("key").min_score == Decimal("71.5")


def activate_a_revision() -> Callable[[], bool]:
    active = GradingScheme.objects.get(status=GradingScheme.Status.ACTIVE)
    draft = scheme_revise(scheme=active, by=None)
    SchemeGrade.objects.filter(scheme=draft, grade__code="key").update(min_score=Decimal("66"))
    scheme_activate(scheme=draft, by=None)
    return lambda: rung("key").min_score == Decimal("66")


def switch_a_benefit_off() -> Callable[[], bool]:
    benefit = Benefit.objects.get(code="lounge")
    benefit.is_active = False
    benefit.save()
    return lambda: "lounge" not in {b.code for b in rung("key").benefits}


def give_a_grade_a_benefit() -> Callable[[], bool]:
    # The admin's form saves the grades of a benefit with `set()`: no row is saved.
    Benefit.objects.get(code="lounge").grades.set(Grade.objects.filter(code="strategic"))
    return lambda: "lounge" in {b.code for b in rung("strategic").benefits}


def unlink_a_benefit() -> Callable[[], bool]:
    GradeBenefit.objects.get(benefit__code="lounge").delete()
    return lambda: "lounge" not in {b.code for b in rung("key").benefits}


CHANGES = [
    rename_key,
    raise_a_threshold,
    activate_a_revision,
    switch_a_benefit_off,
    give_a_grade_a_benefit,
    unlink_a_benefit,
]


@pytest.fixture
def lounge():
    return BenefitFactory(code="lounge", grades=["key"])


@pytest.fixture
def receivers_removed():
    """The mutant twin: nothing replaces the ladder's version when its rows change."""
    signals = (post_save, post_delete, m2m_changed)
    removed = [
        (signal, sender)
        for signal in signals
        for sender in (Grade, GradingScheme, SchemeGrade, Benefit, GradeBenefit)
        if signal.disconnect(ladder_changed, sender=sender, dispatch_uid=uid(signal, sender))
    ]
    assert removed
    yield
    for signal, sender in removed:
        signal.connect(ladder_changed, sender=sender, dispatch_uid=uid(signal, sender))


def uid(signal, sender) -> str:
    kind = {post_save: "save", post_delete: "delete", m2m_changed: "m2m"}[signal]
    return f"ladder-{kind}-{sender._meta.label_lower}"


def test_the_ladder_is_read_once_then_comes_from_the_cache(lounge, django_assert_num_queries):
    ladder_published()
    with django_assert_num_queries(0):
        ladder = ladder_published()

    assert ladder[0].grade.code == "strategic"
    assert "lounge" in {b.code for b in rung("key").benefits}


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.__name__)
def test_every_change_to_the_ladder_shows_on_the_next_read(lounge, change):
    ladder_published()  # cached

    assert change()()


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.__name__)
def test_without_the_receivers_the_same_checks_fail(lounge, receivers_removed, change):
    ladder_published()

    assert not change()()


def test_the_queue_s_grade_names_are_kept_per_language_and_follow_a_rename(
    django_assert_num_queries,
):
    with translation.override("zh-hans"):
        chinese = dict(grade_choices())
    english = dict(grade_choices())
    with django_assert_num_queries(0):
        assert dict(grade_choices()) == english
    assert english["key"] != chinese["key"]

    key = Grade.objects.get(code="key")
    key.name_en = "Key account"
    key.save()

    assert dict(grade_choices())["key"] == "Key account"


def test_a_customer_s_entitlements_follow_the_cached_catalog(lounge):
    from benefits.selectors import entitlement_list_for_customer
    from tests.benefits.factories import set_grade
    from tests.customers.factories import CustomerFactory

    customer = CustomerFactory()
    set_grade(customer, "key")
    key = Grade.objects.get(code="key")

    def entitled() -> set[str]:
        return {e.benefit.code for e in entitlement_list_for_customer(customer=customer)}

    assert "lounge" in entitled()
    assert entitlement_list_for_customer(customer=customer, grade=key) == (
        entitlement_list_for_customer(customer=customer)
    )

    switch_a_benefit_off()

    assert "lounge" not in entitled()
