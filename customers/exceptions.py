"""Domain errors of the customers app."""

from typing import Any

from common.exceptions import DomainError


class ImportRejected(DomainError):
    """A file had bad rows; nothing was written. `report` names each bad row."""

    code = "import_rejected"

    #: At most this many rows are listed in an API error body (the count is always given).
    MAX_DETAILS = 1000

    def __init__(self, report: Any) -> None:
        self.report = report
        super().__init__(str(report))
        # The one-line summary for API bodies; the rows themselves are in `details()`.
        self.message = report.rejection()

    def details(self) -> list[dict[str, object]]:
        return [
            {"row": error.line, "field": error.field, "message": error.message}
            for error in self.report.errors[: self.MAX_DETAILS]
        ]


class SourceMappingNotFound(DomainError):
    """No saved source mapping has the name an import asked for; nothing was read."""

    code = "unknown_mapping"
