"""What-if: score today's population with a draft scheme before activating it (no writes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from django.utils.translation import gettext as _

from grading import engine
from grading.models import CustomerGrade, Grade, GradingScheme
from grading.reports import Table


@dataclass
class WhatIf:
    scheme: GradingScheme
    as_of: dt.date
    scored: int
    moved: int
    matrix: Table
    distribution: Table


def scheme_what_if(*, scheme: GradingScheme, as_of: dt.date) -> WhatIf:
    """Return how customers' current grades would move if `scheme` graded them at `as_of`.

    Reads the population with the engine's extract, scores it with the draft's rules and
    compares the computed grade with each customer's current grade; nothing is written.
    """
    rules = engine.scheme_rules(scheme)
    scores = engine.score_period(rules=rules, as_of=as_of)
    current = pd.Series(
        dict(CustomerGrade.objects.values_list("customer_id", "grade__code")), dtype="str"
    )
    frame = pd.DataFrame(
        {
            "current": current.reindex(scores.index).fillna("—"),
            "draft": scores["grade"].astype("str"),
            "composite": scores["composite"],
            "monetary": scores["monetary_cents"] / 100,
        }
    )
    grades = list(Grade.objects.order_by("-rank"))
    codes = [g.code for g in grades]
    names = {g.code: g.name for g in grades} | {"—": _("not graded")}
    counts = frame.groupby(["current", "draft"]).size()
    row_codes = [c for c in [*codes, "—"] if c in set(frame["current"])]
    matrix = Table(
        title=_("Current grade → grade under %(scheme)s") % {"scheme": scheme},
        columns=[_("current \\ draft"), *[names[c] for c in codes], _("total")],
        rows=[
            [
                names[r],
                *[int(counts.get((r, c), 0)) for c in codes],
                int(counts.xs(r, level=0).sum()) if r in counts.index.get_level_values(0) else 0,
            ]
            for r in row_codes
        ],
    )
    by_grade = frame.groupby("draft").agg(
        customers=("draft", "size"), composite=("composite", "mean"), monetary=("monetary", "sum")
    )
    distribution = Table(
        title=_("Value distribution under the draft"),
        columns=[_("grade"), _("customers"), _("avg composite"), _("net purchases in window")],
        rows=[
            [
                names[c],
                int(by_grade.loc[c, "customers"]),
                round(float(by_grade.loc[c, "composite"]), 2),
                round(float(by_grade.loc[c, "monetary"]), 2),
            ]
            for c in codes
            if c in by_grade.index
        ],
    )
    moved = int((frame["current"] != frame["draft"]).sum())
    return WhatIf(
        scheme=scheme,
        as_of=as_of,
        scored=len(frame),
        moved=moved,
        matrix=matrix,
        distribution=distribution,
    )
