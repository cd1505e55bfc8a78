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
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from customers.models import (
    CampaignInvitation,
    Complaint,
    Customer,
    Order,
    PointsEntry,
    ProductReview,
    Referral,
)
from grading import pgcopy, policy
from grading.models import (
    GradeChange,
    GradeOverride,
    GradingRun,
    GradingScheme,
    SchemeGrade,
)
from grading.scoring import GradeRule, ScoringParams, score_population
from grading.scoring.population import PopulationCuts

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
            min_frequency=r.min_frequency,
            min_monetary_cents=_cents(r.min_monetary),
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


def extract_period(
    *, as_of: dt.date, window_days: int, id_range: tuple[int, int] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the period's scoring frames `(orders, customers)` (optionally one id range).

    `orders`: counted orders placed before `as_of`, with `on_time` (1/0/-1 unknown) for the
    engagement counts. Scoring reads an order placed before the window [as_of - window_days,
    as_of) only for the customer's first and last order dates (`grading.scoring.compute`), so
    on PostgreSQL those orders are not read one by one: the window's orders stream out with
    binary COPY (integer cents computed in SQL, the local day here), and each customer with
    older orders adds two rows dated on their first and last counted order before the window,
    with no amount, category or on-time flag. Every score is the same as from the full
    history.
    Elsewhere the ORM returns the full history.

    `customers`: active customers with their window engagement counts, on-time counts taken
    from `orders`.

    On PostgreSQL outside a transaction, the earlier orders' dates and the customers are read
    on a second connection while this one streams the window's orders, so the server scans
    overlap. Inside a transaction (whose uncommitted rows another connection cannot see)
    everything is read here, one statement after the other.
    """
    end = local_midnight(as_of)
    start = local_midnight(as_of - dt.timedelta(days=window_days))
    statuses = [str(s) for s in Order.COUNTED_STATUSES]
    if connection.vendor != "postgresql":
        orders = _extract_orders_orm(end, statuses, id_range)
        customers = _extract_customers_orm(start, end, id_range)
    elif connection.in_atomic_block:
        earlier, customers = _earlier_and_customers(start, end, statuses, id_range)
        orders = _orders_frame(_window_orders_postgres(start, end, statuses, id_range), earlier)
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            side = pool.submit(
                _on_own_connection, _earlier_and_customers, start, end, statuses, id_range
            )
            window = _window_orders_postgres(start, end, statuses, id_range)
            earlier, customers = side.result()
        orders = _orders_frame(window, earlier)
    return orders, _with_on_time(customers, orders, start=as_of - dt.timedelta(days=window_days))


def _on_own_connection(function: Callable[..., Any], *args: Any) -> Any:
    """Call `function` in a worker thread, on (and then closing) that thread's connection."""
    try:
        return function(*args)
    finally:
        connection.close()


def _extract_orders_orm(
    end: dt.datetime, statuses: list[str], id_range: tuple[int, int] | None
) -> pd.DataFrame:
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


def _range_sql(id_range: tuple[int, int] | None) -> tuple[str, list[Any]]:
    if id_range is None:
        return "", []
    return " AND customer_id >= %s AND customer_id < %s", list(id_range)


#: PostgreSQL's binary timestamps count microseconds from 2000-01-01 UTC.
_PG_EPOCH_US = 946_684_800_000_000


def _local_days(instants: np.ndarray) -> np.ndarray:
    """Local day numbers (days since 1970-01-01 in the project time zone) of binary timestamps.

    Converted here, vectorised, rather than `AT TIME ZONE` on the server for each of millions
    of orders: the server is the bottleneck of the extract, this takes about 0.3 s per 5M.
    """
    utc = pd.DatetimeIndex((instants + _PG_EPOCH_US).view("datetime64[us]"), tz="UTC")
    local = utc.tz_convert(settings.TIME_ZONE).tz_localize(None)
    return local.to_numpy().astype("datetime64[D]").astype(np.int32)


def _window_orders_postgres(
    start: dt.datetime, end: dt.datetime, statuses: list[str], id_range: tuple[int, int] | None
) -> dict[str, np.ndarray]:
    """The window's counted orders: customer, local day (days since 1970), cents, category."""
    range_sql, range_params = _range_sql(id_range)
    rows = pgcopy.copy_out(
        "SELECT customer_id, placed_at, ((amount - refunded_amount) * 100)::bigint,"
        " coalesce(category_id, -1),"
        " (CASE WHEN on_time IS NULL THEN -1 WHEN on_time THEN 1 ELSE 0 END)::smallint"
        " FROM customers_order WHERE placed_at >= %s AND placed_at < %s AND status = ANY(%s)"
        + range_sql,
        [start, end, statuses, *range_params],
        [
            ("customer_id", "i8"),
            ("placed_at", "i8"),
            ("net_cents", "i8"),
            ("category", "i8"),
            ("on_time", "i2"),
        ],
    )
    rows["day"] = _local_days(rows.pop("placed_at"))
    return rows


def _earlier_and_customers(
    start: dt.datetime, end: dt.datetime, statuses: list[str], id_range: tuple[int, int] | None
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Each customer's first and last counted order day before the window; the customers.

    The first and last instants are grouped, then converted to local days: the conversion
    never reorders instants, so these are the first and last local days.
    """
    range_sql, range_params = _range_sql(id_range)
    earlier = pgcopy.copy_out(
        "SELECT customer_id, min(placed_at), max(placed_at)"
        " FROM customers_order WHERE placed_at < %s AND status = ANY(%s)"
        f"{range_sql} GROUP BY customer_id",
        [start, statuses, *range_params],
        [("customer_id", "i8"), ("first", "i8"), ("last", "i8")],
    )
    earlier["first"] = _local_days(earlier["first"])
    earlier["last"] = _local_days(earlier["last"])
    return earlier, _extract_customers_postgres(start, end, id_range)


def _orders_frame(window: dict[str, np.ndarray], earlier: dict[str, np.ndarray]) -> pd.DataFrame:
    """The `orders` frame: window rows, then two rows per customer with earlier orders."""
    customer_id = np.concatenate([window["customer_id"], earlier["customer_id"].repeat(2)])
    if customer_id.size == 0:
        return _empty_orders()
    extra = earlier["customer_id"].size * 2
    day = np.concatenate(
        [window["day"], np.stack([earlier["first"], earlier["last"]], axis=1).ravel()]
    )
    category = np.concatenate([window["category"], np.full(extra, -1, dtype=np.int64)])
    return pd.DataFrame(
        {
            "customer_id": customer_id,
            "order_date": day.astype("datetime64[D]").astype("datetime64[s]"),
            "net_cents": np.concatenate([window["net_cents"], np.zeros(extra, dtype=np.int64)]),
            "category_id": pd.arrays.IntegerArray(category, category < 0),
            "on_time": np.concatenate(
                [window["on_time"].astype(np.int8), np.full(extra, -1, dtype=np.int8)]
            ),
        }
    )


def _with_on_time(customers: pd.DataFrame, orders: pd.DataFrame, *, start: dt.date) -> pd.DataFrame:
    """The scoring `customers` frame: engagement counts plus on-time counts from `orders`."""
    window_start = np.datetime64(start, "s")
    rated_orders = orders[(orders["order_date"] >= window_start) & (orders["on_time"] >= 0)]
    rated = rated_orders.groupby("customer_id")["on_time"].agg(["count", "sum"])
    frame = customers.join(
        rated.rename(columns={"count": "rated_orders", "sum": "on_time_orders"}), how="left"
    )
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


_ENGAGEMENT_COLUMNS = (
    "campaign_invitations",
    "campaign_joins",
    "referrals",
    "complaints",
    "reviews",
    "growth_points",
)


def _extract_customers_postgres(
    start: dt.datetime, end: dt.datetime, id_range: tuple[int, int] | None
) -> pd.DataFrame:
    """Active customers with their window engagement counts: one COPY of fixed-width rows.

    The industry travels as its position in the list of distinct industries (read first), so
    every column is fixed width.
    """
    low, high = id_range if id_range is not None else (None, None)

    def in_range(column: str) -> str:
        return "" if id_range is None else f" AND {column} >= %(low)s AND {column} < %(high)s"

    active = _id_range(Customer.objects.filter(is_active=True), "id", id_range)
    industries = sorted(active.values_list("industry", flat=True).distinct().order_by())
    sql = (
        "SELECT c.id, coalesce(array_position(%(industries)s::text[], c.industry::text), 0),"
        " coalesce(i.invitations, 0), coalesce(i.joins, 0), coalesce(r.referrals, 0),"
        " coalesce(k.complaints, 0), coalesce(v.reviews, 0), coalesce(p.points, 0)"
        " FROM customers_customer c"
        " LEFT JOIN (SELECT customer_id, count(*) AS invitations,"
        "   count(*) FILTER (WHERE joined_at IS NOT NULL AND joined_at < %(end)s) AS joins"
        "   FROM customers_campaigninvitation"
        "   WHERE invited_at >= %(start)s AND invited_at < %(end)s"
        + in_range("customer_id")
        + "   GROUP BY customer_id) i ON i.customer_id = c.id"
        " LEFT JOIN (SELECT referrer_id, count(*) AS referrals FROM customers_referral"
        "   WHERE created_at >= %(start)s AND created_at < %(end)s"
        + in_range("referrer_id")
        + "   GROUP BY referrer_id) r ON r.referrer_id = c.id"
        " LEFT JOIN (SELECT customer_id, count(*) AS complaints FROM customers_complaint"
        "   WHERE created_at >= %(start)s AND created_at < %(end)s"
        + in_range("customer_id")
        + "   GROUP BY customer_id) k ON k.customer_id = c.id"
        " LEFT JOIN (SELECT customer_id, count(*) AS reviews FROM customers_productreview"
        "   WHERE created_at >= %(start)s AND created_at < %(end)s"
        + in_range("customer_id")
        + "   GROUP BY customer_id) v ON v.customer_id = c.id"
        # Growth points credited in the window feed the cooperation score (up to a cap).
        " LEFT JOIN (SELECT customer_id, sum(points) AS points FROM customers_pointsentry"
        "   WHERE created_at >= %(start)s AND created_at < %(end)s"
        + in_range("customer_id")
        + "   GROUP BY customer_id) p ON p.customer_id = c.id"
        " WHERE c.is_active" + in_range("c.id")
    )
    params = {"industries": industries, "start": start, "end": end, "low": low, "high": high}
    rows = pgcopy.copy_out(
        sql,
        params,  # type: ignore[arg-type]
        [("customer_id", "i8"), ("industry", "i4")] + [(c, "i8") for c in _ENGAGEMENT_COLUMNS],
    )
    order = np.argsort(rows["customer_id"], kind="stable")
    ids = rows["customer_id"][order]
    codes = rows["industry"][order]
    labels = np.array([*industries, ""], dtype=object)  # code 0 -> index -1 -> patched below
    industry = labels[codes - 1]
    if (codes == 0).any():
        # A customer saved with a new industry between the two statements: read those few.
        missing = ids[codes == 0]
        late = dict(Customer.objects.filter(pk__in=missing.tolist()).values_list("pk", "industry"))
        industry[codes == 0] = [late.get(int(pk), "") for pk in missing]
    frame = pd.DataFrame(
        {column: rows[column][order] for column in _ENGAGEMENT_COLUMNS},
        index=pd.Index(ids, name="customer_id"),
    )
    frame.insert(0, "industry", pd.array(industry, dtype="str"))
    return frame


def _extract_customers_orm(
    start: dt.datetime, end: dt.datetime, id_range: tuple[int, int] | None
) -> pd.DataFrame:
    """Active customers with their window engagement counts: one grouped query per kind."""
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
        # Growth points credited in the window feed the cooperation score (up to a cap).
        counts(
            PointsEntry.objects.filter(created_at__gte=start, created_at__lt=end),
            "customer_id",
            growth_points=Sum("points"),
        ),
    ]
    for part in parts:
        if not part.empty:
            frame = frame.join(part, how="left")
    return frame


def extract_state(*, as_of: dt.date, customer_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Return each customer's policy state: current grade, counter, pins, open proposals.

    A fixed number of queries: grade states (one binary COPY on PostgreSQL, plus the grade
    codes), active overrides/locks, open downgrade proposals.
    """
    ids = None
    if customer_ids is not None:
        array_like = hasattr(customer_ids, "__array__")  # a pd.Index: no Python-level loop
        ids = np.asarray(customer_ids if array_like else list(customer_ids), dtype=np.int64)
    states = _grade_states(ids)
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
    index = pd.Index(ids if ids is not None else states.index)
    state = pd.DataFrame(index=index.rename("customer_id"))
    state["current_grade"] = states["current_grade"].reindex(index)
    state["periods_under"] = states["periods_under"].reindex(index).fillna(0).astype("int64")
    manual = pins[pins["source"] == GradeOverride.Source.MANUAL]["grade"]
    appeal = pins[pins["source"] == GradeOverride.Source.APPEAL]["grade"]
    state["override_grade"] = manual.reindex(index)
    state["locked_grade"] = appeal.reindex(index)
    state["pending_downgrade"] = index.isin(list(pending))
    return state


def _grade_states(ids: np.ndarray | None) -> pd.DataFrame:
    """Return current_grade (code) and periods_under by customer_id, for `ids`' id span."""
    from grading.models import CustomerGrade, Grade

    span = (int(ids.min()), int(ids.max())) if ids is not None and ids.size else None
    if connection.vendor != "postgresql":
        states = CustomerGrade.objects.all()
        if span is not None:
            states = states.filter(customer_id__gte=span[0], customer_id__lte=span[1])
        return pd.DataFrame.from_records(
            list(states.values_list("customer_id", "grade__code", "periods_under")),
            columns=["customer_id", "current_grade", "periods_under"],
        ).set_index("customer_id")
    rows = pgcopy.copy_out(
        "SELECT customer_id, grade_id, periods_under::integer FROM grading_customergrade"
        + (" WHERE customer_id BETWEEN %s AND %s" if span is not None else ""),
        span or (),
        [("customer_id", "i8"), ("grade_id", "i8"), ("periods_under", "i4")],
    )
    codes = dict(Grade.objects.values_list("pk", "code"))
    grade_ids, position = np.unique(rows["grade_id"], return_inverse=True)
    labels = [codes[int(pk)] for pk in grade_ids]
    return pd.DataFrame(
        {
            # Categorical: a million grade codes without a million string objects.
            "current_grade": pd.Categorical.from_codes(position, categories=labels),
            "periods_under": rows["periods_under"].astype(np.int64),
        },
        index=pd.Index(rows["customer_id"], name="customer_id"),
    )


def score_period(
    *,
    rules: SchemeRules,
    as_of: dt.date,
    id_range: tuple[int, int] | None = None,
    cuts: PopulationCuts | None = None,
) -> pd.DataFrame:
    """Extract the period's facts (optionally one customer-id range) and score them."""
    orders, customers = extract_period(
        as_of=as_of, window_days=rules.params.window_days, id_range=id_range
    )
    return score_population(
        orders.drop(columns=["on_time"]),
        customers,
        as_of=as_of,
        params=rules.params,
        ladder=rules.ladder,
        cuts=cuts,
    )


# ----------------------------------------------------------------------------------- decide


def decide(
    scores: pd.DataFrame, state: pd.DataFrame, *, rules: SchemeRules, as_of: dt.date
) -> pd.DataFrame:
    """Return the policy decision of every scored customer (pure; see grading.policy)."""
    frame = state.reindex(scores.index).copy()
    frame["computed_grade"] = scores["grade"].astype("str")
    frame["composite"] = scores["composite"].astype("float64")
    frame["frequency"] = scores["frequency"]
    frame["monetary_cents"] = scores["monetary_cents"]
    frame["periods_under"] = frame["periods_under"].fillna(0).astype("int64")
    frame["pending_downgrade"] = frame["pending_downgrade"].fillna(False).astype(bool)
    context = policy.RunContext.for_as_of(as_of)
    decisions = policy.decide(frame, ladder=rules.policy_ladder, context=context)
    # The counter before the run: the write step rewrites only the state rows that move.
    decisions["periods_under_before"] = frame["periods_under"]
    return decisions


# ------------------------------------------------------------------------------------ write

#: Text columns of the snapshot load table: they travel as 1-based codes (0 = missing).
_CODED_COLUMNS = frozenset({"rfm_segment", "rfm_label", "lifecycle", "pyramid", "action", "rule"})
_LOAD_TABLE = "tierhub_snapshot_load"


def _temp_load(
    table: str, columns: Sequence[tuple[str, str, str]], values: Sequence[np.ndarray]
) -> None:
    """Create a temporary table (name, SQL type, numpy kind) and load aligned arrays into it.

    PostgreSQL: one binary COPY, then ANALYZE of the columns joined and filtered on
    (temporary tables are never auto-analysed, and without statistics the joins that read
    them can be planned as nested loops). Elsewhere: executemany, NaN as NULL.
    """
    column_sql = ", ".join(f"{name} {sqltype}" for name, sqltype, _ in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} ({column_sql})")
        if connection.vendor == "postgresql":
            pgcopy.copy_in(table, [(name, kind) for name, _, kind in columns], values)
            cursor.execute(f"ANALYZE {table} (customer_id, action)")
            return
        lists = [
            [None if v != v else v for v in array.tolist()] if kind == "f8" else array.tolist()
            for (_, _, kind), array in zip(columns, values, strict=True)
        ]
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(name for name, _, _ in columns)})"
            f" VALUES ({placeholders})",
            zip(*lists, strict=True),
        )


