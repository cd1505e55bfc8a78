"""Grading scheme versions: activate a draft, revise any version into a new draft, retire.

A scheme moves draft -> active -> retired (or draft -> retired). Active and retired schemes
are never edited in place, so every past run stays explainable by the scheme it used;
changing one means `scheme_revise` and activating the new draft.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import bulk_create_with_history

from common import formatting
from grading.exceptions import InvalidSchemeLadder, SchemeConflict, SchemeNotDraft
from grading.models import Grade, GradingScheme, SchemeGrade
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


#: The R/F/M score each stored threshold is for, in stored order (docs/grading.md): recency
#: lists the days for scores 5, 4, 3, 2; frequency and monetary the floors of scores 2 to 5.
THRESHOLD_SCORES: Mapping[str, tuple[int, ...]] = {
    "r_thresholds": (5, 4, 3, 2),
    "f_thresholds": (2, 3, 4, 5),
    "m_thresholds": (2, 3, 4, 5),
}
#: The dimension each threshold list belongs to, as people name it.
THRESHOLD_DIMENSIONS: Mapping[str, Promise] = {
    "r_thresholds": gettext_lazy("Recency (days since the last order)"),
    "f_thresholds": gettext_lazy("Frequency (orders in the window)"),
    "m_thresholds": gettext_lazy("Monetary (net purchases in the window)"),
}
#: Thresholds the scoring reads as whole numbers (days, orders); monetary takes cents.
_WHOLE_THRESHOLDS = frozenset({"r_thresholds", "f_thresholds"})


@dataclass(frozen=True)
class SchemeProblem:
    """One reason a scheme cannot grade, in words: which field, which position in it, why.

    `position` is the index in the threshold list (`THRESHOLD_SCORES`) or in the rungs given
    to `scheme_ladder_problems`, so a form can put the message next to the field at fault.
    """

    field: str
    position: int
    message: str


def _number(value: Decimal) -> str:
    """Return `value` as people write it in the active language, without trailing zeros."""
    places = max(0, -int(value.normalize().as_tuple().exponent))
    return formatting.number(value, places)


def _decimal(value: Any) -> Decimal | None:
    """Return a stored or entered threshold as a finite Decimal; None when it is not one."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def scheme_threshold_problems(*, thresholds: Mapping[str, Sequence[Any]]) -> list[SchemeProblem]:
    """Return what is wrong with a scheme's fixed R/F/M thresholds (none: they can grade).

    `thresholds` maps "r_thresholds", "f_thresholds", "m_thresholds" to their four values in
    stored order (`THRESHOLD_SCORES`); an empty list means the defaults and is fine. Each
    value must be given, a number of 0 or more (whole for days and orders), and higher than
    the one before it: a threshold equal to the previous one would make a score unreachable.
    The scoring package accepts equal values; the scheme is stricter on purpose.
    """
    problems: list[SchemeProblem] = []
    for field, scores in THRESHOLD_SCORES.items():
        values = list(thresholds.get(field) or [])
        if not values:
            continue
        values += [None] * (len(scores) - len(values))
        dimension = THRESHOLD_DIMENSIONS[field]
        previous: tuple[int, Decimal] | None = None
        for position, (score, raw) in enumerate(zip(scores, values, strict=False)):
            value = _decimal(raw)
            context = {"dimension": dimension, "score": score}
            if value is None:
                message = _("%(dimension)s: enter the threshold for score %(score)s.") % context
            elif value < 0 or (field in _WHOLE_THRESHOLDS and value != value.to_integral()):
                context["value"] = _number(value)
                message = (
                    _(
                        "%(dimension)s: the threshold for score %(score)s (%(value)s) must be "
                        "a whole number of 0 or more."
                    )
                    if field in _WHOLE_THRESHOLDS
                    else _(
                        "%(dimension)s: the threshold for score %(score)s (%(value)s) must be "
                        "0 or more."
                    )
                ) % context
            elif previous is not None and value <= previous[1]:
                message = _(
                    "%(dimension)s: the threshold for score %(score)s (%(value)s) must be "
                    "higher than the one for score %(previous)s (%(previous_value)s)."
                ) % {
                    **context,
                    "value": _number(value),
                    "previous": previous[0],
                    "previous_value": _number(previous[1]),
                }
            else:
                previous = (score, value)
                continue
            problems.append(SchemeProblem(field=field, position=position, message=message))
            if value is not None:
                previous = (score, value)
        if len(values) > len(scores):
            problems.append(
                SchemeProblem(
                    field=field,
                    position=len(scores),
                    message=_(
                        "%(dimension)s: give one threshold for each of the scores %(scores)s."
                    )
                    % {"dimension": dimension, "scores": ", ".join(str(s) for s in scores)},
                )
            )
    return problems


