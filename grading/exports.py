"""Score exports: one row per customer with the docs/grading.md columns, from a finished run or,
when the period has not been graded, scored on the fly without writing anything."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.utils.translation import gettext as _

from common.exceptions import DomainError
from customers.models import Customer
from grading.archive import archive_frame
from grading.models import Grade, GradingRun, GradingScheme, ScoreSnapshot
from grading.pipeline import decide
from grading.pipeline.rules import scheme_rules

#: A customer's scores, in the order every export writes them.
SCORE_COLUMNS = (
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "rfm_label",
    "lifecycle",
    "pyramid",
    "historical",
    "potential",
    "cooperation",
    "composite",
)
EXPORT_COLUMNS = ("customer_code", *SCORE_COLUMNS, "grade")
_VALUE_COLUMNS = ("historical", "potential", "cooperation", "composite")
_CODE_COLUMNS = ("rfm_segment", "rfm_label", "lifecycle", "pyramid", "grade")


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["recency_days"] = out["recency_days"].astype("Int64")
    for column in _VALUE_COLUMNS:
        out[column] = out[column].map("{:.4f}".format)
    return out.sort_values("customer_code").loc[:, list(EXPORT_COLUMNS)].reset_index(drop=True)


def _archived_frame(run: GradingRun) -> pd.DataFrame:
    """The export rows of a run whose snapshots were archived, read from its Parquet file.

    The same rows as from the database: customers deleted since are left out (their snapshots
    went with them), codes are today's (as the database join gives them). A run whose
    snapshots were dropped unarchived has none: DomainError.
    """
    if not run.snapshots_archive:
        raise DomainError(
            _("The snapshots of %(run)s were dropped by retention and cannot be exported.")
            % {"run": run}
        )
    names = [c for c in SCORE_COLUMNS if c not in ("customer_code",)]
    try:
        snapshots = archive_frame(run, columns=["customer_id", *names, "computed_grade_id"])
    except OSError as exc:
        raise DomainError(
            _("The snapshot archive of %(run)s cannot be read (%(file)s): %(error)s")
            % {"run": run, "file": run.snapshots_archive, "error": exc}
        ) from exc
    codes = pd.DataFrame.from_records(
        list(Customer.objects.values_list("pk", "code")), columns=["customer_id", "customer_code"]
    )
    grades = dict(Grade.objects.values_list("pk", "code"))
    frame = snapshots.merge(codes, on="customer_id", how="inner")
    frame["grade"] = frame["computed_grade_id"].map(grades)
    frame["monetary"] = frame["monetary"].map("{:.2f}".format)
    return frame


def score_export_frame(*, as_of: dt.date, scheme: GradingScheme) -> tuple[pd.DataFrame, str]:
    """Return (frame, source): the export rows for `as_of` and the run's name or "computed".

    `grade` is the grade the scores earn (docs/grading.md, "Computed grade": the highest grade
    whose min_score the composite reaches, subject to its gates), before policy (hysteresis,
    pins) is applied.
    """
    run = GradingRun.objects.filter(
        scheme=scheme, as_of=as_of, status=GradingRun.Status.SUCCEEDED
    ).first()
    if run is not None and run.snapshots_archived_at is not None:
        return _finish(_archived_frame(run)), str(run)
    if run is not None:
        rows = ScoreSnapshot.objects.filter(run=run).values_list(
            "customer__code",
            "recency_days",
            "frequency",
            "monetary",
            "r_score",
            "f_score",
            "m_score",
            "rfm_segment",
            "rfm_label",
            "lifecycle",
            "pyramid",
            "historical",
            "potential",
            "cooperation",
            "composite",
            "computed_grade__code",
        )
        frame = pd.DataFrame.from_records(list(rows), columns=list(EXPORT_COLUMNS))
        frame["monetary"] = frame["monetary"].map("{:.2f}".format)
        return _finish(frame), str(run)

    rules = scheme_rules(scheme)
    scores = decide.score_period(rules=rules, as_of=as_of)
    codes = dict(Customer.objects.filter(pk__in=scores.index.tolist()).values_list("pk", "code"))
    frame = pd.DataFrame(
        {
            "customer_code": scores.index.map(codes),
            "recency_days": scores["recency_days"],
            "frequency": scores["frequency"],
            "monetary": (scores["monetary_cents"] // 100).astype(str)
            + "."
            + (scores["monetary_cents"] % 100).astype(str).str.zfill(2),
            **{c: scores[c] for c in EXPORT_COLUMNS[4:] if c not in _CODE_COLUMNS},
            **{c: scores[c].astype("str") for c in _CODE_COLUMNS},
        }
    )
    return _finish(frame), "computed"
