"""Domain errors of the appeals app (messages are safe to show to the customer)."""

from common.exceptions import ConflictError, DomainError


class AppealNotAllowed(DomainError):
    """The change cannot be appealed (not a downgrade, not this customer's, window closed)."""

    code = "appeal_not_allowed"


class AppealAlreadyOpen(ConflictError):
    code = "appeal_already_open"


class AppealTransitionNotAllowed(ConflictError):
    code = "appeal_transition_not_allowed"


class AppealAlreadyDecided(ConflictError):
    code = "appeal_already_decided"


class EvidenceRejected(DomainError):
    """An uploaded file was refused (too many, too large, wrong or unknown type, archive)."""

    code = "evidence_rejected"

    def __init__(self, message: str, *, field: str | None = "evidence") -> None:
        super().__init__(message, field=field)
