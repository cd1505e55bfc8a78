"""Provisional upgrades: a customer whose orders earn a higher grade gets it within seconds.

The seed rule for potential customers: "fast achievers upgraded in time, with an upgrade
notice". When the active scheme has `provisional_upgrades` on, every committed order write
(imports, the API, the admin) enqueues `grading.provisional_upgrade_check` for its customers
(`grading.handlers`). The check scores them alone, exactly as the whole population would
score them at the latest run, thanks to that run's cut points (`GradingRun.population_cuts`,
`grading.scoring.population`), through the same pure scoring and policy as a run:

- the scores are as of tomorrow (`as_of` = the local date after today), so the window ends
  after today's orders, like the next run's window, which ends at its period's end; the
  cut points are the latest succeeded run's of the active scheme (none yet: nothing to do);
- the policy decides with the customer's current state (`grading.policy.decide`): only its
  `upgrade` applies (rule 4, "score above the grade", acts at any run); everything else,
  downgrades above all, waits for the period-end run. Pins and appeal locks hold the grade
  as in a run (their rules come first), and a customer never graded waits for their first
  run;
- the upgrade is written like a review's: the customer's grade-state row locked (rows in
  primary-key order, after their open downgrade proposals: the lock order of
  `grading.services.reviews`), the state re-read under the lock, a guarded update (still
  the grade decided from, not pinned), a `GradeChange` and a `GradeAuditEntry` of source
  "provisional", a pending downgrade proposal superseded, all in one transaction; the
  customer's portal logins and account manager are told on commit.

Run twice, or by two workers at once, it upgrades once: the second finds the grade already
raised under the lock. A run writing meanwhile refuses to overwrite it (its guarded update
names the grade it decided from: `grading.pipeline.write`). The next run confirms the grade
or holds it by hysteresis; `grading.selectors.provisional_upgrade_latest` says which.
docs/grading-policy.md, "Provisional upgrades".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy

from common.services import NotificationDraft, notification_send_many
from customers.signals import customers_written_in_bulk_send
from grading.messages import CUSTOMER, STAFF, grade_param, run_params
from grading.models import (
    ChangeSource,
    CustomerGrade,
    Grade,
    GradeAuditEntry,
    GradeChange,
    GradingRun,
    GradingScheme,
)
from grading.pipeline import decide, extract
from grading.pipeline.rules import SchemeRules, scheme_rules
from grading.scoring import score_facts
from grading.scoring.population import PopulationCuts, breadth_completed

logger = logging.getLogger(__name__)

#: Customers per check task: a write enqueues one task per 500 of its customers.
#: The chunks are cut from sorted ids, so a chunk of a large import is one slice of the id
#: space, read as one range.
CHUNK_SIZE = 500
#: Ids closer than this share one extract range. Measured on PostgreSQL (2 cores, 20,000
#: customers): a range costs about 16 ms of statements, each customer read in it about 10 µs,
#: so reading up to 2,000 neighbours is cheaper than another range: 286 customers 70 ids
#: apart took 4.6 s as 286 ranges; 500 customers 40 ids apart 0.19 s as one range.
_RANGE_GAP = 2000

#: The decision note of a downgrade proposal a provisional upgrade supersedes.
PROPOSAL_SUPERSEDED_NOTE = gettext_lazy("Superseded: a provisional upgrade on %(date)s.")


@dataclass(frozen=True, slots=True)
class ProvisionalResult:
    """What one check did: customers scored, upgraded, and the run whose cuts it used."""

    scored: int = 0
    upgraded: int = 0
    run_id: int | None = None


def provisional_scheme_enabled() -> bool:
    """Return whether the active scheme upgrades between runs (one query; order writes ask)."""
    return GradingScheme.objects.filter(
        status=GradingScheme.Status.ACTIVE, provisional_upgrades=True
    ).exists()


def provisional_upgrade_enqueue(*, customer_ids: Iterable[int]) -> None:
    """Enqueue the check for `customer_ids` once this transaction commits.

    The order write paths call it (through `customers.signals.orders_written` and the
    order's `post_save`: `grading.handlers`). The scheme's setting is read at commit, one
    query, so a write whose scheme has provisional upgrades off costs nothing more inside
    its transaction; then one task per `CHUNK_SIZE` customers, never one per order.
    """
    ids = sorted({int(pk) for pk in customer_ids})
    if ids:
        transaction.on_commit(lambda: provisional_upgrade_tasks_send(customer_ids=ids))


def provisional_upgrade_tasks_send(*, customer_ids: list[int]) -> int:
    """Send the check tasks for `customer_ids` now (call on commit); return how many."""
    from grading.tasks import provisional_upgrade_check_task

    if not provisional_scheme_enabled():
        return 0
    chunks = [customer_ids[i : i + CHUNK_SIZE] for i in range(0, len(customer_ids), CHUNK_SIZE)]
    for chunk in chunks:
        provisional_upgrade_check_task.delay(chunk)
    return len(chunks)


def _latest_run(scheme: GradingScheme) -> GradingRun | None:
    """The latest succeeded run of `scheme` that kept its cut points."""
    return (
        GradingRun.objects.filter(scheme=scheme, status=GradingRun.Status.SUCCEEDED)
        .exclude(population_cuts={})
        .order_by("-as_of", "-pk")
        .first()
    )


def _id_ranges(ids: list[int]) -> list[tuple[int, int]]:
    """Half-open id ranges covering sorted `ids`, neighbours closer than `_RANGE_GAP` merged."""
    ranges: list[tuple[int, int]] = []
    for pk in ids:
        if ranges and pk - ranges[-1][1] < _RANGE_GAP:
            ranges[-1] = (ranges[-1][0], pk + 1)
        else:
            ranges.append((pk, pk + 1))
    return ranges


def _score(
    ids: list[int], *, rules: SchemeRules, cuts: PopulationCuts, as_of: dt.date
) -> pd.DataFrame:
    """Score `ids` alone at `as_of` against the population `cuts` (the run's own scoring).

    The ranges are read one after the other on this connection (inside a read-only
    transaction the backend does not open a second one per range), then scored in one pass.
    """
    parts = []
    with transaction.atomic():
        for id_range in _id_ranges(ids):
            facts = extract.extract_facts(as_of=as_of, params=rules.params, id_range=id_range)
            parts.append(facts[facts.index.isin(ids)])
    if not parts or all(part.empty for part in parts):
        return pd.DataFrame()
    facts = pd.concat(parts)
    complete = breadth_completed(cuts, facts.loc[facts["frequency"] >= 1, "categories"].tolist())
    return score_facts(facts, params=rules.params, ladder=rules.ladder, cuts=complete)


def _states_lock(ids: list[int]) -> None:
    """Lock the open proposals, then the grade-state rows of `ids`, each in pk order.

    The lock order of `grading.services.reviews` and `overrides`: a reviewer, an override
    or a second check of the same customer waits here until this one commits.
    """
    list(
        GradeChange.objects.select_for_update()
        .filter(customer_id__in=ids, status=GradeChange.Status.PROPOSED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    list(
        CustomerGrade.objects.select_for_update()
        .filter(customer_id__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _grade_raise(
    *, customer_id: int, from_grade_id: int, to_grade_id: int, now: dt.datetime
) -> bool:
    """Move the customer's grade up, only while it is still `from_grade_id` and not pinned."""
    return bool(
        CustomerGrade.objects.filter(
            customer_id=customer_id, grade_id=from_grade_id, pinned=False
        ).update(grade_id=to_grade_id, since=now, periods_under=0, updated_at=now)
    )


def grade_provisional_upgrade_check(
    *, customer_ids: Iterable[int], now: dt.datetime | None = None
) -> ProvisionalResult:
    """Upgrade those of `customer_ids` whose score now earns a higher grade; return counts.

    See the module doc: scored as of tomorrow against the latest run's cut points, decided
    by the grade policy, only upgrades applied (audited as source "provisional"), pins and
    locks respected, idempotent and race-safe. Does nothing while the active scheme has
    provisional upgrades off or has no succeeded run yet.
    """
    now = now or timezone.now()
    ids = sorted({int(pk) for pk in customer_ids})
    scheme = GradingScheme.objects.filter(
        status=GradingScheme.Status.ACTIVE, provisional_upgrades=True
    ).first()
    if not ids or scheme is None:
        return ProvisionalResult()
    run = _latest_run(scheme)
    if run is None:
        return ProvisionalResult()
    rules = scheme_rules(scheme)
    today = timezone.localdate(now)
    scores = _score(
        ids,
        rules=rules,
        cuts=PopulationCuts.from_json(run.population_cuts),
        as_of=today + dt.timedelta(days=1),
    )
    if scores.empty:
        return ProvisionalResult(run_id=run.pk)
    # Only customers already graded below their computed grade can be upgraded: the rest
    # take no lock. Ranks are compared by ladder position (highest first).
    positions = {code: i for i, code in enumerate(rules.policy_ladder.codes)}
    current = dict(
        CustomerGrade.objects.filter(customer_id__in=scores.index.tolist()).values_list(
            "customer_id", "grade_id"
        )
    )
    codes = rules.grade_codes
    candidates = [
        pk
        for pk, computed in scores["grade"].astype("str").items()
        if pk in current
        and codes.get(current[pk]) in positions
        and positions[computed] < positions[codes[current[pk]]]
    ]
    upgraded: list[GradeChange] = []
    if candidates:
        with transaction.atomic():
            _states_lock(candidates)
            # Read under the locks: what a concurrent check, review or override committed.
            state = extract.extract_state(as_of=today, customer_ids=candidates)
            decisions = decide.decide(scores.loc[candidates], state, rules=rules, as_of=today)
            ups = decisions[decisions["action"] == "upgrade"]
            for customer_id, old, new, withdraw in zip(
                ups.index.tolist(),
                ups["old_grade"].tolist(),
                ups["new_grade"].tolist(),
                ups["withdraw_proposal"].tolist(),
                strict=True,
            ):
                change = _upgrade_apply(
                    customer_id=int(customer_id),
                    from_grade_id=rules.grade_ids[str(old)],
                    to_grade_id=rules.grade_ids[str(new)],
                    withdraw=bool(withdraw),
                    now=now,
                )
                if change is not None:
                    upgraded.append(change)
            if upgraded:
                customers_written_in_bulk_send(
                    model=CustomerGrade, customer_ids=[c.customer_id for c in upgraded]
                )
                _notify(upgraded, scores=scores, run=run)
    logger.info(
        "Provisional check of %d customers against run %s: %d upgraded.",
        len(scores),
        run.pk,
        len(upgraded),
    )
    return ProvisionalResult(scored=len(scores), upgraded=len(upgraded), run_id=run.pk)


def _upgrade_apply(
    *, customer_id: int, from_grade_id: int, to_grade_id: int, withdraw: bool, now: dt.datetime
) -> GradeChange | None:
    """Raise the grade (guarded), supersede a pending proposal, write the change and audit."""
    if not _grade_raise(
        customer_id=customer_id, from_grade_id=from_grade_id, to_grade_id=to_grade_id, now=now
    ):
        return None
    if withdraw:
        GradeChange.objects.filter(
            customer_id=customer_id, status=GradeChange.Status.PROPOSED
        ).update(
            status=GradeChange.Status.SUPERSEDED,
            decided_at=now,
            decision_note=str(PROPOSAL_SUPERSEDED_NOTE)
            % {"date": f"{timezone.localdate(now):%Y-%m-%d}"},
        )
    change = GradeChange.objects.create(
        customer_id=customer_id,
        from_grade_id=from_grade_id,
        to_grade_id=to_grade_id,
        direction=GradeChange.Direction.UP,
        status=GradeChange.Status.APPLIED,
        source=ChangeSource.PROVISIONAL,
        rule="score_above_grade",
        decided_at=now,
    )
    GradeAuditEntry.objects.create(
        customer_id=customer_id,
        old_grade_id=from_grade_id,
        new_grade_id=to_grade_id,
        source=ChangeSource.PROVISIONAL,
        change=change,
    )
    return change


def _notify(changes: list[GradeChange], *, scores: pd.DataFrame, run: GradingRun) -> None:
    """Tell the account managers and the customers' portal logins (on commit, once each)."""
    from customers.models import Customer
    from customers.selectors import portal_logins

    customers = Customer.objects.in_bulk([c.customer_id for c in changes])
    grades = Grade.objects.in_bulk([c.to_grade_id for c in changes])
    run_named = run_params(run.scheme.name, run.scheme.version, run.as_of)
    composites = dict(
        zip(scores.index.tolist(), scores["composite"].astype(float).tolist(), strict=True)
    )
    by_customer = {change.customer_id: change for change in changes}
    drafts = []
    for change in changes:
        customer = customers[change.customer_id]
        common = {
            "action": "provisional_upgrade",
            "grade": grade_param(grades[change.to_grade_id]),
            "date": f"{timezone.localdate(change.decided_at):%Y-%m-%d}",
        }
        if customer.account_manager_id is not None:
            drafts.append(
                NotificationDraft(
                    recipient_id=customer.account_manager_id,
                    kind="grade_provisional_upgrade",
                    params={
                        **common,
                        "audience": STAFF,
                        "customer": f"{customer.code} {customer.name}",
                        "score": composites[change.customer_id],
                        "run": run_named,
                    },
                    link=reverse("manager:customer", args=[customer.pk]),
                    dedupe_key=f"provisional:{change.pk}",
                )
            )
    for user_id, customer_id in portal_logins(customers):
        change = by_customer[customer_id]
        drafts.append(
            NotificationDraft(
                recipient_id=user_id,
                kind="grade_provisional_upgrade",
                params={
                    "action": "provisional_upgrade",
                    "audience": CUSTOMER,
                    "grade": grade_param(grades[change.to_grade_id]),
                    "date": f"{timezone.localdate(change.decided_at):%Y-%m-%d}",
                },
                link=reverse("portal:home"),
                dedupe_key=f"provisional:{change.pk}",
            )
        )
    notification_send_many(drafts=drafts)
