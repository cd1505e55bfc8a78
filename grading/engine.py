"""The grading pipeline: extract -> score -> decide -> write (DESIGN.md).

Only `extract_*` and `write_*` touch the database, each with a fixed, small number of
set-based statements (never one query per customer); scoring and policy are pure.

Writes are idempotent: snapshots, changes and audit rows are inserted with
conflict-ignoring statements keyed on the unique constraints, customers that already have a
snapshot in the run are skipped, and grades are changed only by conditional, column-limited
updates that never touch a pinned customer (override or appeal lock).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from customers.models import (
    CampaignInvitation,
    Complaint,
    Customer,
    Order,
    ProductReview,
    Referral,
)
from grading import policy
from grading.models import (
    GradeChange,
    GradeOverride,
    GradingRun,
    GradingScheme,
    SchemeGrade,
)
from grading.scoring import GradeRule, ScoringParams

#: Score-frame columns copied into ScoreSnapshot as they are (same names).
SNAPSHOT_SCORE_COLUMNS = (
    "frequency",
    "categories",
    "gap_cv",
    "campaign_invitations",
    "campaign_joins",
    "referrals",
    "complaints",
    "reviews",
    "on_time_orders",
    "rated_orders",
    "growth_points",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "rfm_label",
    "lifecycle",
    "pyramid",
    "breadth",
    "stability",
    "growth",
    "industry_prior",
    "campaign_rate",
    "referral_score",
    "complaint_score",
    "on_time_rate",
    "review_score",
    "points_bonus",
    "historical",
    "potential",
    "cooperation",
    "composite",
)

_SNAPSHOT_SQL_TYPES = {
    **dict.fromkeys(("rfm_segment", "rfm_label", "lifecycle", "pyramid"), "varchar(20)"),
    **dict.fromkeys(
        (
            "gap_cv",
            "breadth",
            "stability",
            "growth",
            "industry_prior",
            "campaign_rate",
            "referral_score",
            "complaint_score",
            "on_time_rate",
            "review_score",
            "points_bonus",
            "historical",
            "potential",
            "cooperation",
            "composite",
        ),
        "double precision",
    ),
}


@dataclass(frozen=True)
class SchemeRules:
    """A scheme turned into the plain values the pure layers take."""

    params: ScoringParams
    ladder: tuple[GradeRule, ...]
    policy_ladder: policy.Ladder
    grade_ids: dict[str, int]

    @property
    def grade_codes(self) -> dict[int, str]:
        return {pk: code for code, pk in self.grade_ids.items()}


def _cents(value: Any) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


def scheme_rules(scheme: GradingScheme) -> SchemeRules:
    """Return the scoring parameters and ladders of `scheme` (one query for the ladder)."""
    rungs = list(SchemeGrade.objects.filter(scheme=scheme).select_related("grade"))
    if not rungs:
        raise ValueError(f"Scheme {scheme} has no grades in its ladder.")

    def weight(value: Decimal) -> float:
        return float(value)

    params = ScoringParams(
        window_days=scheme.window_days,
        rfm_method=scheme.rfm_method,  # type: ignore[arg-type]
        r_thresholds=tuple(int(v) for v in scheme.r_thresholds or (30, 90, 180, 365)),  # type: ignore[arg-type]
        f_thresholds=tuple(int(v) for v in scheme.f_thresholds or (2, 4, 8, 16)),  # type: ignore[arg-type]
        m_thresholds_cents=tuple(  # type: ignore[arg-type]
            _cents(v) for v in scheme.m_thresholds or ("1000", "5000", "20000", "100000")
        ),
        weight_r=weight(scheme.weight_r),
        weight_f=weight(scheme.weight_f),
        weight_m=weight(scheme.weight_m),
        weight_historical=weight(scheme.weight_historical),
        weight_potential=weight(scheme.weight_potential),
        weight_cooperation=weight(scheme.weight_cooperation),
        weight_breadth=weight(scheme.weight_breadth),
        weight_stability=weight(scheme.weight_stability),
        weight_growth=weight(scheme.weight_growth),
        weight_industry=weight(scheme.weight_industry),
        industry_priors={str(k): float(v) for k, v in (scheme.industry_priors or {}).items()},
        default_industry_prior=float(scheme.default_industry_prior),
        weight_campaign=weight(scheme.weight_campaign),
        weight_referral=weight(scheme.weight_referral),
        weight_complaint=weight(scheme.weight_complaint),
        weight_on_time=weight(scheme.weight_on_time),
        weight_review=weight(scheme.weight_review),
        referral_cap=scheme.referral_cap,
        review_cap=scheme.review_cap,
        points_rate=float(scheme.points_rate),
        points_cap=float(scheme.points_cap),
        new_days=scheme.new_days,
        dormant_days=scheme.dormant_days,
        churn_days=scheme.churn_days,
        growth_ratio=scheme.growth_ratio,
        pyramid_cuts=(scheme.pyramid_top, scheme.pyramid_large, scheme.pyramid_medium),
        rfm_within_pyramid=scheme.rfm_within_pyramid,
    )
    ladder = tuple(
        GradeRule(
            code=r.grade.code,
            rank=r.grade.rank,
            min_score=float(r.min_score),
            min_frequency=r.min_frequency,
            min_monetary_cents=_cents(r.min_monetary),
        )
        for r in rungs
    )
    policy_ladder = policy.Ladder(
        policy.GradePolicy(
            code=r.grade.code,
            rank=r.grade.rank,
            min_score=float(r.min_score),
            hysteresis=float(r.hysteresis),
            cadence=r.cadence,  # type: ignore[arg-type]
            warn_after=r.warn_after,
            downgrade_after=r.downgrade_after,
            downgrade_needs_review=r.downgrade_needs_review,
        )
        for r in rungs
    )
    return SchemeRules(
        params=params,
        ladder=ladder,
        policy_ladder=policy_ladder,
        grade_ids={r.grade.code: r.grade_id for r in rungs},
    )


# --------------------------------------------------------------------------------- extract


def local_midnight(day: dt.date) -> dt.datetime:
    """Return the aware start of `day` in the project time zone (the run's exclusive end)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _id_range(queryset: Any, field: str, id_range: tuple[int, int] | None) -> Any:
    if id_range is None:
        return queryset
    low, high = id_range
    return queryset.filter(**{f"{field}__gte": low, f"{field}__lt": high})


def extract_orders(*, as_of: dt.date, id_range: tuple[int, int] | None = None) -> pd.DataFrame:
    """Return counted orders placed before `as_of` as the scoring `orders` frame.

    One statement. On PostgreSQL the rows stream out with COPY (local date and integer cents
    computed in SQL); elsewhere through the ORM. Also returns `on_time` (1/0/-1 unknown) so
    the engagement extract can count on-time orders without a second scan.
    """
    end = local_midnight(as_of)
    statuses = [str(s) for s in Order.COUNTED_STATUSES]
    if connection.vendor == "postgresql":
        return _extract_orders_postgres(end, statuses, id_range)
    rows = _id_range(
        Order.objects.filter(status__in=statuses, placed_at__lt=end), "customer_id", id_range
    ).values_list("customer_id", "placed_at", "amount", "refunded_amount", "category_id", "on_time")
    frame = pd.DataFrame.from_records(
        list(rows),
        columns=["customer_id", "placed_at", "amount", "refunded", "category_id", "on_time"],
    )
    if frame.empty:
        return _empty_orders()
    local = pd.to_datetime(frame["placed_at"], utc=True).dt.tz_convert(settings.TIME_ZONE)
    net = (frame["amount"] - frame["refunded"]).map(_cents)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("int64"),
            "order_date": local.dt.tz_localize(None).dt.normalize().astype("datetime64[s]"),
            "net_cents": net.astype("int64"),
            "category_id": frame["category_id"].astype("Int64"),
            "on_time": frame["on_time"].map({True: 1, False: 0}).fillna(-1).astype("int8"),
        }
    )