def _customers_hold(table: str, rows: int) -> None:
    """Keep the customers of `table` from being deleted until the commit; drop vanished ones.

    The rows a run writes check their customer reference here, once for the batch
    (`grading.models.RUN_WRITTEN_CUSTOMER`): on PostgreSQL the customers' rows are locked FOR
    KEY SHARE (what each row's foreign-key check would take), so a concurrent delete waits for
    the commit and its trigger then deletes this run's rows too. A customer deleted since the
    extract has no row to lock and leaves the batch.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM (SELECT 1 FROM customers_customer c"
                f" WHERE c.id IN (SELECT customer_id FROM {table}) FOR KEY SHARE OF c) held"
            )
            if cursor.fetchone()[0] == rows:
                return
        cursor.execute(
            f"DELETE FROM {table} WHERE NOT EXISTS"
            f" (SELECT 1 FROM customers_customer c WHERE c.id = {table}.customer_id)"
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


def _decode(column: str, labels: Sequence[str]) -> tuple[str, list[Any]]:
    """Return SQL turning a 1-based code column back into its text, and its parameters.

    PostgreSQL subscripts an array of the labels (one lookup per row); elsewhere a CASE.
    """
    if not labels:
        return "NULL", []
    if connection.vendor == "postgresql":
        return f"(%s::text[])[{column}]", [[str(label) for label in labels]]
    whens = " ".join(f"WHEN {code} THEN %s" for code in range(1, len(labels) + 1))
    return f"CASE {column} {whens} END", [str(label) for label in labels]


def _code_in(
    column: str, labels: Sequence[str], wanted: Iterable[str], *, negate: bool = False
) -> str:
    """Return an SQL test of a code column against the codes of `wanted` labels (inlined ints)."""
    codes = [str(code) for code, label in enumerate(labels, start=1) if label in set(wanted)]
    if not codes:
        return "TRUE" if negate else "FALSE"
    return f"{column} {'NOT IN' if negate else 'IN'} ({', '.join(codes)})"


#: The guard of every grade-state write of a run (DESIGN.md invariant 1): the customer is
#: not pinned, read from the row being updated. On PostgreSQL an UPDATE that waited for a
#: concurrent override re-checks its WHERE against the row's new version, which carries the
#: pin (`CustomerGrade.pinned`); a subquery on the override table would be re-read with the
#: statement's old snapshot instead. Tests replace it with "TRUE" to prove it matters.
PIN_GUARD = "NOT grading_customergrade.pinned"

#: Actions whose state write is guarded (pin and old grade); a refused one did not happen.
_GUARDED_ACTIONS = ("upgrade", "downgrade", "propose_downgrade", "warn", "under_target", "keep")
_MOVES = ("upgrade", "downgrade")
#: What a refused decision is recorded as: the pin that stopped it, or a change made while
#: the run was writing (a review decision) that it left alone.
_REFUSED_OUTCOMES = (
    ("pinned", "override"),
    ("locked", "appeal_lock"),
    ("keep", "changed_during_run"),
)

#: load.state: 0 no state write needed, 1 write intended, 2 written.
_NO_WRITE, _INTENDED, _WRITTEN = 0, 1, 2


def write_results(
    *,
    run: GradingRun,
    scores: pd.DataFrame,
    decisions: pd.DataFrame,
    rules: SchemeRules,
    now: dt.datetime,
) -> dict[str, int]:
    """Write one batch's grade states, then the history of what was written; return counts.

    Runs inside the caller's transaction. Every statement is set-based; re-running the same
    batch inserts nothing twice (unique constraints + conflict-ignoring inserts).

    One temporary table holds a row per customer (scores, decision, target grade). The grade
    states are written first, by guarded statements whose RETURNING names the rows that
    were actually written (`_states_write`). A decision whose write was refused (the
    customer was pinned, or their grade changed, after the extract) is recorded as what
    happened instead (`_refused_record`). Snapshots, changes, audit rows and the returned
    counters are then all read from the table: history is what was applied, never what the
    run intended (docs/operations.md, "Pins and the audit trail").
    """
    if scores.empty:
        return {}
    if not decisions.index.equals(scores.index):
        decisions = decisions.reindex(scores.index)
    grade_ids = rules.grade_ids
    labels: dict[str, list[str]] = {}

    def coded(name: str, series: pd.Series, always: Sequence[str] = ()) -> np.ndarray:
        codes, uniques = pd.factorize(series)
        labels[name] = [str(value) for value in uniques]
        # Codes a refused decision may be rewritten to exist whatever this batch decided.
        labels[name] += [extra for extra in always if extra not in labels[name]]
        return (codes + 1).astype(np.int16)

    def grade_pks(series: pd.Series) -> np.ndarray:
        """Ladder grade ids of grade codes; -1 where missing or not in the ladder."""
        codes, uniques = pd.factorize(series)
        lookup = np.array([grade_ids.get(str(u), -1) for u in uniques] + [-1], dtype=np.int64)
        return lookup[codes]

    columns: list[tuple[str, str, str]] = [
        ("customer_id", "bigint", "i8"),
        ("recency_days", "bigint", "i8"),  # -1: never ordered
        ("monetary_cents", "bigint", "i8"),
        ("first_half_cents", "bigint", "i8"),
        ("second_half_cents", "bigint", "i8"),
    ]
    values: list[np.ndarray] = [
        scores.index.to_numpy(dtype=np.int64),
        scores["recency_days"].to_numpy(dtype=np.int64, na_value=-1),
        scores["monetary_cents"].to_numpy(dtype=np.int64),
        scores["first_half_cents"].to_numpy(dtype=np.int64),
        scores["second_half_cents"].to_numpy(dtype=np.int64),
    ]
    for name in SNAPSHOT_SCORE_COLUMNS:
        if name in _CODED_COLUMNS:
            columns.append((name, "smallint", "i2"))
            values.append(coded(name, scores[name]))
        elif _SNAPSHOT_SQL_TYPES.get(name) == "double precision":
            columns.append((name, "double precision", "f8"))
            values.append(scores[name].to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            columns.append((name, "bigint", "i8"))
            values.append(scores[name].to_numpy(dtype=np.int64))
    computed = grade_pks(scores["grade"].astype("str"))
    after = grade_pks(decisions["new_grade"])
    # A pinned customer whose grade is not one of this ladder's keeps it (grade_after = pin).
    after = np.where(after < 0, computed, after)
    refused_actions = [action for action, _ in _REFUSED_OUTCOMES]
    refused_rules = [rule for _, rule in _REFUSED_OUTCOMES]
    columns += [
        ("computed_grade_id", "bigint", "i8"),
        ("grade_before_id", "bigint", "i8"),  # -1: none
        ("grade_after_id", "bigint", "i8"),
        ("target_grade_id", "bigint", "i8"),  # -1: no change
        ("action", "smallint", "i2"),
        ("rule", "smallint", "i2"),
        ("periods_under", "bigint", "i8"),
        ("state", "smallint", "i2"),
    ]
    values += [
        computed,
        grade_pks(decisions["old_grade"]),
        after,
        grade_pks(decisions["target_grade"]),
        coded("action", decisions["action"], refused_actions),
        coded("rule", decisions["rule"], refused_rules),
        decisions["periods_under"].to_numpy(dtype=np.int64),
        _state_writes(decisions),
    ]
    postgres = connection.vendor == "postgresql"
    if postgres:
        # Check the foreign keys left on the rows written here (their users' references, NULL
        # on a run's rows but queued all the same; customers are held by _customers_hold)
        # statement by statement: PostgreSQL runs a million of them 2-3x faster at the end of
        # each statement than queued until the commit. Django declares every FK DEFERRABLE
        # INITIALLY DEFERRED, so ALL DEFERRED at the end restores the transaction's default.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    _temp_load(_LOAD_TABLE, columns, values)
    _customers_hold(_LOAD_TABLE, len(scores))

    intended = int(np.count_nonzero(values[-1] == _INTENDED))
    written = _states_write(run=run, labels=labels["action"], now=now)
    refused = intended - written
    if refused:
        _refused_record(labels=labels)

    snapshots = _snapshots_insert(run=run, labels=labels)
    _history_write(run=run, labels=labels["action"], rule_labels=labels["rule"], now=now)
    with connection.cursor() as cursor:
        if refused:
            cursor.execute(f"SELECT action, count(*) FROM {_LOAD_TABLE} GROUP BY action")
            actions = {labels["action"][code - 1]: n for code, n in cursor.fetchall()}
        else:
            actions = decisions["action"].value_counts().to_dict()
        cursor.execute(f"DROP TABLE IF EXISTS {_LOAD_TABLE}")
        if postgres:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    counts = action_counts(actions)
    counts["scored"] = snapshots
    counts["refused"] = refused
    return counts


def action_counts(actions: dict[str, int]) -> dict[str, int]:
    """Return a run's counters from the number of customers per action (one mapping)."""
    get = lambda *names: int(sum(actions.get(name, 0) for name in names))  # noqa: E731
    return {
        "assigned": get("assign"),
        "upgraded": get("upgrade"),
        "warned": get("warn"),
        "downgrade_proposals": get("propose_downgrade"),
        "downgraded": get("downgrade"),
        "pinned": get("pinned", "locked"),
        "unchanged": get("keep", "under_target"),
    }


