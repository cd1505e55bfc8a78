"""Admin pages for sales lines (issue #18): source mappings and the line import.

- "Map a new file": upload a sample, pick a TierHub field per header (guessed for known
  English and Chinese headers), set the formats, preview the first rows as TierHub reads
  them, save the mapping under a name.
- "Import sales lines": upload; the dry run (the whole import, rolled back) runs as a Celery
  task whose page shows its live progress, then the data-quality report; confirm (the real
  import, again a task with its progress), and download the report as CSV.

Thin interfaces over `customers.services.lines` and `customers.services.line_imports`; samples
wait in private files named by a signed token, exactly as in `customers.admin_io` (whose
helpers they use); an import's upload is named by its `LineImport` record.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, cast

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.widgets import UnfoldAdminFileFieldWidget

from common.actors import acting_user
from common.admin import ModelAdmin
from common.csv_files import UTF8_BOM
from common.exceptions import DomainError
from customers import admin_io
from customers.models import LineImport, SourceMapping
from customers.services.imports import RowError
from customers.services.line_imports import (
    line_import_confirm,
    line_import_start,
    line_import_state,
)
from customers.services.lines import (
    FIELD_LABELS,
    LINE_FIELDS,
    LINE_REQUIRED,
    LineFormat,
    LineImportReport,
    order_lines_header,
    order_lines_preview,
    quality_csv,
    source_mapping_guess,
)
from customers.tabular import TableError, open_table

#: Lines shown by the mapping preview.
PREVIEW_LINES = 20
_SAMPLE_SALT = "customers.admin_lines.sample"
_REPORT_SALT = "customers.admin_lines.report"

ENCODINGS = SourceMapping._meta.get_field("encoding").choices or ()


def _checked_upload(upload: UploadedFile, encoding: str = "utf-8") -> UploadedFile:
    name = str(upload.name or "")
    if upload.size is not None and upload.size > admin_io.max_upload_bytes():
        raise forms.ValidationError(admin_io._too_large(name))
    try:
        order_lines_header(source=cast("IO[bytes]", upload.file), filename=name, encoding=encoding)
    except TableError as error:
        raise forms.ValidationError(
            _("“%(name)s” cannot be imported: %(reason)s.")
            % {"name": name, "reason": error.message}
        ) from None
    finally:
        upload.seek(0)
    return upload


class SampleForm(forms.Form):
    encoding = forms.ChoiceField(label=gettext_lazy("Text encoding (CSV)"), choices=ENCODINGS)
    file = forms.FileField(
        widget=UnfoldAdminFileFieldWidget,
        label=gettext_lazy("Sample file"),
        help_text=gettext_lazy(
            "A .csv or .xlsx export of the source; its first row names the columns."
        ),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if "file" in data and "encoding" in data:
            try:
                _checked_upload(data["file"], data["encoding"])
            except forms.ValidationError as error:
                self.add_error("file", error)
        return data


class MappingForm(forms.Form):
    """One select per header of the sample, and the source's formats."""

    name = forms.SlugField(label=gettext_lazy("Mapping name"), max_length=64)
    return_prefix = forms.CharField(
        label=gettext_lazy("Return number prefix"), max_length=16, required=False
    )
    return_types = forms.CharField(
        label=gettext_lazy("Document types meaning a return"),
        required=False,
        help_text=gettext_lazy("Comma-separated, e.g. 退货单, credit note."),
    )
    date_format = forms.CharField(
        label=gettext_lazy("Date format"),
        max_length=40,
        required=False,
        help_text=gettext_lazy("A strftime pattern such as %m/%d/%Y %H:%M; empty: ISO 8601."),
    )
    decimal_separator = forms.ChoiceField(
        label=gettext_lazy("Decimal separator"), choices=[(".", "."), (",", ",")]
    )
    thousands_separator = forms.ChoiceField(
        label=gettext_lazy("Thousands separator"),
        choices=[("", gettext_lazy("none")), (",", ","), (".", "."), (" ", gettext_lazy("space"))],
        required=False,
    )
    customer_code_format = forms.ChoiceField(
        label=gettext_lazy("Customer codes"), choices=SourceMapping.CodeFormat.choices
    )
    encoding = forms.ChoiceField(label=gettext_lazy("Text encoding (CSV)"), choices=ENCODINGS)

    def __init__(self, *args: Any, header: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header = header
        choices = [("", _("(not imported)"))] + [
            (name, f"{FIELD_LABELS[name]} · {name}") for name in LINE_FIELDS
        ]
        self.column_names = []
        for index, name in enumerate(header):
            key = f"column_{index}"
            self.fields[key] = forms.ChoiceField(label=name, choices=choices, required=False)
            self.column_names.append(key)

    def column_fields(self) -> list[Any]:
        return [self[key] for key in self.column_names]

    def option_fields(self) -> list[Any]:
        return [self[key] for key in self.fields if key not in self.column_names]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        chosen: dict[str, str] = {}
        for index, name in enumerate(self.header):
            target = data.get(f"column_{index}")
            if not target:
                continue
            if target in chosen.values():
                self.add_error(
                    f"column_{index}", _("%(field)s is already mapped") % {"field": target}
                )
            chosen[name] = target
        missing = [name for name in LINE_REQUIRED if name not in chosen.values()]
        if missing:
            raise forms.ValidationError(
                _("Map a column to each required field: %(fields)s")
                % {"fields": ", ".join(str(FIELD_LABELS[name]) for name in missing)}
            )
        data["columns"] = chosen
        return data

    def line_format(self) -> LineFormat:
        data = self.cleaned_data
        return LineFormat.from_mapping(self.mapping(data))

    def mapping(self, data: dict[str, Any]) -> SourceMapping:
        types = [value.strip() for value in data.get("return_types", "").split(",")]
        return SourceMapping(
            name=data["name"],
            columns=data["columns"],
            return_types=[value for value in types if value],
            return_prefix=data.get("return_prefix", ""),
            date_format=data.get("date_format", ""),
            decimal_separator=data["decimal_separator"],
            thousands_separator=data.get("thousands_separator", ""),
            customer_code_format=data["customer_code_format"],
            encoding=data["encoding"],
        )


class LineImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File"), widget=UnfoldAdminFileFieldWidget)
    mapping = forms.ModelChoiceField(
        label=gettext_lazy("Source mapping"),
        queryset=SourceMapping.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("(none: the canonical columns)"),
        to_field_name="name",
    )
    return_prefix = forms.CharField(
        label=gettext_lazy("Return number prefix"),
        max_length=16,
        required=False,
        help_text=gettext_lazy("Overrides the mapping's prefix when given."),
    )
    create_missing_customers = forms.BooleanField(
        label=gettext_lazy("Create missing customers"), required=False
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if "file" in data:
            mapping = data.get("mapping")
            try:
                _checked_upload(data["file"], mapping.encoding if mapping else "utf-8")
            except forms.ValidationError as error:
                self.add_error("file", error)
        return data


# --- views -----------------------------------------------------------------------------------


def _page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    template: str,
    status: int = 200,
    **extra: Any,
) -> TemplateResponse:
    context = admin_io._context(model_admin, request, **extra)
    return TemplateResponse(request, f"admin/customers/{template}", context, status=status)


def _sample(token: str, request: HttpRequest) -> tuple[Path, str, str]:
    try:
        payload = signing.loads(token, salt=_SAMPLE_SALT, max_age=admin_io.IMPORT_TOKEN_MAX_AGE)
    except signing.BadSignature:
        payload = None
    if not isinstance(payload, dict) or payload.get("user") != request.user.pk:
        raise DomainError(_("This sample has expired; upload it again."))
    name = str(payload.get("name", ""))
    stored = admin_io._import_folder() / name
    if not admin_io._STORED_NAME.fullmatch(name) or not stored.exists():
        raise DomainError(_("This sample has expired; upload it again."))
    return stored, str(payload.get("filename", "")), str(payload.get("encoding", "utf-8"))


def mapping_view(request: HttpRequest, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Map a new file: upload a sample, map its headers, preview, save."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    title = _("Map a new file")
    if request.method != "POST":
        return _page(model_admin, request, "mapping_upload.html", title=title, form=SampleForm())
    if "token" not in request.POST:
        upload_form = SampleForm(request.POST, request.FILES)
        if not upload_form.is_valid():
            return _page(
                model_admin, request, "mapping_upload.html", 400, title=title, form=upload_form
            )
        upload = upload_form.cleaned_data["file"]
        stored = admin_io._store_upload(upload)
        filename = str(upload.name)
        token = signing.dumps(
            {"name": stored.name, "user": request.user.pk, "filename": filename},
            salt=_SAMPLE_SALT,
        )
        with open_table(stored, filename) as table:
            header = table.header
        guessed = source_mapping_guess(header)
        initial = {f"column_{index}": guessed.get(name, "") for index, name in enumerate(header)}
        initial |= {"decimal_separator": ".", "customer_code_format": "as_is"}
        form = MappingForm(initial=initial, header=header)
        return _mapping_page(model_admin, request, form, token, stored, filename)
    token = request.POST["token"]
    try:
        stored, filename, encoding = _sample(token, request)
    except DomainError as expired:
        messages.error(request, expired.message)
        return redirect(admin_io._url(model_admin, "map"))
    header = order_lines_header(source=stored, filename=filename, encoding=encoding)
    form = MappingForm(request.POST, header=header)
    if form.is_valid() and "save" in request.POST:
        mapping = form.mapping(form.cleaned_data)
        SourceMapping.objects.update_or_create(
            name=mapping.name,
            defaults={
                name: getattr(mapping, name)
                for name in (
                    "columns",
                    "return_types",
                    "return_prefix",
                    "date_format",
                    "decimal_separator",
                    "thousands_separator",
                    "customer_code_format",
                    "encoding",
                )
            },
        )
        stored.unlink(missing_ok=True)
        messages.success(
            request, _("Saved the source mapping “%(name)s”.") % {"name": mapping.name}
        )
        return redirect(admin_io._url(model_admin, "changelist"))
    return _mapping_page(model_admin, request, form, token, stored, filename)


def _mapping_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    form: MappingForm,
    token: str,
    stored: Path,
    filename: str,
) -> TemplateResponse:
    preview: list[Any] = []
    fmt: LineFormat | None
    if form.is_bound and form.is_valid():
        fmt = form.line_format()
    else:
        fmt = (
            LineFormat(
                columns=source_mapping_guess(form.header),
                encoding=form.initial.get("encoding", "utf-8"),
            )
            if not form.is_bound
            else None
        )
    if fmt is not None:
        _header, preview = order_lines_preview(
            source=stored, filename=filename, fmt=fmt, limit=PREVIEW_LINES
        )
    return _page(
        model_admin,
        request,
        "mapping_form.html",
        status=200 if not form.errors else 400,
        title=_("Map a new file"),
        form=form,
        token=token,
        filename=filename,
        fields=LINE_FIELDS,
        field_labels=[FIELD_LABELS[name] for name in LINE_FIELDS],
        preview=[
            (line, [(line.values.get(name, ""), line.problems.get(name)) for name in LINE_FIELDS])
            for line in preview
        ],
    )


def _import_url(model_admin: admin.ModelAdmin, name: str, record: LineImport) -> str:
    opts = model_admin.opts
    return reverse(
        f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_{name}",
        args=[record.pk],
    )


def lines_import_view(request: HttpRequest, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Import sales lines: upload; the dry run is queued and its page follows it (GET: the form)."""
    if not request.user.has_perm("customers.add_order"):
        raise PermissionDenied
    title = _("Import sales lines")
    if request.method != "POST":
        return _page(model_admin, request, "lines_import.html", title=title, form=LineImportForm())
    form = LineImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(model_admin, request, "lines_import.html", 400, title=title, form=form)
    upload = form.cleaned_data["file"]
    mapping = form.cleaned_data["mapping"]
    with transaction.atomic():
        record = line_import_start(
            stored=admin_io._store_upload(upload),
            filename=str(upload.name),
            options={
                "mapping": mapping.name if mapping else "",
                "return_prefix": form.cleaned_data["return_prefix"] or None,
                "create_missing_customers": form.cleaned_data["create_missing_customers"],
            },
            by=acting_user(request.user),
        )
    return redirect(_import_url(model_admin, "lines_run", record))


def _record(request: HttpRequest, import_id: int) -> LineImport:
    if not request.user.has_perm("customers.add_order"):
        raise PermissionDenied
    record = LineImport.objects.filter(pk=import_id).first()
    if record is None:
        raise Http404
    return record


def lines_run_view(
    request: HttpRequest, import_id: int, *, model_admin: admin.ModelAdmin
) -> HttpResponse:
    """An import's page: its live progress while it runs, then its data-quality report."""
    record = _record(request, import_id)
    kind = _("Dry run") if record.dry_run else _("Import")
    title = _("%(kind)s of sales lines: %(file)s") % {"kind": kind, "file": record.filename}
    state = line_import_state(record)
    if not record.finished:
        return _page(
            model_admin,
            request,
            "lines_progress.html",
            title=title,
            record=record,
            progress=state,
            progress_url=_import_url(model_admin, "lines_progress", record),
        )
    labels = {key: label for key, label, _value in LineImportReport().quality_rows()}
    quality = [(key, labels.get(key, key), value) for key, value in record.quality]
    shown = [(key, label, _number(value)) for key, label, value in quality]
    data = (
        signing.dumps(quality, salt=_REPORT_SALT, compress=True)
        if record.status == LineImport.Status.SUCCEEDED
        else None
    )
    can_confirm = (
        record.dry_run
        and record.status == LineImport.Status.SUCCEEDED
        and bool(record.stored_name)
        and record.created_by_id == request.user.pk
    )
    return _page(
        model_admin,
        request,
        "lines_report.html",
        status=200 if record.status == LineImport.Status.SUCCEEDED else 400,
        title=title,
        record=record,
        progress=state,
        quality=shown,
        errors=[
            RowError(int(line), str(column), str(text)) for line, column, text in record.errors
        ],
        more_errors=max(record.error_count - len(record.errors), 0),
        confirm_url=_import_url(model_admin, "lines_confirm", record) if can_confirm else None,
        report_url=(f"{admin_io._url(model_admin, 'lines_report')}?data={data}" if data else None),
        upload_url=admin_io._url(model_admin, "import_lines"),
    )


def _number(value: str) -> str:
    """A report value for people: 12,345 and 1,234.50 (money keeps its cents)."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    places = len(value.partition(".")[2])
    return number_format(number, decimal_pos=places, force_grouping=True)


def lines_progress_view(
    request: HttpRequest, import_id: int, *, model_admin: admin.ModelAdmin
) -> JsonResponse:
    """An import's progress as JSON, for static/js/run-progress.js on its page."""
    response = JsonResponse(line_import_state(_record(request, import_id)))
    response["Cache-Control"] = "no-store"
    return response


def lines_confirm_view(
    request: HttpRequest, import_id: int, *, model_admin: admin.ModelAdmin
) -> HttpResponse:
    """Import for real the file of a dry run that found no errors; its page follows it."""
    if request.method != "POST":
        return HttpResponse(status=405)
    preview = _record(request, import_id)
    try:
        record = line_import_confirm(preview=preview, by=acting_user(request.user))
    except DomainError as refused:
        messages.error(request, refused.message)
        return redirect(_import_url(model_admin, "lines_run", preview))
    admin_io._log_import(
        request,
        model_admin,
        filename=record.filename,
        summary=_("Import of %(file)s started.") % {"file": record.filename},
    )
    return redirect(_import_url(model_admin, "lines_run", record))


def lines_report_view(request: HttpRequest, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Return a data-quality report (signed into the link) as a CSV download."""
    if not request.user.has_perm("customers.add_order"):
        raise PermissionDenied
    try:
        rows = signing.loads(request.GET.get("data", ""), salt=_REPORT_SALT, max_age=24 * 3600)
    except signing.BadSignature:
        return HttpResponse(status=404)
    report_text = quality_csv(_RowsReport(rows))
    response = HttpResponse(UTF8_BOM + report_text, content_type=admin_io.FORMATS["csv"])
    response["Content-Disposition"] = 'attachment; filename="import-quality.csv"'
    return response


class _RowsReport(LineImportReport):
    def __init__(self, rows: list[list[str]]) -> None:
        super().__init__()
        self._rows = [tuple(row) for row in rows]

    def quality_rows(self) -> list[tuple[str, str, str]]:
        return self._rows  # type: ignore[return-value]


@admin.register(SourceMapping)
class SourceMappingAdmin(ModelAdmin):
    """Saved source mappings; "Map a new file" and "Import sales lines" start here."""

    list_display = ("name", "return_prefix", "date_format", "customer_code_format", "updated_at")
    search_fields = ("name",)
    readonly_fields = ("created_at", "updated_at")
    change_list_template = "admin/customers/sourcemapping_change_list.html"

    class Media:
        css = {"all": ("css/tierhub-admin.css",)}

    def get_urls(self) -> list[Any]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"

        def view(function: Any) -> Any:
            def bound(request: HttpRequest, **kwargs: Any) -> HttpResponse:
                return function(request, model_admin=self, **kwargs)

            return self.admin_site.admin_view(bound)

        return [
            path("map/", view(mapping_view), name=f"{prefix}_map"),
            path("import-lines/", view(lines_import_view), name=f"{prefix}_import_lines"),
            path("import-lines/report/", view(lines_report_view), name=f"{prefix}_lines_report"),
            path("import-lines/<int:import_id>/", view(lines_run_view), name=f"{prefix}_lines_run"),
            path(
                "import-lines/<int:import_id>/progress/",
                view(lines_progress_view),
                name=f"{prefix}_lines_progress",
            ),
            path(
                "import-lines/<int:import_id>/confirm/",
                view(lines_confirm_view),
                name=f"{prefix}_lines_confirm",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        links = []
        if self.has_add_permission(request):
            links.append(admin_io.ToolLink(admin_io._url(self, "map"), _("Map a new file")))
        if request.user.has_perm("customers.add_order"):
            links.append(
                admin_io.ToolLink(admin_io._url(self, "import_lines"), _("Import sales lines"))
            )
        return super().changelist_view(request, {"io_links": links, **(extra_context or {})})


@admin.register(LineImport)
class LineImportAdmin(ModelAdmin):
    """The sales-line imports started here (read only): each links to its progress or report."""

    list_display = ("filename_link", "kind", "status", "lines_done", "created_by", "created_at")
    list_filter = ("status", "dry_run")
    search_fields = ("filename",)
    ordering = ("-created_at", "-id")

    @admin.display(description=gettext_lazy("file"), ordering="filename")
    def filename_link(self, record: LineImport) -> str:
        url = reverse("admin:customers_sourcemapping_lines_run", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, record.filename)

    @admin.display(description=gettext_lazy("kind"), ordering="dry_run")
    def kind(self, record: LineImport) -> str:
        return _("Dry run") if record.dry_run else _("Import")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("customers.add_order")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.add_order")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if not object_id.isdigit():
            raise Http404
        return redirect(reverse("admin:customers_sourcemapping_lines_run", args=[int(object_id)]))
