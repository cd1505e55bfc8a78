"""Grades, versioned grading schemes, runs, snapshots and the audited history of changes.

Invariants held by the database (docs/architecture.md, "Invariants"):
- one active scheme; one ladder row per (scheme, grade);
- one run per (scheme, as_of); one snapshot and at most one change per (customer, run);
- one active override and one open downgrade proposal per customer.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar, TypedDict

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from customers.models import MONEY, Customer


class _DecimalOptions(TypedDict):
    """Keyword arguments shared by DecimalFields (typed, so `**WEIGHT` type-checks)."""

    max_digits: int
    decimal_places: int
    validators: list[Callable[[Any], None]]


class _UncheckedKey(TypedDict):
    """Foreign-key keyword arguments: no database constraint (typed, as above)."""

    db_constraint: bool


class _UncheckedKeyOnDelete(_UncheckedKey):
    on_delete: Callable[..., None]


class _UncheckedUnindexedKey(_UncheckedKeyOnDelete):
    db_index: bool


WEIGHT: _DecimalOptions = {
    "max_digits": 7,
    "decimal_places": 3,
    "validators": [MinValueValidator(0)],
}
SCORE: _DecimalOptions = {
    "max_digits": 6,
    "decimal_places": 2,
    "validators": [MinValueValidator(0), MaxValueValidator(100)],
}
#: How the history tables (snapshots, changes, audit rows) refer to a grade: protected in the
#: ORM (a grade that was ever held cannot be deleted, and grades are never deleted in the
#: admin), but with no database trigger and no index. A grading run writes a million of these
#: references at a time, all to the handful of ladder ids it read in the same transaction;
#: the per-row foreign-key checks and index upkeep were most of the run's write time, and no
#: query looks these rows up by grade alone (reports filter by run first).
HISTORY_GRADE: _UncheckedUnindexedKey = {
    "on_delete": models.PROTECT,
    "db_constraint": False,
    "db_index": False,
}
#: How the history tables refer to the run that wrote them (and the audit rows to their
#: change): deleted with it, or nulled, by the ORM's on_delete; no per-row database trigger for
#: the same reason.
HISTORY_RUN: _UncheckedKey = {"db_constraint": False}
#: How the tables a grading run writes a row per customer to (snapshots, changes, audit rows,
#: grade states) refer to the customer: deleted with it, by the ORM's cascade and, whoever
#: deletes the customer, by a database trigger on the customer table (migration 0008); no
#: per-row foreign-key check on insert. A run checks its customers once, set-based: it locks
#: the rows of the customers it writes (FOR KEY SHARE, as each foreign-key check would) and
#: drops any deleted since it read them, so a delete waits for the run's commit and then takes
#: the run's rows with it. One statement instead of a million checks of about 8 us each per
#: table (a third of a run's write time at 1M customers).
RUN_WRITTEN_CUSTOMER: _UncheckedKeyOnDelete = {"on_delete": models.CASCADE, "db_constraint": False}


class Cadence(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")


#: A grade's colour: "#" and six hex digits, what `<input type=color>` gives too.
HEX_COLOUR = RegexValidator(
    r"^#[0-9a-fA-F]{6}$",
    _("Enter a colour as # followed by six hex digits, for example #1d4ed8."),
    code="invalid_colour",
)


class Grade(models.Model):
    """A tier customers are sorted into. Its rules, review cadence included, live in each
    scheme's ladder (`SchemeGrade`): the rung is the one place a grade's cadence is kept."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    rank = models.PositiveSmallIntegerField(
        _("rank"), unique=True, help_text=_("Higher is better.")
    )
    description = models.TextField(_("description"), blank=True)
    service_level = models.CharField(
        _("service level"),
        max_length=200,
        blank=True,
        help_text=_("What the customer can expect, e.g. 'First response within 1 hour'."),
    )
    first_response_minutes = models.PositiveIntegerField(
        _("first response target (minutes)"), null=True, blank=True
    )
    color = models.CharField(
        _("colour"),
        max_length=7,
        default="#64748b",
        validators=[HEX_COLOUR],
        help_text=_(
            "The grade pill's background on the portal and manager pages, as #RRGGBB "
            "(e.g. #1d4ed8); the text is black or white, whichever reads better."
        ),
    )

    # name, description and service_level have an English and a Chinese column, and the
    # grade's history is registered after them, in grading/translation.py. The manager is
    # declared so type checkers know it: modeltranslation swaps its class at start-up.
    objects: ClassVar[models.Manager[Grade]] = models.Manager()

    class Meta:
        verbose_name = _("grade")
        verbose_name_plural = _("grades")
        ordering = ["-rank"]

    def __str__(self) -> str:
        return self.name


