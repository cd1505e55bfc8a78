"""`manage.py import_order_lines FILE [--mapping NAME] [--return-prefix PREFIX]
[--create-missing-customers] [--dry-run] [--report FILE.csv]`: a thin wrapper over
`order_lines_import`; prints the data-quality report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from tqdm import tqdm

from customers.exceptions import ImportRejected, SourceMappingNotFound
from customers.services.lines import order_lines_import, quality_csv, source_mapping_get

#: Errors printed before "... and N more": enough to fix a file, short enough to read.
MAX_ERRORS_SHOWN = 200


class Command(BaseCommand):
    help = _(
        "Import sales lines (invoices, returns, credit notes) from a CSV or XLSX file; lines "
        "are grouped into orders by document number. All rows or none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help=_("the .csv or .xlsx file"))
        parser.add_argument("--mapping", help=_("the name of a saved source mapping"))
        parser.add_argument(
            "--return-prefix", help=_("document numbers starting with this are returns")
        )
        parser.add_argument(
            "--create-missing-customers",
            action="store_true",
            help=_("create a bare customer (code = name) for each unknown customer_code"),
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=_("validate only; write nothing")
        )
        parser.add_argument("--report", help=_("also write the data-quality report to this CSV"))

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("No such file: %(file)s") % {"file": file})
        try:
            mapping = source_mapping_get(name=options["mapping"]) if options["mapping"] else None
        except SourceMappingNotFound as exc:
            raise CommandError(exc.message) from None
        # Write to the raw stream: Django's wrapper would end each \r-redraw with a newline.
        with tqdm(unit=_(" lines"), disable=None, file=self.stderr._out) as bar:
            try:
                report = order_lines_import(
                    source=path,
                    filename=path.name,
                    mapping=mapping,
                    return_prefix=options["return_prefix"],
                    create_missing_customers=options["create_missing_customers"],
                    dry_run=options["dry_run"],
                    progress=lambda done: bar.update(done - bar.n),
                )
            except ImportRejected as exc:
                bar.close()
                for line in exc.report.error_lines(limit=MAX_ERRORS_SHOWN):
                    self.stderr.write(line)
                raise CommandError(exc.report.rejection()) from None
        if options["dry_run"]:
            self.stdout.write(_("Checked %(file)s (dry run, nothing imported)") % {"file": file})
        else:
            self.stdout.write(
                _("Imported %(file)s: %(created)d orders created, %(updated)d updated")
                % {"file": file, "created": report.created, "updated": report.updated}
            )
        for _key, label, value in report.quality_rows():
            self.stdout.write(f"  {label}: {value}")
        if options["report"]:
            # With a BOM, as every CSV for people (common.csv_files).
            Path(options["report"]).write_text(quality_csv(report), encoding="utf-8-sig")