def _state_writes(decisions: pd.DataFrame) -> np.ndarray:
    """Return, per customer, whether the run intends to write its grade state (`load.state`).

    Assignments and every guarded action do, except a keep that leaves the counter as it
    was (most customers: their rows are not rewritten); pins write only a counter that moved.
    Without the counter before the run (`periods_under_before`, added by `decide`), every
    row is written, which is correct, only slower.
    """
    action = decisions["action"].astype("str")
    before = decisions.get("periods_under_before")
    moved = (
        decisions["periods_under"].to_numpy(dtype=np.int64)
        != before.fillna(-1).to_numpy(dtype=np.int64)
        if before is not None
        else np.ones(len(decisions), dtype=bool)
    )
    keep = action.isin(["keep", "pinned", "locked"]).to_numpy()
    write = action.isin(["assign", *_GUARDED_ACTIONS, "pinned", "locked"]).to_numpy()
    write = write & (~keep | moved)
    return np.where(write, _INTENDED, _NO_WRITE).astype(np.int16)


def _states_write(*, run: GradingRun, labels: Sequence[str], now: dt.datetime) -> int:
    """Write the intended grade states and mark the rows written; return how many.

    First grades are inserted where no state row exists yet (one created since the extract,
    by an override, wins). Every other intended row is one guarded UPDATE: the customer is
    not pinned (`PIN_GUARD`) and still has the grade the run decided from; a pin or lock
    only resets its counter. RETURNING names the rows written; on PostgreSQL they mark the
    load table in the same statement, elsewhere they come back to mark it.
    """
    moves = _code_in("l.action", labels, _MOVES)
    pins = _code_in("l.action", labels, ["pinned", "locked"])
    assign = _code_in("action", labels, ["assign"])
    insert = (
        "INSERT INTO grading_customergrade"
        " (customer_id, grade_id, since, periods_under, last_run_id, updated_at, pinned)"
        f" SELECT customer_id, target_grade_id, %s, 0, %s, %s, FALSE FROM {_LOAD_TABLE}"
        f" WHERE state = {_INTENDED} AND {assign}"
    )
    update = (
        "UPDATE grading_customergrade SET"
        f" grade_id = CASE WHEN {moves} THEN l.target_grade_id"
        "   ELSE grading_customergrade.grade_id END,"
        f" since = CASE WHEN {moves} THEN %s ELSE grading_customergrade.since END,"
        f" updated_at = CASE WHEN {moves} THEN %s ELSE grading_customergrade.updated_at END,"
        f" periods_under = CASE WHEN {moves} THEN 0 ELSE l.periods_under END,"
        " last_run_id = %s"
        f" FROM {_LOAD_TABLE} l"
        " WHERE grading_customergrade.customer_id = l.customer_id"
        f" AND l.state = {_INTENDED} AND NOT ({_code_in('l.action', labels, ['assign'])})"
        f" AND ({pins} OR ({PIN_GUARD}"
        "   AND grading_customergrade.grade_id = l.grade_before_id))"
    )
    written = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for sql, params in (
                (
                    insert + " ON CONFLICT DO NOTHING RETURNING customer_id",
                    [now, run.pk, now],
                ),
                (
                    update + " RETURNING grading_customergrade.customer_id",
                    [now, now, run.pk],
                ),
            ):
                cursor.execute(
                    f"WITH w AS ({sql}) UPDATE {_LOAD_TABLE} SET state = {_WRITTEN}"
                    f" FROM w WHERE {_LOAD_TABLE}.customer_id = w.customer_id",
                    params,
                )
                written += max(cursor.rowcount, 0)
            return written
        ids: list[int] = []
        cursor.execute(
            insert.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1) + " RETURNING customer_id",
            [now, run.pk, now],
        )
        ids += [row[0] for row in cursor.fetchall()]
        cursor.execute(update + " RETURNING grading_customergrade.customer_id", [now, now, run.pk])
        ids += [row[0] for row in cursor.fetchall()]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cursor.execute(
                f"UPDATE {_LOAD_TABLE} SET state = {_WRITTEN}"
                f" WHERE customer_id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
        return len(ids)


def _refused_record(*, labels: dict[str, list[str]]) -> None:
    """Rewrite the decisions whose state write was refused as what happened instead.

    Such a customer keeps the grade and counter their state row has now: "pinned" or
    "locked" when an override or appeal lock is active on them, else "keep" (their grade was
    changed by someone else while the run was writing). No change, audit row or counter
    comes from it.
    """
    action = labels["action"]
    rule = labels["rule"]
    code = {name: action.index(name) + 1 for name, _ in _REFUSED_OUTCOMES}
    rule_code = {name: rule.index(name) + 1 for _, name in _REFUSED_OUTCOMES}
    manual, appeal = GradeOverride.Source.MANUAL, GradeOverride.Source.APPEAL
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_LOAD_TABLE} SET"
            f" action = CASE o.source WHEN %s THEN {code['pinned']} WHEN %s THEN {code['locked']}"
            f"  ELSE {code['keep']} END,"
            f" rule = CASE o.source WHEN %s THEN {rule_code['override']}"
            f"  WHEN %s THEN {rule_code['appeal_lock']} ELSE {rule_code['changed_during_run']} END,"
            " grade_after_id = cg.grade_id, target_grade_id = -1,"
            " periods_under = cg.periods_under"
            " FROM grading_customergrade cg LEFT JOIN grading_gradeoverride o"
            "  ON o.customer_id = cg.customer_id AND o.ended_at IS NULL"
            f" WHERE cg.customer_id = {_LOAD_TABLE}.customer_id"
            f" AND {_LOAD_TABLE}.state = {_INTENDED}",
            [manual, appeal, manual, appeal],
        )


