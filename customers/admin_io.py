"""Admin import pages (upload → dry-run preview → confirm).

Thin interfaces over `customers.services.imports` / `events` (the all-or-nothing imports).
One generic upload/preview/confirm flow serves every import kind; `ImportAdminMixin` adds it
to a ModelAdmin's URLs and changelist. The customers export, which carries grades and scores,
is grading's (`grading.admin.customer_export`); it reuses `FORMATS` and `ToolLink` from here.

Between preview and confirm the upload waits in a private file under
settings.PRIVATE_MEDIA_ROOT/imports with a random name. The browser only ever holds a signed
token (django.core.signing) naming it, bound to the user and the import kind and valid for
`IMPORT_TOKEN_MAX_AGE`; the file is claimed once (an atomic rename) and deleted after the
confirm, whatever its outcome. A path from the client is never used.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Model
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from unfold.widgets import UnfoldAdminFileFieldWidget

from common.actors import acting_user
from common.exceptions import DomainError
from common.uploads import UploadSizeLimitHandler
from customers.exceptions import ImportRejected
from customers.models import Customer, Order
from customers.services import events, imports
from customers.services.imports import ImportReport, RowError
from customers.tabular import TableError, open_table, table_format, write_table, write_workbook

#: Seconds a preview can be confirmed; stored uploads older than this are swept away.
IMPORT_TOKEN_MAX_AGE = 60 * 60
#: Errors listed on the preview page (the total is always shown); the rest are in the file.
MAX_ERRORS_SHOWN = 200
#: Data rows shown on the preview page.
PREVIEW_ROWS = 10

_TOKEN_SALT = "customers.admin_io.import"
_STORED_NAME = re.compile(r"[0-9a-f]{32}\.(csv|xlsx)")
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# --- import kinds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportKind:
    """One importable table: its columns and the service that imports it."""

    key: str
    label: str | Promise
    required: tuple[str, ...]
    optional: tuple[str, ...]
    #: Called with source=, filename=, dry_run=, by= and the `options`; returns a report or
    #: raises ImportRejected.
    run: Callable[..., ImportReport]
    #: Boolean form options passed on to `run` by name.
    options: tuple[str, ...] = field(default=())
    #: The model a row becomes: its choice fields give the template's allowed values.
    model: type[Model] | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


def _event_kind(key: str, spec: events.EventKind) -> ImportKind:
    return ImportKind(
        key,
        spec.label,
        spec.required,
        spec.optional,
        functools.partial(events.events_import, kind=key),
        model=spec.model,
    )


IMPORT_KINDS: dict[str, ImportKind] = {
    "customers": ImportKind(
        "customers",
        gettext_lazy("customers"),
        imports.CUSTOMER_REQUIRED,
        imports.CUSTOMER_OPTIONAL,
        imports.customer_import,
        model=Customer,
    ),
    "orders": ImportKind(
        "orders",
        gettext_lazy("orders"),
        imports.ORDER_REQUIRED,
        imports.ORDER_OPTIONAL,
        imports.order_import,
        options=("create_missing_customers",),
        model=Order,
    ),
    # The engagement events, as declared in `customers.services.events.KINDS`.
    **{key: _event_kind(key, spec) for key, spec in events.KINDS.items()},
}


def max_upload_bytes() -> int:
    """Return the upload bound in bytes (`settings.IMPORT_MAX_UPLOAD_BYTES`)."""
    return int(settings.IMPORT_MAX_UPLOAD_BYTES)


# --- upload: bound, check, store -----------------------------------------------------------------


def _too_large(name: str) -> str:
    return _("“%(name)s” is too large; the limit is %(max)s.") % {
        "name": name,
        "max": filesizeformat(max_upload_bytes()),
    }


class ImportUploadForm(forms.Form):
    """Step 1: the file (size, extension and content checked) and the kind's options."""

    # unfold's widget: its admin script expects this markup around every file input.
    file = forms.FileField(label=gettext_lazy("File"), widget=UnfoldAdminFileFieldWidget)
    create_missing_customers = forms.BooleanField(
        label=gettext_lazy("Create missing customers"),
        required=False,
        help_text=gettext_lazy(
            "Create a bare customer (code = name) for each unknown customer_code instead of "
            "rejecting its rows."
        ),
    )
    date_order = forms.ChoiceField(
        label=gettext_lazy("Dates like 03/04/2026"),
        required=False,
        help_text=gettext_lazy(
            "How to read a date written with the day and month first. Dates written year "
            "first (2026-04-03, 2026/04/03) and Excel date cells need no choice."
        ),
    )

    def __init__(self, *args: Any, kind: ImportKind, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        for name in ("create_missing_customers",):
            if name not in kind.options:
                del self.fields[name]
        configured = imports.date_order_get()
        unset = (
            _("as configured: %(order)s") % {"order": imports.DATE_ORDERS[configured]}
            if configured
            else _("refuse them unless only one reading is a date")
        )
        date_order = cast("forms.ChoiceField", self.fields["date_order"])
        date_order.choices = [("", unset), *imports.DATE_ORDERS.items()]
        self.fields["file"].help_text = _(
            "A .csv (UTF-8) or .xlsx file of at most %(max)s, %(rows)s rows and %(columns)s "
            "columns, whose first row names the columns."
        ) % {
            "max": filesizeformat(max_upload_bytes()),
            "rows": number_format(settings.IMPORT_MAX_ROWS, force_grouping=True),
            "columns": number_format(settings.IMPORT_MAX_COLUMNS, force_grouping=True),
        }

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        name = str(upload.name or "")
        if upload.size is not None and upload.size > max_upload_bytes():
            raise forms.ValidationError(_too_large(name))
        try:
            table_format(name)
            # The content, not the name, decides: the header must read as CSV or XLSX.
            # Rows are read by the dry run, which reports a bad one by its line.
            # An upload handed to a form is open: its `file` is never None here.
            with open_table(cast("IO[bytes]", upload.file), name):
                pass
        except TableError as error:
            raise forms.ValidationError(
                _("“%(name)s” cannot be imported: %(reason)s.")
                % {"name": name, "reason": error.message}
            ) from None
        finally:
            upload.seek(0)
        return upload

    def options(self) -> dict[str, Any]:
        return {
            **{name: bool(self.cleaned_data.get(name)) for name in self.kind.options},
            "date_order": self.cleaned_data.get("date_order") or "",
        }


def _import_folder() -> Path:
    folder = Path(settings.PRIVATE_MEDIA_ROOT) / "imports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _sweep_stale_uploads(folder: Path) -> None:
    """Delete uploads older than a token can live (previews that were never confirmed)."""
    cutoff = time.time() - IMPORT_TOKEN_MAX_AGE
    for stored in folder.iterdir():
        # FileNotFoundError: a concurrent sweep or confirm got it first.
        with contextlib.suppress(FileNotFoundError):
            if stored.stat().st_mtime < cutoff:
                stored.unlink()


def _store_upload(upload: UploadedFile) -> Path:
    """Copy the upload to a new private file with a random name; return its path."""
    folder = _import_folder()
    _sweep_stale_uploads(folder)
    stored = folder / f"{secrets.token_hex(16)}.{table_format(str(upload.name))}"
    # Created owner-only from the start, and never over an existing file (O_EXCL).
    descriptor = os.open(stored, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return stored


def _claim_upload(name: str) -> Path | None:
    """Take the stored upload `name` for one confirm; None when it is gone (used, swept).

    The rename is atomic: of two confirms racing with one token, only one gets the file.
    """
    if not _STORED_NAME.fullmatch(name):
        return None
    folder = _import_folder()
    claimed = folder / f"{name}.claimed-{secrets.token_hex(8)}"
    try:
        (folder / name).rename(claimed)
    except FileNotFoundError:
        return None
    return claimed


# --- tokens -------------------------------------------------------------------------------------


def _token_for(
    *, stored: Path, user_pk: Any, kind: ImportKind, filename: str, options: dict
) -> str:
    payload = {
        "name": stored.name,
        "user": user_pk,
        "kind": kind.key,
        "filename": filename,
        "options": options,
    }
    return signing.dumps(payload, salt=_TOKEN_SALT, compress=True)


def _token_payload(token: str, *, request: HttpRequest, kind: ImportKind) -> dict[str, Any]:
    """Return the payload of a valid token of this user and kind; raise DomainError if not."""
    try:
        payload = signing.loads(token, salt=_TOKEN_SALT, max_age=IMPORT_TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise DomainError(
            _("This preview has expired; upload the file again. Nothing was imported.")
        ) from None
    except signing.BadSignature:
        payload = None
    if (
        not isinstance(payload, dict)
        or payload.get("user") != request.user.pk
        or payload.get("kind") != kind.key
    ):
        raise DomainError(
            _("This preview is not valid for you; upload the file again. Nothing was imported.")
        )
    return payload


# --- views ---------------------------------------------------------------------------------------


def _context(model_admin: ModelAdmin, request: HttpRequest, **extra: Any) -> dict[str, Any]:
    opts = model_admin.opts
    return {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "app_label": opts.app_label,
        **extra,
    }


def _upload_page(
    model_admin: ModelAdmin,
    request: HttpRequest,
    kind: ImportKind,
    form: ImportUploadForm,
    status: int = 200,
) -> TemplateResponse:
    return TemplateResponse(
        request,
        "admin/customers/import_form.html",
        _context(
            model_admin,
            request,
            title=_("Import %(kind)s") % {"kind": kind.label},
            kind=kind,
            form=form,
            template_urls=_template_urls(model_admin),
        ),
        status=status,
    )


def _preview_table(stored: Path, filename: str) -> tuple[tuple[str, ...], list[tuple]]:
    """Return the header and the first PREVIEW_ROWS rows as (line, cells) for the page."""
    try:
        with open_table(stored, filename) as table:
            rows = []
            for line, values in table.rows:
                rows.append((line, [values.get(name, "") for name in table.header]))
                if len(rows) == PREVIEW_ROWS:
                    break
            return table.header, rows
    except TableError:
        return (), []  # the report says why


def _preview_page(
    model_admin: ModelAdmin,
    request: HttpRequest,
    *,
    kind: ImportKind,
    filename: str,
    report: ImportReport,
    header: tuple[str, ...],
    rows: list[tuple],
    token: str | None,
    status: int = 200,
) -> TemplateResponse:
    shown: list[RowError] = report.errors[:MAX_ERRORS_SHOWN]
    # Errors past IMPORT_MAX_ERRORS were only counted; the note heads the list to say so.
    more_errors = len(report.errors) - len(shown) + report.errors.omitted
    note = report.limit_note()
    errors = [RowError(0, "", note), *shown] if note else shown
    return TemplateResponse(
        request,
        "admin/customers/import_preview.html",
        _context(
            model_admin,
            request,
            title=_("Import %(kind)s: preview") % {"kind": kind.label},
            kind=kind,
            filename=filename,
            report=report,
            errors=errors,
            more_errors=more_errors,
            header=header,
            rows=rows,
            token=token,
            upload_url=_url(model_admin, "import"),
        ),
        status=status,
    )


def import_upload(
    request: HttpRequest, *, model_admin: ModelAdmin, kind: ImportKind
) -> HttpResponse:
    """Step 1: the upload form; on POST check the file, dry-run it and show the preview."""
    # Before anything reads the body: an oversized upload is dropped while it arrives.
    limit = UploadSizeLimitHandler(request, limit=max_upload_bytes())
    request.upload_handlers.insert(0, limit)
    return _import_upload(request, model_admin=model_admin, kind=kind, limit=limit)


@csrf_protect  # checked here, after the size-limit handler is in place
def _import_upload(
    request: HttpRequest,
    *,
    model_admin: ModelAdmin,
    kind: ImportKind,
    limit: UploadSizeLimitHandler,
) -> HttpResponse:
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405)
    if request.method == "GET":
        return _upload_page(model_admin, request, kind, ImportUploadForm(kind=kind))
    form = ImportUploadForm(request.POST, request.FILES, kind=kind)
    valid = form.is_valid() and not limit.skipped
    if limit.skipped:  # the file was dropped while it arrived: say why, not "required"
        form.errors["file"] = form.error_class([_too_large(name) for name in limit.skipped])
    if not valid:
        return _upload_page(model_admin, request, kind, form, status=400)

    upload: UploadedFile = form.cleaned_data["file"]
    filename = str(upload.name)
    stored = _store_upload(upload)
    options = form.options()
    token = None
    try:
        try:
            report = kind.run(
                source=stored, filename=filename, dry_run=True, by=request.user, **options
            )
        except ImportRejected as rejected:
            report = rejected.report
        header, rows = _preview_table(stored, filename)
        if not report.errors:
            token = _token_for(
                stored=stored,
                user_pk=request.user.pk,
                kind=kind,
                filename=filename,
                options=options,
            )
    finally:
        if token is None:
            stored.unlink()  # nothing to confirm: keep nothing
    return _preview_page(
        model_admin,
        request,
        kind=kind,
        filename=filename,
        report=report,
        header=header,
        rows=rows,
        token=token,
    )


@require_POST
def import_confirm(
    request: HttpRequest, *, model_admin: ModelAdmin, kind: ImportKind
) -> HttpResponse:
    """Step 2: import the previewed file for real (all or nothing), then back to the list."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    try:
        payload = _token_payload(request.POST.get("token", ""), request=request, kind=kind)
        stored = _claim_upload(str(payload.get("name", "")))
        if stored is None:
            raise DomainError(
                _("This preview was already used or has expired; upload the file again.")
            )
    except DomainError as refused:
        form = ImportUploadForm(kind=kind)
        messages.error(request, refused.message)
        return _upload_page(model_admin, request, kind, form, status=400)

    filename = str(payload.get("filename", ""))
    given = payload.get("options", {})
    options: dict[str, Any] = {name: bool(given.get(name)) for name in kind.options}
    options["date_order"] = str(given.get("date_order") or "")
    try:
        report = kind.run(
            source=stored, filename=filename, dry_run=False, by=request.user, **options
        )
    except ImportRejected as rejected:
        # The data changed since the preview (e.g. a code was taken meanwhile).
        header, rows = _preview_table(stored, filename)
        messages.error(
            request,
            _("The data changed since the preview: %(rejection)s.")
            % {"rejection": rejected.report.rejection()},
        )
        return _preview_page(
            model_admin,
            request,
            kind=kind,
            filename=filename,
            report=rejected.report,
            header=header,
            rows=rows,
            token=None,
            status=409,
        )
    finally:
        stored.unlink(missing_ok=True)

    summary = _("Imported %(file)s: %(total)d rows, %(created)d created, %(updated)d updated.") % {
        "file": filename,
        "total": report.total_rows,
        "created": report.created,
        "updated": report.updated,
    }
    _log_import(request, model_admin, filename=filename, summary=summary)
    messages.success(request, summary)
    return redirect(_url(model_admin, "changelist"))


def _log_import(
    request: HttpRequest, model_admin: ModelAdmin, *, filename: str, summary: str
) -> None:
    """Record the import in the admin's own history ("Recent actions"): who, what, when."""
    LogEntry.objects.create(
        user_id=acting_user(request.user).pk,
        content_type_id=ContentType.objects.get_for_model(model_admin.model).pk,
        object_id=None,
        object_repr=(_("Import of %(file)s") % {"file": filename})[:200],
        action_flag=ADDITION,
        change_message=summary,
    )


def import_template(
    request: HttpRequest, *, model_admin: ModelAdmin, kind: ImportKind
) -> HttpResponse:
    """Return the kind's template (`?format=csv|xlsx`): its header and one example row.

    The XLSX has a second sheet, "Allowed values": each column's accepted values (a choice's
    codes with their English and Chinese labels) or what it takes (docs/importing.md).
    """
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    file_format = request.GET.get("format", "csv")
    if file_format not in FORMATS:
        raise Http404(_("Unknown file format."))
    example, allowed = imports.import_template(
        model=kind.model or model_admin.model, required=kind.required, optional=kind.optional
    )
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"{kind.key}.{file_format}"
        if file_format == "xlsx":
            write_workbook(
                target,
                [
                    (kind.key, kind.columns, [example]),
                    (_("Allowed values"), imports.import_template_header(), allowed),
                ],
            )
        else:
            write_table(target, kind.columns, [example])
        content = target.read_bytes()
    response = HttpResponse(content, content_type=FORMATS[file_format])
    response["Content-Disposition"] = f'attachment; filename="{kind.key}-template.{file_format}"'
    return response


# --- admin wiring -------------------------------------------------------------------------------


def _url(model_admin: ModelAdmin, name: str) -> str:
    opts = model_admin.opts
    return reverse(f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_{name}")


def _template_urls(model_admin: ModelAdmin) -> dict[str, str]:
    base = _url(model_admin, "import_template")
    return {file_format: f"{base}?format={file_format}" for file_format in FORMATS}


@dataclass(frozen=True)
class ToolLink:
    """A link in a changelist's object tools."""

    url: str
    label: str | Promise


if TYPE_CHECKING:
    # What the mixin is mixed into, so mypy checks its calls to the ModelAdmin's methods.
    _ModelAdminBase = ModelAdmin[Any]
else:
    _ModelAdminBase = object


class ImportAdminMixin(_ModelAdminBase):
    """Add import pages (upload, preview, confirm, header template) to a ModelAdmin.

    Set `import_kind` to a key of IMPORT_KINDS. The pages need the model's add permission
    (Operations); everyone else gets 403 and no "Import" button.
    """

    import_kind: str = ""
    change_list_template: ClassVar[str | None] = "admin/customers/change_list_io.html"

    def get_urls(self) -> list[Any]:
        admin_site = self.admin_site
        opts = self.opts
        kind = IMPORT_KINDS[self.import_kind]
        prefix = f"{opts.app_label}_{opts.model_name}"

        def view(function: Callable[..., HttpResponse], *, exempt: bool = False) -> Any:
            def bound(request: HttpRequest) -> HttpResponse:
                return function(request, model_admin=self, kind=kind)

            if exempt:  # the view checks CSRF itself, after installing its upload handler
                bound = csrf_exempt(bound)
            return admin_site.admin_view(bound)

        urls = [
            path("import/", view(import_upload, exempt=True), name=f"{prefix}_import"),
            path("import/confirm/", view(import_confirm), name=f"{prefix}_import_confirm"),
            path("import/template/", view(import_template), name=f"{prefix}_import_template"),
        ]
        return urls + super().get_urls()

    def object_tool_links(self, request: HttpRequest) -> list[ToolLink]:
        """Return the changelist's extra buttons for this user."""
        if not self.has_add_permission(request):
            return []
        return [
            ToolLink(_url(self, "import"), _("Import")),
            ToolLink(_template_urls(self)["csv"], _("Download import template")),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {"io_links": self.object_tool_links(request), **(extra_context or {})}
        return super().changelist_view(request, context)