class GradingScheme(models.Model):
    """A versioned set of weights, windows and the grade ladder.

    Drafts are edited freely; an active scheme is never edited in place: revising it creates
    the next version (`grading.services.scheme_revise`) so past runs stay explainable.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        RETIRED = "retired", _("Retired")

    class RfmMethod(models.TextChoices):
        QUINTILE = "quintile", _("Quintile ranks")
        THRESHOLDS = "thresholds", _("Fixed thresholds")

    name = models.CharField(_("name"), max_length=100)
    version = models.PositiveIntegerField(_("version"), default=1)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    description = models.TextField(_("description"), blank=True)
    based_on = models.ForeignKey(
        "self",
        verbose_name=_("based on"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="revisions",
    )

    window_days = models.PositiveIntegerField(
        _("window (days)"), default=365, validators=[MinValueValidator(1)]
    )
    rfm_method = models.CharField(
        _("R/F/M scoring"), max_length=12, choices=RfmMethod.choices, default=RfmMethod.QUINTILE
    )
    r_thresholds = models.JSONField(
        _("recency thresholds (days) for scores 5,4,3,2"), default=list, blank=True
    )
    f_thresholds = models.JSONField(
        _("frequency thresholds for scores 2,3,4,5"), default=list, blank=True
    )
    m_thresholds = models.JSONField(
        _("monetary thresholds for scores 2,3,4,5"), default=list, blank=True
    )
    weight_r = models.DecimalField(_("weight R"), default=Decimal("1"), **WEIGHT)
    weight_f = models.DecimalField(_("weight F"), default=Decimal("1"), **WEIGHT)
    weight_m = models.DecimalField(_("weight M"), default=Decimal("1"), **WEIGHT)
    weight_historical = models.DecimalField(
        _("weight historical"), default=Decimal("0.6"), **WEIGHT
    )
    weight_potential = models.DecimalField(_("weight potential"), default=Decimal("0.3"), **WEIGHT)
    weight_cooperation = models.DecimalField(
        _("weight cooperation"), default=Decimal("0.1"), **WEIGHT
    )
    weight_breadth = models.DecimalField(_("weight breadth"), default=Decimal("0.25"), **WEIGHT)
    weight_stability = models.DecimalField(_("weight stability"), default=Decimal("0.25"), **WEIGHT)
    weight_growth = models.DecimalField(_("weight growth"), default=Decimal("0.25"), **WEIGHT)
    weight_industry = models.DecimalField(_("weight industry"), default=Decimal("0.25"), **WEIGHT)
    industry_priors = models.JSONField(
        _("industry priors"),
        default=dict,
        blank=True,
        help_text=_('Industry to a prior between 0 and 1, e.g. {"retail": 0.6}.'),
    )
    default_industry_prior = models.DecimalField(
        _("default industry prior"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.5"),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    weight_campaign = models.DecimalField(_("weight campaigns"), default=Decimal("0.3"), **WEIGHT)
    weight_referral = models.DecimalField(_("weight referrals"), default=Decimal("0.2"), **WEIGHT)
    weight_complaint = models.DecimalField(_("weight complaints"), default=Decimal("0.2"), **WEIGHT)
    weight_on_time = models.DecimalField(_("weight on-time"), default=Decimal("0.2"), **WEIGHT)
    weight_review = models.DecimalField(_("weight reviews"), default=Decimal("0.1"), **WEIGHT)
    referral_cap = models.PositiveIntegerField(
        _("referrals for full score"), default=3, validators=[MinValueValidator(1)]
    )
    review_cap = models.PositiveIntegerField(
        _("reviews for full score"), default=5, validators=[MinValueValidator(1)]
    )
    points_rate = models.DecimalField(
        _("cooperation points per growth point"),
        max_digits=7,
        decimal_places=4,
        default=Decimal("0.1"),
        validators=[MinValueValidator(0)],
    )
    points_cap = models.DecimalField(
        _("maximum cooperation points from growth points"), default=Decimal("20"), **SCORE
    )
    new_days = models.PositiveIntegerField(_("'new' for (days)"), default=90)
    dormant_days = models.PositiveIntegerField(_("dormant after (days)"), default=180)
    churn_days = models.PositiveIntegerField(_("churned after (days)"), default=365)
    growth_ratio = models.DecimalField(
        _("growing when second half >= ratio x first half"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("1.2"),
        validators=[MinValueValidator(0)],
    )
    pyramid_top = models.DecimalField(
        _("pyramid: top share"), max_digits=5, decimal_places=4, default=Decimal("0.01")
    )
    pyramid_large = models.DecimalField(
        _("pyramid: top + large share"), max_digits=5, decimal_places=4, default=Decimal("0.05")
    )
    pyramid_medium = models.DecimalField(
        _("pyramid: top + large + medium share"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.20"),
    )
    rfm_within_pyramid = models.BooleanField(
        _("score RFM inside each pyramid layer"), default=False
    )
    provisional_upgrades = models.BooleanField(
        _("upgrade as soon as an order qualifies"),
        default=False,
        help_text=_(
            "Between runs, an order that lifts a customer above a higher grade upgrades them "
            "within seconds, scored against the latest run's population; the next run "
            "confirms or holds the upgrade. Downgrades still wait for the runs."
        ),
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("grading scheme")
        verbose_name_plural = _("grading schemes")
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="scheme_name_version_unique"),
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="scheme_one_active"
            ),
            models.CheckConstraint(
                condition=Q(pyramid_top__lte=models.F("pyramid_large"))
                & Q(pyramid_large__lte=models.F("pyramid_medium"))
                & Q(pyramid_medium__lte=1),
                name="scheme_pyramid_cuts_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.get_status_display()})"


class SchemeGrade(models.Model):
    """One rung of a scheme's ladder: when a customer reaches a grade and how they lose it."""

    scheme = models.ForeignKey(
        GradingScheme, verbose_name=_("scheme"), on_delete=models.CASCADE, related_name="ladder"
    )
    grade = models.ForeignKey(
        Grade, verbose_name=_("grade"), on_delete=models.PROTECT, related_name="scheme_rules"
    )
    min_score = models.DecimalField(_("minimum composite score"), **SCORE)
    min_frequency = models.PositiveIntegerField(_("gate: minimum orders in window"), default=0)
    min_monetary = models.DecimalField(
        _("gate: minimum net purchases in window"), default=Decimal("0"), **MONEY
    )
    hysteresis = models.DecimalField(
        _("hysteresis margin"),
        default=Decimal("0"),
        help_text=_(
            "Points below the minimum score that still count as on target, for a customer who "
            "passes every gate: a failed gate is never forgiven."
        ),
        **SCORE,
    )
    cadence = models.CharField(
        _("review cadence"),
        max_length=10,
        choices=Cadence.choices,
        default=Cadence.MONTHLY,
        help_text=_(
            "Which runs review this grade: every monthly run, or only the runs dated on a "
            "quarter start (1 January, April, July, October)."
        ),
    )
    # The defaults are the monthly ones; a quarterly rung defaults to 2 and 3 (policy
    # DEFAULT_COUNTS), which the ladder form fills in (grading.admin.schemes).
    warn_after = models.PositiveSmallIntegerField(
        _("warn after (reviews under target)"),
        default=1,
        help_text=_(
            "Consecutive reviews under target before the manager is warned; 0: no warning. "
            "Default: 1 for a monthly grade, 2 for a quarterly one."
        ),
    )
    downgrade_after = models.PositiveSmallIntegerField(
        _("downgrade after (reviews under target)"),
        default=2,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Consecutive reviews under target before a one-step downgrade (proposed when it "
            "needs review). Default: 2 for a monthly grade, 3 for a quarterly one."
        ),
    )
    downgrade_needs_review = models.BooleanField(_("downgrade needs review"), default=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("ladder rung")
        verbose_name_plural = _("grade ladder")
        ordering = ["scheme", "-grade__rank"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "grade"], name="ladder_grade_once"),
            models.CheckConstraint(
                condition=Q(warn_after__lte=models.F("downgrade_after")),
                name="ladder_warn_before_downgrade",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grade} ≥ {self.min_score}"


