"""Grading scheme versions: activate a draft, revise any version into a new draft, retire.

A scheme moves draft -> active -> retired (or draft -> retired). Active and retired schemes
are never edited in place, so every past run stays explainable by the scheme it used;
changing one means `scheme_revise` and activating the new draft.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from grading.exceptions import InvalidSchemeLadder, SchemeConflict, SchemeNotDraft
from grading.models import GradingScheme, SchemeGrade
from grading.pipeline.rules import scheme_rules
from grading.policy import default_counts
from grading.selectors import scheme_rungs_with_outdated_counts

#: Fields a revision does not copy: identity, lifecycle and bookkeeping.
_NOT_COPIED = frozenset(
    {
        "id",
        "version",
        "status",
        "based_on",
        "created_by",
        "created_at",
        "activated_at",
        "retired_at",
    }
)


def scheme_validate(*, scheme: GradingScheme) -> None:
    """Raise InvalidSchemeLadder unless `scheme` can grade a population.

    Uses the pipeline's own reading of the scheme (`grading.pipeline.rules.scheme_rules`),
    so what passes here is exactly what a run accepts: at least one grade, unique ranks and codes,
    valid cadences and counters, valid weights. On top of that one grade must have
    `min_score` 0, so every customer qualifies for some grade.
    """
    try:
        rules = scheme_rules(scheme)
    except ValueError as exc:
        raise InvalidSchemeLadder(
            _("The scheme cannot grade customers: %(problem)s") % {"problem": exc}
        ) from exc
    if not any(rule.min_score == 0 for rule in rules.ladder):
        raise InvalidSchemeLadder(
            _(
                "The scheme cannot grade customers: one grade needs a minimum score of 0 "
                "so that every customer qualifies for a grade."
            )
        )


def scheme_activate(*, scheme: GradingScheme, by: User | None) -> GradingScheme:
    """Make the draft `scheme` the active one and retire the current one, in one transaction.

    Only a DRAFT with a valid ladder (`scheme_validate`) can be activated. The active row is
    locked first, then the draft; the old one is retired before the new one is activated
    because the `scheme_one_active` constraint allows a single active row at any moment.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            return _activate(scheme=scheme, by=by, now=now)
    except IntegrityError as exc:
        # A concurrent activation committed between our lock and our update: the partial
        # unique constraint kept one active scheme; this attempt changes nothing.
        raise SchemeConflict(
            _("Another scheme was activated at the same moment; reload and try again.")
        ) from exc


def _activate(*, scheme: GradingScheme, by: User | None, now: dt.datetime) -> GradingScheme:
    """Retire the active scheme and activate the draft `scheme` (inside the caller's atomic)."""
    current = list(
        GradingScheme.objects.select_for_update()
        .filter(status=GradingScheme.Status.ACTIVE)
        .exclude(pk=scheme.pk)
        .order_by("pk")
    )
    draft = GradingScheme.objects.select_for_update().get(pk=scheme.pk)
    if draft.status != GradingScheme.Status.DRAFT:
        raise SchemeNotDraft(
            _("Only a draft can be activated; %(scheme)s is not one.") % {"scheme": draft}
        )
    scheme_validate(scheme=draft)
    for active in current:
        active.status = GradingScheme.Status.RETIRED
        active.retired_at = now
        active._history_user = by  # type: ignore[attr-defined]  # simple_history's actor
        active.save(update_fields=["status", "retired_at"])
    draft.status = GradingScheme.Status.ACTIVE
    draft.activated_at = now
    draft._history_user = by  # type: ignore[attr-defined]  # simple_history's actor
    draft.save(update_fields=["status", "activated_at"])
    return draft


def scheme_revise(*, scheme: GradingScheme, by: User | None) -> GradingScheme:
    """Copy `scheme` (any status) and its ladder into a new DRAFT; return the draft.

    The draft is the next version of the name (highest version + 1), `based_on` the source
    and `created_by` `by`. Every version of the name is locked first, so two revisions at
    once get consecutive numbers instead of a unique-constraint error.
    """
    with transaction.atomic():
        versions = list(
            GradingScheme.objects.select_for_update()
            .filter(name=scheme.name)
            .order_by("pk")
            .values_list("version", flat=True)
        )
        source = GradingScheme.objects.get(pk=scheme.pk)
        draft = GradingScheme(
            **{
                field.attname: getattr(source, field.attname)
                for field in GradingScheme._meta.concrete_fields
                if field.name not in _NOT_COPIED
            },
            version=max(versions, default=0) + 1,
            status=GradingScheme.Status.DRAFT,
            based_on=source,
            created_by=by,
        )
        draft._history_user = by  # type: ignore[attr-defined]  # simple_history's actor
        draft.save()
        rungs = [
            SchemeGrade(
                **{
                    field.attname: getattr(rung, field.attname)
                    for field in SchemeGrade._meta.concrete_fields
                    if field.name not in ("id", "scheme")
                },
                scheme=draft,
            )
            for rung in SchemeGrade.objects.filter(scheme=source).order_by("pk")
        ]
        bulk_create_with_history(rungs, SchemeGrade, default_user=by)
    return draft


def scheme_revise_with_default_counts(*, scheme: GradingScheme, by: User | None) -> GradingScheme:
    """Revise `scheme` into a new draft whose outdated quarterly rungs get the new defaults.

    The rungs `scheme_rungs_with_outdated_counts` names (quarterly, warning after 1 review
    under target and proposing after 2) warn after 2 and propose after 3 in the draft
    (`grading.policy.DEFAULT_COUNTS`); every other field is copied as `scheme_revise` does.
    The draft is returned for review; nothing changes until someone activates it.
    """
    with transaction.atomic():
        draft = scheme_revise(scheme=scheme, by=by)
        grades = [rung.grade_id for rung in scheme_rungs_with_outdated_counts(scheme=scheme)]
        rungs = list(SchemeGrade.objects.filter(scheme=draft, grade_id__in=grades).order_by("pk"))
        for rung in rungs:
            rung.warn_after, rung.downgrade_after = default_counts(rung.cadence)
            rung._history_user = by  # type: ignore[attr-defined]  # simple_history's actor
            rung._change_reason = "New default counts (issue #17)"  # type: ignore[attr-defined]
            rung.save(update_fields=["warn_after", "downgrade_after"])
    return draft


def scheme_retire(*, scheme: GradingScheme, by: User | None) -> GradingScheme:
    """Retire `scheme` (a draft nobody wants, or the active one); a retired one is a no-op.

    Retiring the active scheme leaves none active: grading runs refuse to start
    (NoActiveScheme) until another draft is activated.
    """
    with transaction.atomic():
        locked = GradingScheme.objects.select_for_update().get(pk=scheme.pk)
        if locked.status == GradingScheme.Status.RETIRED:
            return locked
        locked.status = GradingScheme.Status.RETIRED
        locked.retired_at = timezone.now()
        locked._history_user = by  # type: ignore[attr-defined]  # simple_history's actor
        locked.save(update_fields=["status", "retired_at"])
    return locked
