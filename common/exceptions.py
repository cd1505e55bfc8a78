"""The base domain error. Each app raises its own subclasses from its services; interfaces
(API, admin, forms, commands) translate them to a message in one place each."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the operation; the message is safe to show to the user."""

    status_code = 400
    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def details(self) -> list[dict[str, object]] | None:
        """Return per-item problems (e.g. bad rows) for API error bodies, if any."""
        return None


class ConflictError(DomainError):
    """The operation conflicts with the current state (already decided, duplicate, ...)."""

    status_code = 409
    code = "conflict"