def _empty_orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype="int64"),
            "order_date": pd.Series(dtype="datetime64[s]"),
            "net_cents": pd.Series(dtype="int64"),
            "category_id": pd.Series(dtype="Int64"),
            "on_time": pd.Series(dtype="int8"),
        }
    )


def _extract_orders_postgres(
    end: dt.datetime, statuses: list[str], id_range: tuple[int, int] | None
) -> pd.DataFrame:
    import pyarrow.csv as pacsv

    range_sql = ""
    params: list[Any] = [settings.TIME_ZONE, end, statuses]
    if id_range is not None:
        range_sql = " AND customer_id >= %s AND customer_id < %s"
        params.extend(id_range)
    sql = (
        "SELECT customer_id,"
        " ((placed_at AT TIME ZONE %s)::date - DATE '1970-01-01') AS day,"
        " ((amount - refunded_amount) * 100)::bigint AS net_cents,"
        " category_id,"
        " CASE WHEN on_time IS NULL THEN -1 WHEN on_time THEN 1 ELSE 0 END AS on_time"
        " FROM customers_order WHERE placed_at < %s AND status = ANY(%s)" + range_sql
    )
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        query = raw.mogrify(sql, params)
        with raw.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
    if buffer.tell() == 0:
        return _empty_orders()
    buffer.seek(0)
    table = pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(
            column_names=["customer_id", "day", "net_cents", "category_id", "on_time"]
        ),
    )
    frame = table.to_pandas()
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("int64"),
            "order_date": frame["day"]
            .to_numpy(dtype="int64")
            .astype("datetime64[D]")
            .astype("datetime64[s]"),
            "net_cents": frame["net_cents"].astype("int64"),
            "category_id": frame["category_id"].astype("Int64"),
            "on_time": frame["on_time"].astype("int8"),
        }
    )