def scheme_ladder_problems(*, rungs: Sequence[tuple[Grade, Any]]) -> list[SchemeProblem]:
    """Return what is wrong with the minimum scores of a ladder's rungs (grade, min_score).

    Every rung needs a minimum score, and a higher grade (by rank) a higher one than every
    grade below it: a customer gets the highest grade whose minimum their composite reaches,
    so a lower grade asking as much or more could never be given. `position` in each
    problem is the rung's index in `rungs`.
    """
    problems: list[SchemeProblem] = []
    scored: list[tuple[int, Grade, Decimal]] = []
    for position, (grade, raw) in enumerate(rungs):
        value = _decimal(raw)
        if value is None:
            problems.append(
                SchemeProblem(
                    field="min_score",
                    position=position,
                    message=_("%(grade)s: enter a minimum score.") % {"grade": grade.name},
                )
            )
        else:
            scored.append((position, grade, value))
    scored.sort(key=lambda item: item[1].rank, reverse=True)
    for (_position, higher, higher_value), (position, grade, value) in itertools.pairwise(scored):
        if value >= higher_value:
            problems.append(
                SchemeProblem(
                    field="min_score",
                    position=position,
                    message=_(
                        "%(grade)s: the minimum score (%(value)s) must be lower than that of the "
                        "higher grade %(higher)s (%(higher_value)s)."
                    )
                    % {
                        "grade": grade.name,
                        "value": _number(value),
                        "higher": higher.name,
                        "higher_value": _number(higher_value),
                    },
                )
            )
    return problems


def scheme_validate(*, scheme: GradingScheme) -> None:
    """Raise InvalidSchemeLadder unless `scheme` can grade a population.

    Uses the pipeline's own reading of the scheme (`grading.pipeline.rules.scheme_rules`),
    so what passes here is exactly what a run accepts: at least one grade, unique ranks and codes,
    valid cadences and counters, valid weights. On top of that: the fixed R/F/M thresholds
    rise score by score (`scheme_threshold_problems`), a higher grade needs a higher minimum
    score (`scheme_ladder_problems`), and one grade has `min_score` 0, so every customer
    qualifies for some grade. The admin's scheme form runs the same two checks on its input.
    """
    problems = scheme_threshold_problems(
        thresholds={field: getattr(scheme, field) for field in THRESHOLD_SCORES}
    ) + scheme_ladder_problems(
        rungs=[
            (rung.grade, rung.min_score)
            for rung in SchemeGrade.objects.filter(scheme=scheme).select_related("grade")
        ]
    )
    if problems:
        raise InvalidSchemeLadder(
            _("The scheme cannot grade customers: %(problem)s")
            % {"problem": " ".join(problem.message for problem in problems)}
        )
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


def scheme_provisional_upgrades_set(
    *, scheme: GradingScheme, enabled: bool, by: User | None
) -> GradingScheme:
    """Turn `scheme`'s provisional upgrades on or off, whatever its status; return it.

    Unlike the scoring fields, the setting changes no score and no grade a run computes,
    only whether an order can upgrade a customer before the period's run
    (`grading.services.provisional`), so it needs no new version: the demo turns it on for
    the active scheme. Drafts edit it on the scheme's form. Recorded in the scheme's history.
    """
    with transaction.atomic():
        locked = GradingScheme.objects.select_for_update().get(pk=scheme.pk)
        if locked.provisional_upgrades == enabled:
            return locked
        locked.provisional_upgrades = enabled
        locked._history_user = by  # type: ignore[attr-defined]  # simple_history's actor
        locked.save(update_fields=["provisional_upgrades"])
    return locked
