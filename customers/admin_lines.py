"""Admin pages for sales lines (issue #18): source mappings and the line import.

- "Map a new file": upload a sample, pick a TierHub field per header (guessed for known
  English and Chinese headers), set the formats, preview the first rows as TierHub reads
  them, save the mapping under a name.
- "Import sales lines": upload, dry run (the whole import, rolled back) with the
  data-quality report, confirm, and download the report as CSV.

Thin interfaces over `customers.services.lines`; uploads wait in private files named by a
signed token, exactly as in `customers.admin_io` (whose helpers they use).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any, cast

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin

from common.exceptions import DomainError
from customers import admin_io
from customers.exceptions import ImportRejected
from customers.models import SourceMapping
from customers.services.lines import (
    FIELD_LABELS,
    LINE_FIELDS,
    LINE_OPTIONAL,
    LINE_REQUIRED,
    LineFormat,
    LineImportReport,
    order_lines_header,
    order_lines_import,
    order_lines_preview,
    quality_csv,
    source_mapping_guess,
)
from customers.tabular import TableError, open_table

#: Lines shown by the mapping preview.
PREVIEW_LINES = 20
_SAMPLE_SALT = "customers.admin_lines.sample"
_REPORT_SALT = "customers.admin_lines.report"
LINES_KIND = admin_io.ImportKind(
    "order_lines",
    gettext_lazy("sales lines"),
    LINE_REQUIRED,
    LINE_OPTIONAL,
    order_lines_import,
    options=("create_missing_customers",),
)


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
    file = forms.FileField(label=gettext_lazy("File"))
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


def _report_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    report: LineImportReport,
    filename: str,
    token: str | None,
    status: int = 200,
) -> TemplateResponse:
    rows = report.quality_rows()
    data = signing.dumps(rows, salt=_REPORT_SALT, compress=True) if not report.errors else None
    return _page(
        model_admin,
        request,
        "lines_report.html",
        status,
        title=_("Import sales lines: %(file)s") % {"file": filename},
        report=report,
        quality=rows,
        errors=report.errors[: admin_io.MAX_ERRORS_SHOWN],
        more_errors=max(len(report.errors) - admin_io.MAX_ERRORS_SHOWN, 0),
        note=report.limit_note(),
        token=token,
        report_url=(f"{admin_io._url(model_admin, 'lines_report')}?data={data}" if data else None),
        upload_url=admin_io._url(model_admin, "import_lines"),
    )


def lines_import_view(request: HttpRequest, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Import sales lines: upload and dry run (GET: the form)."""
    if not request.user.has_perm("customers.add_order"):
        raise PermissionDenied
    title = _("Import sales lines")
    if request.method != "POST":
        return _page(model_admin, request, "lines_import.html", title=title, form=LineImportForm())
    form = LineImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(model_admin, request, "lines_import.html", 400, title=title, form=form)
    upload = form.cleaned_data["file"]
    filename = str(upload.name)
    stored = admin_io._store_upload(upload)
    mapping = form.cleaned_data["mapping"]
    options = {
        "mapping": mapping.name if mapping else "",
        "return_prefix": form.cleaned_data["return_prefix"] or None,
        "create_missing_customers": form.cleaned_data["create_missing_customers"],
    }
    token = None
    try:
        try:
            report = _run(stored, filename, options, dry_run=True, by=request.user)
        except ImportRejected as rejected:
            report = rejected.report
        if not report.errors:
            token = admin_io._token_for(
                stored=stored,
                user_pk=request.user.pk,
                kind=LINES_KIND,
                filename=filename,
                options=options,
            )
    finally:
        if token is None:
            stored.unlink()
    return _report_page(
        model_admin,
        request,
        report=report,
        filename=filename,
        token=token,
        status=200 if token else 400,
    )


def _run(stored: Path, filename: str, options: dict[str, Any], **kwargs: Any) -> LineImportReport:
    mapping = (
        SourceMapping.objects.filter(name=options["mapping"]).first()
        if options["mapping"]
        else None
    )
    return order_lines_import(
        source=stored,
        filename=filename,
        mapping=mapping,
        return_prefix=options.get("return_prefix"),
        create_missing_customers=bool(options.get("create_missing_customers")),
        **kwargs,
    )


def lines_confirm_view(request: HttpRequest, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Import the previewed file for real, then show the data-quality report."""
    if request.method != "POST":
        return HttpResponse(status=405)
    if not request.user.has_perm("customers.add_order"):
        raise PermissionDenied
    try:
        payload = admin_io._token_payload(
            request.POST.get("token", ""), request=request, kind=LINES_KIND
        )
        stored = admin_io._claim_upload(str(payload.get("name", "")))
        if stored is None:
            raise DomainError(
                _("This preview was already used or has expired; upload the file again.")
            )
    except DomainError as refused:
        messages.error(request, refused.message)
        return redirect(admin_io._url(model_admin, "import_lines"))
    filename = str(payload.get("filename", ""))
    try:
        report = _run(stored, filename, payload.get("options", {}), dry_run=False, by=request.user)
    except ImportRejected as rejected:
        messages.error(
            request,
            _("The data changed since the preview: %(rejection)s.")
            % {"rejection": rejected.report.rejection()},
        )
        return _report_page(
            model_admin, request, report=rejected.report, filename=filename, token=None, status=409
        )
    finally:
        stored.unlink(missing_ok=True)
    summary = _(
        "Imported %(file)s: %(lines)d lines, %(created)d orders created, %(updated)d updated."
    ) % {
        "file": filename,
        "lines": report.total_rows,
        "created": report.created,
        "updated": report.updated,
    }
    admin_io._log_import(request, model_admin, filename=filename, summary=summary)
    messages.success(request, summary)
    return _report_page(model_admin, request, report=report, filename=filename, token=None)


def lines_report_view(request: HttpRequest, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Return a data-quality report (signed into the link) as a CSV download."""
    if not request.user.has_perm("customers.add_order"):
        raise PermissionDenied
    try:
        rows = signing.loads(request.GET.get("data", ""), salt=_REPORT_SALT, max_age=24 * 3600)
    except signing.BadSignature:
        return HttpResponse(status=404)
    report_text = quality_csv(_RowsReport(rows))
    response = HttpResponse(report_text, content_type=admin_io.FORMATS["csv"])
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
            def bound(request: HttpRequest) -> HttpResponse:
                return function(request, model_admin=self)

            return self.admin_site.admin_view(bound)

        return [
            path("map/", view(mapping_view), name=f"{prefix}_map"),
            path("import-lines/", view(lines_import_view), name=f"{prefix}_import_lines"),
            path("import-lines/confirm/", view(lines_confirm_view), name=f"{prefix}_lines_confirm"),
            path("import-lines/report/", view(lines_report_view), name=f"{prefix}_lines_report"),
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