def extract_customers(
    *,
    as_of: dt.date,
    window_days: int,
    orders: pd.DataFrame,
    id_range: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Return the scoring `customers` frame: active customers with their window engagement.

    One query per engagement kind, each grouped by customer in the database.
    """
    end = local_midnight(as_of)
    start = local_midnight(as_of - dt.timedelta(days=window_days))
    base = _id_range(Customer.objects.filter(is_active=True), "id", id_range)
    frame = pd.DataFrame.from_records(
        list(base.values_list("id", "industry").order_by("id")), columns=["customer_id", "industry"]
    )
    frame = frame.astype({"customer_id": "int64", "industry": "str"}).set_index("customer_id")

    def counts(queryset: Any, field: str, **annotations: Any) -> pd.DataFrame:
        rows = list(
            _id_range(queryset, field, id_range).values(field).annotate(**annotations).order_by()
        )
        return pd.DataFrame.from_records(rows).set_index(field) if rows else pd.DataFrame()

    in_window = {"invited_at__gte": start, "invited_at__lt": end}
    parts = [
        counts(
            CampaignInvitation.objects.filter(**in_window),
            "customer_id",
            campaign_invitations=Count("id"),
            campaign_joins=Count("id", filter=Q(joined_at__isnull=False, joined_at__lt=end)),
        ),
        counts(
            Referral.objects.filter(created_at__gte=start, created_at__lt=end),
            "referrer_id",
            referrals=Count("id"),
        ).rename_axis("customer_id"),
        counts(
            Complaint.objects.filter(created_at__gte=start, created_at__lt=end),
            "customer_id",
            complaints=Count("id"),
        ),
        counts(
            ProductReview.objects.filter(created_at__gte=start, created_at__lt=end),
            "customer_id",
            reviews=Count("id"),
        ),
    ]
    # On-time counts come from the orders already extracted (window orders with a known flag).
    window_start = np.datetime64(as_of - dt.timedelta(days=window_days), "s")
    in_window_orders = orders[(orders["order_date"] >= window_start) & (orders["on_time"] >= 0)]
    rated = in_window_orders.groupby("customer_id")["on_time"].agg(["count", "sum"])
    parts.append(rated.rename(columns={"count": "rated_orders", "sum": "on_time_orders"}))
    for part in parts:
        if not part.empty:
            frame = frame.join(part, how="left")
    for column in (
        "campaign_invitations",
        "campaign_joins",
        "referrals",
        "complaints",
        "reviews",
        "on_time_orders",
        "rated_orders",
        "growth_points",
    ):
        values = frame[column] if column in frame else pd.Series(0, index=frame.index)
        frame[column] = values.fillna(0).astype("int64")
    return frame.reset_index()


def extract_state(*, as_of: dt.date, customer_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Return each customer's policy state: current grade, counter, pins, open proposals.

    Three queries: grade states, active overrides/locks, open downgrade proposals.
    """
    from grading.models import CustomerGrade

    states = pd.DataFrame.from_records(
        list(CustomerGrade.objects.values_list("customer_id", "grade__code", "periods_under")),
        columns=["customer_id", "current_grade", "periods_under"],
    ).set_index("customer_id")
    active = GradeOverride.objects.filter(ended_at__isnull=True).filter(
        Q(expires_on__isnull=True) | Q(expires_on__gte=as_of)
    )
    pins = pd.DataFrame.from_records(
        list(active.values_list("customer_id", "grade__code", "source")),
        columns=["customer_id", "grade", "source"],
    ).set_index("customer_id")
    pending = set(
        GradeChange.objects.filter(status=GradeChange.Status.PROPOSED).values_list(
            "customer_id", flat=True
        )
    )
    index = pd.Index(list(customer_ids) if customer_ids is not None else states.index)
    state = pd.DataFrame(index=index.rename("customer_id"))
    state["current_grade"] = states["current_grade"].reindex(index)
    state["periods_under"] = states["periods_under"].reindex(index).fillna(0).astype("int64")
    manual = pins[pins["source"] == GradeOverride.Source.MANUAL]["grade"]
    appeal = pins[pins["source"] == GradeOverride.Source.APPEAL]["grade"]
    state["override_grade"] = manual.reindex(index)
    state["locked_grade"] = appeal.reindex(index)
    state["pending_downgrade"] = index.isin(list(pending))
    return state


# ----------------------------------------------------------------------------------- decide


def decide(
    scores: pd.DataFrame, state: pd.DataFrame, *, rules: SchemeRules, as_of: dt.date
) -> pd.DataFrame:
    """Return the policy decision of every scored customer (pure; see grading.policy)."""
    frame = state.reindex(scores.index).copy()
    frame["computed_grade"] = scores["grade"].astype("str")
    frame["composite"] = scores["composite"].astype("float64")
    frame["periods_under"] = frame["periods_under"].fillna(0).astype("int64")
    frame["pending_downgrade"] = frame["pending_downgrade"].fillna(False).astype(bool)
    context = policy.RunContext.for_as_of(as_of)
    return policy.decide(frame, ladder=rules.policy_ladder, context=context)


# ------------------------------------------------------------------------------------ write

CHANGE_ACTIONS = {
    "assign": (GradeChange.Direction.ASSIGN, GradeChange.Status.APPLIED),
    "upgrade": (GradeChange.Direction.UP, GradeChange.Status.APPLIED),
    "downgrade": (GradeChange.Direction.DOWN, GradeChange.Status.APPLIED),
    "propose_downgrade": (GradeChange.Direction.DOWN, GradeChange.Status.PROPOSED),
}


def _temp_load(table: str, columns: Sequence[tuple[str, str]], frame: pd.DataFrame) -> None:
    """Create a temporary table and load `frame` into it (COPY on PostgreSQL)."""
    column_sql = ", ".join(f"{name} {sqltype}" for name, sqltype in columns)
    names = [name for name, _ in columns]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} ({column_sql})")
        if frame.empty:
            return
        if connection.vendor == "postgresql":
            buffer = io.StringIO()
            frame[names].to_csv(buffer, index=False, header=False, na_rep="\\N")
            buffer.seek(0)
            with cursor.cursor.copy(
                f"COPY {table} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
            ) as copy:
                while data := buffer.read(1 << 20):
                    copy.write(data)
        else:
            placeholders = ", ".join(["%s"] * len(names))
            records = frame[names].astype(object).where(frame[names].notna(), None)
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})",
                records.itertuples(index=False, name=None),
            )


