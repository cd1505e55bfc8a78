"""`manage.py import_customers FILE [--dry-run]`: a thin wrapper over `customer_import`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from tqdm import tqdm

from customers.exceptions import ImportRejected
from customers.services.imports import customer_import

#: Errors printed before "... and N more": enough to fix a file, short enough to read.
MAX_ERRORS_SHOWN = 200


class Command(BaseCommand):
    help = _(
        "Import customers from a CSV or XLSX file (columns: code, name; optional: kind, "
        "industry, email, phone, registered_at, account_manager). All rows or none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help=_("the .csv or .xlsx file"))
        parser.add_argument(
            "--dry-run", action="store_true", help=_("validate only; write nothing")
        )
        parser.add_argument(
            "--date-order",
            choices=("dmy", "mdy"),
            default="",
            help=_(
                "how to read a date like 03/04/2026: dmy (3 April) or mdy (March 4); "
                "default: the IMPORT_DATE_ORDER setting"
            ),
        )

    def handle(self, *args: Any, file: str, dry_run: bool, date_order: str, **options: Any) -> None:
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("No such file: %(file)s") % {"file": file})
        # Write to the raw stream: Django's wrapper would end each \r-redraw with a newline.
        with tqdm(unit=_(" rows"), disable=None, file=self.stderr._out) as bar:
            try:
                report = customer_import(
                    source=path,
                    filename=path.name,
                    dry_run=dry_run,
                    date_order=date_order,
                    progress=lambda done: bar.update(done - bar.n),
                )
            except ImportRejected as exc:
                bar.close()
                for line in exc.report.error_lines(limit=MAX_ERRORS_SHOWN):
                    self.stderr.write(line)
                raise CommandError(exc.report.rejection()) from None
        if dry_run:
            message = _(
                "Checked %(file)s (dry run, nothing imported): "
                "%(created)d to create, %(updated)d to update"
            )
        else:
            message = _("Imported %(file)s: %(created)d created, %(updated)d updated")
        self.stdout.write(
            message % {"file": file, "created": report.created, "updated": report.updated}
        )
