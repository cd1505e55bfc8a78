"""Domain errors of the grading app."""

from common.exceptions import ConflictError, DomainError


class NoActiveScheme(DomainError):
    code = "no_active_scheme"


class RunInProgress(ConflictError):
    code = "run_in_progress"


class ChangeAlreadyDecided(ConflictError):
    code = "change_already_decided"


class OverrideConflict(ConflictError):
    code = "override_conflict"