def _snapshots_insert(*, run: GradingRun, labels: dict[str, list[str]]) -> int:
    """Insert the batch's snapshots from the load table; return how many were new."""
    select: list[str] = ["%s", "customer_id", "NULLIF(recency_days, -1)"]
    params: list[Any] = [run.pk]
    select += [
        f"{cents} / 100.0" for cents in ("monetary_cents", "first_half_cents", "second_half_cents")
    ]
    for name in SNAPSHOT_SCORE_COLUMNS:
        if name in _CODED_COLUMNS:
            sql, extra = _decode(name, labels[name])
            select.append(sql)
            params += extra
        else:
            select.append("NULLIF(gap_cv, 'NaN')" if name == "gap_cv" else name)
    select += ["computed_grade_id", "NULLIF(grade_before_id, -1)", "grade_after_id"]
    for name in ("action", "rule"):
        sql, extra = _decode(name, labels[name])
        select.append(sql)
        params += extra
    select.append("periods_under")
    return _insert_ignore(
        "grading_scoresnapshot",
        [
            "run_id",
            "customer_id",
            "recency_days",
            "monetary",
            "first_half_amount",
            "second_half_amount",
            *SNAPSHOT_SCORE_COLUMNS,
            "computed_grade_id",
            "grade_before_id",
            "grade_after_id",
            "action",
            "rule",
            "periods_under",
        ],
        f"SELECT {', '.join(select)} FROM {_LOAD_TABLE}",
        params,
    )


