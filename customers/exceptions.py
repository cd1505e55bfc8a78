"""Domain errors of the customers app."""

from common.exceptions import DomainError


class ImportRejected(DomainError):
    """A file had bad rows; nothing was written. `report` names each bad row."""

    code = "import_rejected"

    def __init__(self, report: object) -> None:
        self.report = report
        super().__init__(str(report))
