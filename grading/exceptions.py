"""Domain errors of the grading app."""

from common.exceptions import ConflictError, DomainError


class NoActiveScheme(DomainError):
    code = "no_active_scheme"


class RunInProgress(ConflictError):
    code = "run_in_progress"


class ChangeAlreadyDecided(ConflictError):
    """A proposed grade change was approved, rejected or superseded already."""

    code = "change_already_decided"


class OverrideConflict(ConflictError):
    """Another override of the same customer was set at the same moment."""

    code = "override_conflict"


class ReasonRequired(DomainError):
    """A decision that must say why (reject, override, end an override) was given no reason."""

    code = "reason_required"


class InvalidOverride(DomainError):
    """An override's input breaks a business rule (e.g. it expires in the past)."""

    code = "invalid_override"


class SchemeNotDraft(ConflictError):
    """Only a draft scheme can be activated (active and retired ones are frozen)."""

    code = "scheme_not_draft"


class InvalidSchemeLadder(DomainError):
    """The scheme's grade ladder or parameters cannot grade a population."""

    code = "invalid_scheme_ladder"


class SchemeConflict(ConflictError):
    """Another scheme was activated at the same moment."""

    code = "scheme_conflict"


class AsOfInFuture(DomainError):
    """A run was asked to grade a period that has not ended yet (its as-of is after today)."""

    code = "as_of_in_future"


class SchemeNotGradable(DomainError):
    """A run was asked to grade with a scheme that may not grade customers (a draft)."""

    code = "scheme_not_gradable"


class PeriodAlreadyGraded(ConflictError):
    """A run was asked for a (scheme, as-of) whose run has succeeded already."""

    code = "period_already_graded"