class CustomerGrade(models.Model):
    """A customer's current grade and the policy state the next run needs.

    Written by the engine only through conditional, column-limited updates; a pinned grade
    (override or appeal lock) lives in `GradeOverride` and is never overwritten by a run.
    `pinned` mirrors "an active GradeOverride exists" on this row: the override services set
    and clear it in the transaction that writes the override, so a run's guarded UPDATE that
    waits for that row re-checks the pin on the row's new version (PostgreSQL re-evaluates
    only the target row's columns, not subqueries, after a concurrent update).
    """

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        primary_key=True,
        related_name="grade_state",
        **RUN_WRITTEN_CUSTOMER,
    )
    grade = models.ForeignKey(
        Grade,
        verbose_name=_("grade"),
        on_delete=models.PROTECT,
        related_name="customer_states",
        db_index=False,  # customer_grade_grade_idx
        db_constraint=False,  # as HISTORY_GRADE: a run writes a million of them at once
    )
    since = models.DateTimeField(_("grade since"))
    periods_under = models.PositiveSmallIntegerField(_("periods under target"), default=0)
    pinned = models.BooleanField(
        _("pinned"),
        default=False,
        help_text=_(
            "An override or appeal lock is active. Set and cleared with the override, on this "
            "row, so a run's guarded update is re-checked against it (docs/operations.md)."
        ),
    )
    last_run = models.ForeignKey(
        "GradingRun",
        verbose_name=_("last changed by run"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        help_text=_("The run that last changed this grade or its periods under target."),
        **HISTORY_RUN,
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("customer grade")
        verbose_name_plural = _("customer grades")
        indexes = [models.Index(fields=["grade"], name="customer_grade_grade_idx")]

    def __str__(self) -> str:
        """ "Liu Jing: Growth" (reads the customer and the grade: select them in lists)."""
        return gettext("%(customer)s: %(grade)s") % {
            "customer": self.customer.name,
            "grade": self.grade.name if self.grade_id else "—",
        }


class GradingRun(models.Model):
    """One grading of the population for (scheme, as_of); idempotent and unique."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Phase(models.TextChoices):
        """Where a running run is (`grading.services.runs` records it as it goes)."""

        QUEUED = "queued", _("Queued")
        EXTRACT = "extract", _("Reading orders and activity")
        SCORE = "score", _("Scoring")
        DECIDE = "decide", _("Deciding grades")
        WRITE = "write", _("Writing grades")
        FINISHING = "finishing", _("Finishing")

    scheme = models.ForeignKey(
        GradingScheme, verbose_name=_("scheme"), on_delete=models.PROTECT, related_name="runs"
    )
    as_of = models.DateField(_("as of"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    triggered_by = models.CharField(_("triggered by"), max_length=100, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    duration_seconds = models.FloatField(_("duration (s)"), null=True, blank=True)
    phase_seconds = models.JSONField(
        _("seconds per phase"),
        default=dict,
        blank=True,
        help_text=_("Wall time of extract, score, decide and write."),
    )
    shards = models.PositiveIntegerField(_("shards"), default=1)
    population_cuts = models.JSONField(
        _("population cut points"),
        default=dict,
        blank=True,
        help_text=_(
            "Quintile, pyramid and breadth cut points of the run's population; provisional "
            "upgrades between runs score against the latest run's."
        ),
    )
    scored = models.PositiveIntegerField(_("scored"), default=0)
    assigned = models.PositiveIntegerField(_("first grades"), default=0)
    upgraded = models.PositiveIntegerField(_("upgraded"), default=0)
    warned = models.PositiveIntegerField(_("warned"), default=0)
    downgrade_proposals = models.PositiveIntegerField(_("downgrade proposals"), default=0)
    downgraded = models.PositiveIntegerField(_("downgraded"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    pinned = models.PositiveIntegerField(_("pinned"), default=0)
    error = models.TextField(_("error"), blank=True)
    # Progress, written by the run's lifecycle outside its write transaction (so a run whose
    # write rolls back still shows the phase it stopped in): docs/operations.md.
    phase = models.CharField(_("phase"), max_length=10, choices=Phase.choices, blank=True)
    progress_done = models.PositiveIntegerField(_("customers done"), default=0)
    progress_total = models.PositiveIntegerField(_("customers in all"), default=0)
    progress_at = models.DateTimeField(_("progress recorded at"), null=True, blank=True)
    # Retention (grading.services.snapshots): set when the run's snapshots left the database.
    snapshots_archived_at = models.DateTimeField(_("snapshots archived at"), null=True, blank=True)
    snapshots_archive = models.CharField(
        _("snapshot archive"),
        max_length=500,
        blank=True,
        help_text=_(
            "The Parquet file holding the run's snapshots once they left the database; empty "
            "while they are in it, or when they were dropped unarchived."
        ),
    )
    snapshots_archived_rows = models.PositiveIntegerField(_("snapshots archived"), default=0)
    snapshots_archived_by = models.CharField(_("snapshots archived by"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("grading run")
        verbose_name_plural = _("grading runs")
        ordering = ["-as_of", "-id"]
        permissions = [("run_grading", _("Can start a grading run"))]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "as_of"], name="run_once_per_period"),
        ]

    def __str__(self) -> str:
        """The scheme and the period graded: "default v1, November 2026"."""
        from grading.labels import run_label

        return run_label(self)


class ScoreSnapshot(models.Model):
    """Every input and component score of one customer in one run, so a grade can be explained."""

    run = models.ForeignKey(
        GradingRun,
        verbose_name=_("run"),
        on_delete=models.CASCADE,
        related_name="snapshots",
        db_index=False,  # snapshot_once_per_run leads with run
        **HISTORY_RUN,
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        related_name="snapshots",
        db_index=False,  # snapshot_customer_idx leads with customer
        **RUN_WRITTEN_CUSTOMER,
    )
    # Inputs (facts of the window).
    recency_days = models.IntegerField(_("recency (days)"), null=True, blank=True)
    frequency = models.IntegerField(_("frequency"))
    monetary = models.DecimalField(_("monetary"), **MONEY)
    categories = models.IntegerField(_("categories"), default=0)
    first_half_amount = models.DecimalField(_("first-half purchases"), **MONEY)
    second_half_amount = models.DecimalField(_("second-half purchases"), **MONEY)
    gap_cv = models.FloatField(_("order gap variation"), null=True, blank=True)
    # The window's recorded profit and its orders without one (not scoring inputs: for the
    # reports and the what-if); NULL on snapshots written before they were kept.
    window_profit_cents = models.BigIntegerField(_("window profit in cents"), null=True, blank=True)
    unknown_profit = models.IntegerField(
        _("orders without a recorded profit"), null=True, blank=True
    )
    campaign_invitations = models.IntegerField(default=0)
    campaign_joins = models.IntegerField(default=0)
    referrals = models.IntegerField(default=0)
    complaints = models.IntegerField(default=0)
    reviews = models.IntegerField(default=0)
    on_time_orders = models.IntegerField(default=0)
    rated_orders = models.IntegerField(default=0)
    growth_points = models.IntegerField(default=0)
    # Scores.
    r_score = models.PositiveSmallIntegerField(_("R score"))
    f_score = models.PositiveSmallIntegerField(_("F score"))
    m_score = models.PositiveSmallIntegerField(_("M score"))
    rfm_segment = models.CharField(_("RFM segment"), max_length=20)
    rfm_label = models.CharField(_("RFM label"), max_length=20)
    lifecycle = models.CharField(_("lifecycle stage"), max_length=10)
    pyramid = models.CharField(_("value pyramid"), max_length=10)
    breadth = models.FloatField(default=0)
    stability = models.FloatField(default=0)
    growth = models.FloatField(default=0)
    industry_prior = models.FloatField(default=0)
    campaign_rate = models.FloatField(default=0)
    referral_score = models.FloatField(default=0)
    complaint_score = models.FloatField(default=0)
    on_time_rate = models.FloatField(default=0)
    review_score = models.FloatField(default=0)
    points_bonus = models.FloatField(default=0)
    historical = models.FloatField(_("historical value"))
    potential = models.FloatField(_("potential value"))
    cooperation = models.FloatField(_("cooperation value"))
    composite = models.FloatField(_("composite"))
    computed_grade = models.ForeignKey(
        Grade, verbose_name=_("computed grade"), related_name="+", **HISTORY_GRADE
    )
    # Decision.
    grade_before = models.ForeignKey(
        Grade,
        verbose_name=_("grade before"),
        null=True,
        blank=True,
        related_name="+",
        **HISTORY_GRADE,
    )
    grade_after = models.ForeignKey(
        Grade, verbose_name=_("grade after"), related_name="+", **HISTORY_GRADE
    )
    action = models.CharField(_("decision"), max_length=20)
    rule = models.CharField(_("rule"), max_length=30)
    periods_under = models.PositiveSmallIntegerField(_("periods under target"), default=0)

    class Meta:
        verbose_name = _("score snapshot")
        verbose_name_plural = _("score snapshots")
        constraints = [
            models.UniqueConstraint(fields=["run", "customer"], name="snapshot_once_per_run"),
        ]
        indexes = [models.Index(fields=["customer", "run"], name="snapshot_customer_idx")]

    def __str__(self) -> str:
        """ "Liu Jing in default v1, November 2026"."""
        return gettext("%(customer)s in %(run)s") % {
            "customer": self.customer.name,
            "run": self.run,
        }


class ChangeSource(models.TextChoices):
    RUN = "run", _("Grading run")
    PROVISIONAL = "provisional", _("Provisional upgrade")
    REVIEW = "review", _("Review decision")
    OVERRIDE = "override", _("Override")
    APPEAL = "appeal", _("Appeal")
    IMPORT = "import", _("Import")
    MANUAL = "manual", _("Manual")


class GradeChange(models.Model):
    """A grade change a run made or proposed; proposals wait for review."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        APPLIED = "applied", _("Applied")
        REJECTED = "rejected", _("Rejected")
        SUPERSEDED = "superseded", _("Superseded")

    class Direction(models.TextChoices):
        ASSIGN = "assign", _("First grade")
        UP = "up", _("Upgrade")
        DOWN = "down", _("Downgrade")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        related_name="grade_changes",
        db_index=False,  # change_customer_idx leads with customer
        **RUN_WRITTEN_CUSTOMER,
    )
    run = models.ForeignKey(
        GradingRun,
        verbose_name=_("run"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="changes",
        **HISTORY_RUN,
    )
    from_grade = models.ForeignKey(
        Grade,
        verbose_name=_("from grade"),
        null=True,
        blank=True,
        related_name="+",
        **HISTORY_GRADE,
    )
    to_grade = models.ForeignKey(
        Grade, verbose_name=_("to grade"), related_name="+", **HISTORY_GRADE
    )
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    source = models.CharField(_("source"), max_length=12, choices=ChangeSource.choices)
    rule = models.CharField(_("rule"), max_length=30, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        verbose_name = _("grade change")
        verbose_name_plural = _("grade changes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "run"],
                condition=Q(run__isnull=False),
                name="change_once_per_run",
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status="proposed"),
                name="change_one_open_proposal",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="change_status_idx"),
            models.Index(fields=["customer", "created_at"], name="change_customer_idx"),
        ]

    def __str__(self) -> str:
        """ "Liu Jing: Growth → Standard, proposed Dec. 1, 2026", in the reader's language.

        The admin's page title and messages use it; lists select the customer and both
        grades with the changes (`list_select_related`), so it costs no query there.
        """
        day = self.decided_at if self.decided_at and self.status != self.Status.PROPOSED else None
        day = day or self.created_at
        values = {
            "customer": self.customer.name,
            "from": self.from_grade.name if self.from_grade else "—",
            "to": self.to_grade.name,
            "date": date_format(timezone.localdate(day), "DATE_FORMAT") if day else "",
        }
        return str(CHANGE_TITLES[self.status]) % values

    @property
    def reason_text(self) -> str:
        """Why the grade changed, in the reader's language (`grading.labels.change_reason`);
        select the run with the change where a list shows it."""
        from grading.labels import change_reason

        return change_reason(self.source, self.reason, self.run if self.run_id else None)


#: A grade change's title by its status (`GradeChange.__str__`); whole sentences, so that a
#: translation may reorder them.
CHANGE_TITLES: dict[str, Any] = {
    GradeChange.Status.PROPOSED: _("%(customer)s: %(from)s → %(to)s, proposed %(date)s"),
    GradeChange.Status.APPLIED: _("%(customer)s: %(from)s → %(to)s, applied %(date)s"),
    GradeChange.Status.REJECTED: _("%(customer)s: %(from)s → %(to)s, rejected %(date)s"),
    GradeChange.Status.SUPERSEDED: _("%(customer)s: %(from)s → %(to)s, superseded %(date)s"),
}

#: The decision note of a downgrade proposal a grading run withdraws, by the rule that
#: withdrew it (`grading.policy.decide`: withdraw_proposal), formatted with the run's as_of.
PROPOSAL_WITHDRAWN_NOTES = {
    "score_above_grade": _("Superseded: the run of %(as_of)s upgraded the customer."),
    "proposal_withdrawn": _(
        "Withdrawn: the review in the run of %(as_of)s found the customer on target again."
    ),
}


class GradeOverride(models.Model):
    """A pinned grade (manual override or an accepted appeal's lock). Runs never change it."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("Manual override")
        APPEAL = "appeal", _("Appeal lock")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="overrides"
    )
    grade = models.ForeignKey(
        Grade, verbose_name=_("grade"), on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(
        _("source"), max_length=8, choices=Source.choices, default=Source.MANUAL
    )
    reason = models.TextField(_("reason"))
    expires_on = models.DateField(
        _("expires on"), null=True, blank=True, help_text=_("Empty: until ended by hand.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("ended by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    end_reason = models.CharField(_("end reason"), max_length=200, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("grade override")
        verbose_name_plural = _("grade overrides")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(ended_at__isnull=True),
                name="override_one_active_per_customer",
            ),
        ]

    def __str__(self) -> str:
        """ "Liu Jing pinned to Growth": the admin's messages and the audit read it."""
        return gettext("%(customer)s pinned to %(grade)s") % {
            "customer": self.customer.name,
            "grade": self.grade.name,
        }


class AppendOnlyError(Exception):
    """Raised when code tries to rewrite audit history."""


class GradeAuditEntry(models.Model):
    """Append-only history of every grade a customer actually held: who, when, why."""

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        related_name="grade_audit",
        db_index=False,  # audit_customer_idx leads with customer
        **RUN_WRITTEN_CUSTOMER,
    )
    old_grade = models.ForeignKey(
        Grade,
        verbose_name=_("old grade"),
        null=True,
        blank=True,
        related_name="+",
        **HISTORY_GRADE,
    )
    new_grade = models.ForeignKey(
        Grade, verbose_name=_("new grade"), related_name="+", **HISTORY_GRADE
    )
    source = models.CharField(_("source"), max_length=12, choices=ChangeSource.choices)
    reason = models.TextField(_("reason"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    run = models.ForeignKey(
        GradingRun,
        verbose_name=_("run"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        **HISTORY_RUN,
    )
    change = models.ForeignKey(
        GradeChange,
        verbose_name=_("change"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
        **HISTORY_RUN,
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("grade audit entry")
        verbose_name_plural = _("grade audit history")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "created_at"], name="audit_customer_idx")]

    def __str__(self) -> str:
        """ "Liu Jing: Growth → Standard (Grading run)"."""
        return gettext("%(customer)s: %(old)s → %(new)s (%(source)s)") % {
            "customer": self.customer.name,
            "old": self.old_grade.name if self.old_grade is not None else "—",
            "new": self.new_grade.name if self.new_grade is not None else "—",
            "source": self.get_source_display(),
        }

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("Grade audit entries are append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Grade audit entries are append-only.")

    @property
    def reason_text(self) -> str:
        """Why the grade changed, in the reader's language (`grading.labels.change_reason`);
        select the run with the entry where a list shows it."""
        from grading.labels import change_reason

        return change_reason(self.source, self.reason, self.run if self.run_id else None)