CHANGE_ACTIONS = {
    "assign": (GradeChange.Direction.ASSIGN, GradeChange.Status.APPLIED),
    "upgrade": (GradeChange.Direction.UP, GradeChange.Status.APPLIED),
    "downgrade": (GradeChange.Direction.DOWN, GradeChange.Status.APPLIED),
    "propose_downgrade": (GradeChange.Direction.DOWN, GradeChange.Status.PROPOSED),
}


def _history_write(
    *, run: GradingRun, labels: Sequence[str], rule_labels: Sequence[str], now: dt.datetime
) -> None:
    """Write the batch's changes and their audit rows, after `_states_write`.

    Reads the load table (action and rule as codes of `labels` and `rule_labels`), where a
    change action is left only on rows whose state write happened: an applied change has
    exactly one audit row, and an upgrade supersedes a proposal only when it was applied.
    """
    is_change = _code_in("action", labels, CHANGE_ACTIONS)
    direction_sql, direction_params = _decode(
        "action", [str(CHANGE_ACTIONS[a][0]) if a in CHANGE_ACTIONS else "" for a in labels]
    )
    status_sql, status_params = _decode(
        "action", [str(CHANGE_ACTIONS[a][1]) if a in CHANGE_ACTIONS else "" for a in labels]
    )
    rule_sql, rule_params = _decode("rule", rule_labels)
    change_columns = [
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
    ]
    change_select = (
        f"SELECT customer_id, %s, NULLIF(grade_before_id, -1), target_grade_id, {direction_sql},"
        f" {status_sql}, %s, {rule_sql}, %s, %s, '' FROM {_LOAD_TABLE} WHERE {is_change}"
    )
    change_params = [
        run.pk,
        *direction_params,
        *status_params,
        "run",
        *rule_params,
        f"Grading run {run.as_of:%Y-%m-%d} ({run.scheme})",
        now,
    ]
    upgrades = _code_in("action", labels, ["upgrade"])
    with connection.cursor() as cursor:
        # An applied upgrade supersedes a downgrade proposal still waiting for review.
        cursor.execute(
            "UPDATE grading_gradechange SET status = %s, decided_at = %s,"
            " decision_note = %s WHERE status = %s AND customer_id IN"
            f" (SELECT customer_id FROM {_LOAD_TABLE} WHERE {upgrades})",
            [
                GradeChange.Status.SUPERSEDED,
                now,
                "Superseded by an upgrade in a later run.",
                GradeChange.Status.PROPOSED,
            ],
        )
        if connection.vendor == "postgresql":
            # The audit rows are those of the changes this statement inserted: no anti-join
            # against the audit table (which, planned without statistics on a first run, is
            # quadratic) and still exactly one per applied change however often it re-runs.
            cursor.execute(
                f"WITH inserted AS (INSERT INTO grading_gradechange ({', '.join(change_columns)})"
                f" {change_select} ON CONFLICT DO NOTHING"
                " RETURNING id, customer_id, from_grade_id, to_grade_id, source, reason, run_id,"
                "  status)"
                " INSERT INTO grading_gradeauditentry"
                " (customer_id, old_grade_id, new_grade_id, source, reason, actor_id, run_id,"
                "  change_id, created_at)"
                " SELECT customer_id, from_grade_id, to_grade_id, source, reason, NULL, run_id, id,"
                " %s FROM inserted WHERE status = %s",
                [*change_params, now, GradeChange.Status.APPLIED],
            )
            return
        _insert_ignore("grading_gradechange", change_columns, change_select, change_params)
        # One audit row per applied change of this run (NOT EXISTS keeps re-runs at one).
        cursor.execute(
            "INSERT INTO grading_gradeauditentry"
            " (customer_id, old_grade_id, new_grade_id, source, reason, actor_id, run_id,"
            "  change_id, created_at)"
            " SELECT c.customer_id, c.from_grade_id, c.to_grade_id, c.source, c.reason, NULL,"
            "  c.run_id, c.id, %s FROM grading_gradechange c"
            " WHERE c.run_id = %s AND c.status = %s AND NOT EXISTS"
            " (SELECT 1 FROM grading_gradeauditentry a WHERE a.change_id = c.id)",
            [now, run.pk, GradeChange.Status.APPLIED],
        )
