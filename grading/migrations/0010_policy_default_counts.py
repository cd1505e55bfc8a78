# Issue #17: the shipped ladder warned Strategic and Key after one quarter under target and
# proposed the downgrade after two, while the rule it implements ("连续两季度未达预期, 可启动预警
# 沟通 ... 若仍无改善, 则降级处理") starts the warning talk after two quarters and downgrades only
# if there is still no improvement. New defaults (DESIGN.md, "Grade policy"): quarterly grades
# warn after 2 reviews under target and propose after 3; monthly grades keep 1 and 2.
#
# Applied in place to the shipped default scheme, and only while its ladder is exactly the
# one migration 0002 shipped (no rung edited, none added or removed) and the scheme is not
# retired; each changed rung gets a history row saying why. A scheme someone has edited is
# left alone: the admin shows a notice offering a revised draft with the new numbers
# (grading.services.schemes.scheme_revise_with_default_counts).

from decimal import Decimal

from django.db import migrations
from django.utils import timezone

# code: (min_score, cadence, hysteresis, downgrade needs review), as migration 0002 shipped
# them, all with no gates, warn_after 1 and downgrade_after 2.
SHIPPED = {
    "strategic": (Decimal("70"), "quarterly", Decimal("2"), True),
    "key": (Decimal("55"), "quarterly", Decimal("2"), True),
    "growth": (Decimal("40"), "monthly", Decimal("1"), True),
    "standard": (Decimal("25"), "monthly", Decimal("0"), False),
    "basic": (Decimal("0"), "monthly", Decimal("0"), False),
}
OLD_COUNTS = (1, 2)
NEW_COUNTS = {"monthly": (1, 2), "quarterly": (2, 3)}
REASON = "Issue #17: quarterly grades warn after 2 reviews under target, propose after 3."


def _shipped_ladder(apps):
    """Return the default scheme's rungs if they are still the shipped ones, else None."""
    GradingScheme = apps.get_model("grading", "GradingScheme")
    SchemeGrade = apps.get_model("grading", "SchemeGrade")
    scheme = GradingScheme.objects.filter(name="default", version=1).first()
    if scheme is None or scheme.status == "retired":
        return None
    rungs = list(SchemeGrade.objects.filter(scheme=scheme).select_related("grade"))
    if {rung.grade.code for rung in rungs} != set(SHIPPED) or len(rungs) != len(SHIPPED):
        return None
    for rung in rungs:
        min_score, cadence, hysteresis, review = SHIPPED[rung.grade.code]
        shipped = (min_score, cadence, hysteresis, review, 0, Decimal("0"), *OLD_COUNTS)
        actual = (
            rung.min_score,
            rung.cadence,
            rung.hysteresis,
            rung.downgrade_needs_review,
            rung.min_frequency,
            rung.min_monetary,
            rung.warn_after,
            rung.downgrade_after,
        )
        if actual != shipped:
            return None
    return rungs


def _set_counts(apps, rungs, counts_for, reason):
    HistoricalSchemeGrade = apps.get_model("grading", "HistoricalSchemeGrade")
    now = timezone.now()
    for rung in rungs:
        warn_after, downgrade_after = counts_for(rung)
        if (rung.warn_after, rung.downgrade_after) == (warn_after, downgrade_after):
            continue
        rung.warn_after, rung.downgrade_after = warn_after, downgrade_after
        rung.save(update_fields=["warn_after", "downgrade_after"])
        HistoricalSchemeGrade.objects.create(
            id=rung.pk,
            scheme_id=rung.scheme_id,
            grade_id=rung.grade_id,
            min_score=rung.min_score,
            min_frequency=rung.min_frequency,
            min_monetary=rung.min_monetary,
            hysteresis=rung.hysteresis,
            cadence=rung.cadence,
            warn_after=warn_after,
            downgrade_after=downgrade_after,
            downgrade_needs_review=rung.downgrade_needs_review,
            history_date=now,
            history_type="~",
            history_change_reason=reason,
        )


def forwards(apps, schema_editor):
    rungs = _shipped_ladder(apps)
    if rungs is not None:
        _set_counts(apps, rungs, lambda rung: NEW_COUNTS[rung.cadence], REASON)


def backwards(apps, schema_editor):
    GradingScheme = apps.get_model("grading", "GradingScheme")
    SchemeGrade = apps.get_model("grading", "SchemeGrade")
    scheme = GradingScheme.objects.filter(name="default", version=1).first()
    if scheme is None:
        return
    # Only the rungs this migration set (quarterly, shipped codes, still at the new numbers).
    rungs = [
        rung
        for rung in SchemeGrade.objects.filter(scheme=scheme, cadence="quarterly").select_related(
            "grade"
        )
        if rung.grade.code in SHIPPED
        and (rung.warn_after, rung.downgrade_after) == NEW_COUNTS["quarterly"]
    ]
    _set_counts(apps, rungs, lambda rung: OLD_COUNTS, "Issue #17 reverted (migration 0010).")


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0009_customergrade_pinned"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
