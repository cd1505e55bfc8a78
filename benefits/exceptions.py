"""Domain errors of the benefits app (translated to HTTP by `common.api.exception_handler`)."""

from common.exceptions import ConflictError, DomainError


class BenefitNotFound(DomainError):
    status_code = 404
    code = "benefit_not_found"


class BenefitNotEntitled(DomainError):
    """The customer's current grade does not carry the benefit (or the benefit is off)."""

    status_code = 403
    code = "benefit_not_entitled"


class BenefitUnavailable(BenefitNotEntitled):
    """The benefit is switched off or outside its validity dates."""

    code = "benefit_unavailable"


class AllowanceExhausted(ConflictError):
    code = "allowance_exhausted"


class IdempotencyKeyReused(ConflictError):
    """The idempotency key was used before for a different request."""

    code = "idempotency_key_reused"


class RecommendationAlreadyDecided(ConflictError):
    code = "recommendation_already_decided"