def _insert_ignore(
    table: str, columns: Sequence[str], select_sql: str, params: Sequence[Any]
) -> int:
    """INSERT ... SELECT that skips rows violating a unique constraint; return rows inserted."""
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} ({names}) {select_sql} ON CONFLICT DO NOTHING", params
            )
        else:
            cursor.execute(f"INSERT OR IGNORE INTO {table} ({names}) {select_sql}", params)
        return max(cursor.rowcount, 0)


def write_results(
    *,
    run: GradingRun,
    scores: pd.DataFrame,
    decisions: pd.DataFrame,
    rules: SchemeRules,
    now: dt.datetime,
) -> dict[str, int]:
    """Write snapshots, changes, audit rows and changed grades of one batch; return counts.

    Runs inside the caller's transaction. Every statement is set-based; re-running the same
    batch inserts nothing twice (unique constraints + conflict-ignoring inserts) and the grade
    updates are conditional on the old grade and on the customer not being pinned.
    """
    if scores.empty:
        return {}
    grade_ids = rules.grade_ids
    frame = scores.loc[:, list(SNAPSHOT_SCORE_COLUMNS)].copy()
    for column in ("rfm_segment", "rfm_label", "lifecycle", "pyramid"):
        frame[column] = frame[column].astype("str")
    frame["recency_days"] = scores["recency_days"].astype("Int64")
    frame["monetary"] = (scores["monetary_cents"] / 100).map("{:.2f}".format)
    frame["first_half_amount"] = (scores["first_half_cents"] / 100).map("{:.2f}".format)
    frame["second_half_amount"] = (scores["second_half_cents"] / 100).map("{:.2f}".format)
    frame["computed_grade_id"] = scores["grade"].astype("str").map(grade_ids).astype("int64")
    frame["grade_before_id"] = decisions["old_grade"].map(grade_ids).astype("Int64")
    frame["grade_after_id"] = decisions["new_grade"].map(grade_ids).astype("Int64")
    frame["action"] = decisions["action"].astype("str")
    frame["rule"] = decisions["rule"].astype("str")
    frame["periods_under"] = decisions["periods_under"].astype("int64")
    frame["customer_id"] = frame.index.astype("int64")
    frame["run_id"] = run.pk
    # A pinned customer whose grade is not one of this ladder's keeps it (grade_after = pin).
    frame["grade_after_id"] = frame["grade_after_id"].fillna(frame["computed_grade_id"])

    snapshot_columns = [
        ("run_id", "bigint"),
        ("customer_id", "bigint"),
        ("recency_days", "integer"),
        ("monetary", "numeric(14,2)"),
        ("first_half_amount", "numeric(14,2)"),
        ("second_half_amount", "numeric(14,2)"),
        *((c, _SNAPSHOT_SQL_TYPES.get(c, "integer")) for c in SNAPSHOT_SCORE_COLUMNS),
        ("computed_grade_id", "bigint"),
        ("grade_before_id", "bigint"),
        ("grade_after_id", "bigint"),
        ("action", "varchar(20)"),
        ("rule", "varchar(30)"),
        ("periods_under", "integer"),
    ]
    names = [name for name, _ in snapshot_columns]
    _temp_load("tierhub_snapshot_load", snapshot_columns, frame.reset_index(drop=True))
    snapshots = _insert_ignore(
        "grading_scoresnapshot",
        names,
        f"SELECT {', '.join(names)} FROM tierhub_snapshot_load",
        [],
    )

    # Changes: applied (assign/upgrade/downgrade) and proposed downgrades.
    changes = frame[frame["action"].isin(list(CHANGE_ACTIONS))].copy()
    changes["direction"] = changes["action"].map(lambda a: str(CHANGE_ACTIONS[a][0]))
    changes["status"] = changes["action"].map(lambda a: str(CHANGE_ACTIONS[a][1]))
    changes["to_grade_id"] = decisions.loc[changes.index, "target_grade"].map(grade_ids)
    change_columns = [
        ("customer_id", "bigint"),
        ("run_id", "bigint"),
        ("grade_before_id", "bigint"),
        ("to_grade_id", "bigint"),
        ("direction", "varchar(8)"),
        ("status", "varchar(12)"),
        ("rule", "varchar(30)"),
    ]
    _temp_load("tierhub_change_load", change_columns, changes.reset_index(drop=True))
    with connection.cursor() as cursor:
        # An upgrade supersedes a downgrade proposal still waiting for review.
        cursor.execute(
            "UPDATE grading_gradechange SET status = %s, decided_at = %s,"
            " decision_note = %s WHERE status = %s AND customer_id IN"
            " (SELECT customer_id FROM tierhub_change_load WHERE direction = %s)",
            [
                GradeChange.Status.SUPERSEDED,
                now,
                "Superseded by an upgrade in a later run.",
                GradeChange.Status.PROPOSED,
                GradeChange.Direction.UP,
            ],
        )
    _insert_ignore(
        "grading_gradechange",
        [
            "customer_id",
            "run_id",
            "from_grade_id",
            "to_grade_id",
            "direction",
            "status",
            "source",
            "rule",
            "reason",
            "created_at",
            "decision_note",
        ],
        "SELECT customer_id, run_id, grade_before_id, to_grade_id, direction, status, %s, rule,"
        " %s, %s, '' FROM tierhub_change_load",
        ["run", f"Grading run {run.as_of:%Y-%m-%d} ({run.scheme})", now],
    )

    # First grades: create the state row (never overwrites an existing one).
    _insert_ignore(
        "grading_customergrade",
        ["customer_id", "grade_id", "since", "periods_under", "last_run_id", "updated_at"],
        "SELECT customer_id, to_grade_id, %s, 0, run_id, %s FROM tierhub_change_load"
        " WHERE direction = %s",
        [now, now, GradeChange.Direction.ASSIGN],
    )
    with connection.cursor() as cursor:
        # Applied changes: only if the customer still has the old grade and is not pinned.
        cursor.execute(
            "UPDATE grading_customergrade SET grade_id = l.to_grade_id, since = %s,"
            " periods_under = 0, last_run_id = l.run_id, updated_at = %s"
            " FROM tierhub_change_load l"
            " WHERE grading_customergrade.customer_id = l.customer_id"
            " AND l.status = %s AND l.direction IN (%s, %s)"
            " AND grading_customergrade.grade_id = l.grade_before_id"
            " AND NOT EXISTS (SELECT 1 FROM grading_gradeoverride o"
            "   WHERE o.customer_id = l.customer_id AND o.ended_at IS NULL)",
            [
                now,
                now,
                GradeChange.Status.APPLIED,
                GradeChange.Direction.UP,
                GradeChange.Direction.DOWN,
            ],
        )
        # Counters and last run for everyone else whose state row exists.
        cursor.execute(
            "UPDATE grading_customergrade SET periods_under = l.periods_under,"
            " last_run_id = l.run_id"
            " FROM tierhub_snapshot_load l"
            " WHERE grading_customergrade.customer_id = l.customer_id"
            " AND l.action NOT IN ('assign', 'upgrade', 'downgrade')"
            " AND (grading_customergrade.periods_under <> l.periods_under"
            "      OR grading_customergrade.last_run_id IS NULL"
            "      OR grading_customergrade.last_run_id <> l.run_id)",
            [],
        )
        # One audit row per applied change of this run (NOT EXISTS keeps re-runs at one).
        cursor.execute(
            "INSERT INTO grading_gradeauditentry"
            " (customer_id, old_grade_id, new_grade_id, source, reason, actor_id, run_id,"
            "  change_id, created_at)"
            " SELECT c.customer_id, c.from_grade_id, c.to_grade_id, c.source, c.reason, NULL,"
            "  c.run_id, c.id, %s FROM grading_gradechange c"
            " WHERE c.run_id = %s AND c.status = %s"
            " AND NOT EXISTS (SELECT 1 FROM grading_gradeauditentry a WHERE a.change_id = c.id)",
            [now, run.pk, GradeChange.Status.APPLIED],
        )
        for table in ("tierhub_snapshot_load", "tierhub_change_load"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")

    actions = decisions["action"].value_counts().to_dict()
    return {
        "scored": snapshots,
        "assigned": int(actions.get("assign", 0)),
        "upgraded": int(actions.get("upgrade", 0)),
        "warned": int(actions.get("warn", 0)),
        "downgrade_proposals": int(actions.get("propose_downgrade", 0)),
        "downgraded": int(actions.get("downgrade", 0)),
        "pinned": int(actions.get("pinned", 0) + actions.get("locked", 0)),
        "unchanged": int(actions.get("keep", 0) + actions.get("under_target", 0)),
    }
