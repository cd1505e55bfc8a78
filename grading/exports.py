"""Score exports: one row per customer with the docs/grading.md columns, from a finished run or,
when the period has not been graded, scored on the fly without writing anything."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from customers.models import Customer
from grading.models import GradingRun, GradingScheme, ScoreSnapshot
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


def score_export_frame(*, as_of: dt.date, scheme: GradingScheme) -> tuple[pd.DataFrame, str]:
    """Return (frame, source): the export rows for `as_of` and the run's name or "computed".

    `grade` is the grade the scores earn (docs/grading.md, "Computed grade": the highest grade
    whose min_score the composite reaches, subject to its gates), before policy (hysteresis,
    pins) is applied.
    """
    run = GradingRun.objects.filter(
        scheme=scheme, as_of=as_of, status=GradingRun.Status.SUCCEEDED
    ).first()
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
