"""Import and export buttons on the domain apps' changelists: ``ImportExportAdmin`` (the salon's
rules on top of django-import-export's mixin) and ``add_import_export``, which gives it to each
registered admin whose model has a resource.

Importing this module loads django-import-export, tablib and openpyxl, so ``transfer.admin``
asks the admin site to call ``add_import_export`` only when the site's URLs or checks are first
needed (``BeilsAdminSite.defer``), never while every ``manage.py`` command starts.
"""

import contextlib
import copy
import uuid

from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from import_export.forms import ImportForm as LibraryImportForm
from import_export.forms import SelectableFieldsExportForm

from audit.models import Outcome
from audit.services import audit_log
from beils.lib.admin import admin_extend
from beils.lib.formats import FORMATS, UnreadableFileError, file_too_large_message, max_import_bytes
from beils.lib.net import client_ip
from transfer.exports import export_stream
from transfer.import_mapping import (
    file_headers,
    mapped_import_detail,
    mapping_step,
    needs_mapping,
    remember_mapped_import,
    stash_upload,
)
from transfer.import_templates import CONTENT_TYPES, import_template
from transfer.jobs import failed_rows, failing_rows_csv, job_export_create, job_import_create
from transfer.resources.fields import column_label
from transfer.sniffing import csv_separator, detect_format, head_of


class ImportForm(LibraryImportForm):
    """The library's import form, where the file says what it is: the format is read from its
    first bytes (a zip is XLSX, ``[`` or ``{`` is JSON, other text is CSV), whatever its name
    or the format picked; the picker only decides for a file whose bytes do not say."""

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.format_titles = [format_class().get_title() for format_class in formats]
        self.fields["format"].required = False
        self.fields["format"].help_text = _("Read from the file itself; choose one only if it cannot be told.")

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("import_file")
        if upload is None:
            return cleaned
        detected = detect_format(head_of(upload))
        if detected in self.format_titles:
            cleaned["format"] = str(self.format_titles.index(detected))
        elif cleaned.get("format") in (None, ""):
            self.add_error("format", _("The file's format could not be told from its contents: choose it."))
        return cleaned


class ExportForm(SelectableFieldsExportForm):
    """The library's export form, with each column's checkbox named once, in the reader's
    language ("Correo electrónico"), not "Email (Email)" or "Id (ID)"."""

    def _get_field_label(self, resource, field_name: str) -> str:
        field = resource.fields.get(field_name)
        return column_label(resource._meta.model, field) if field is not None else field_name


class ImportExportAdmin(ImportExportMixin):
    """Import and export buttons on a changelist, with the salon's rules.

    Export: whoever holds ``transfer.export_data`` (ADMIN and MANAGER; never STAFF).
    Import: whoever holds ``transfer.import_data`` (ADMIN) for every model, or
    ``transfer.import_catalogue`` (MANAGER) for the catalogue and marketing; STAFF never; and
    always only where the user may add and change the model (so never for invoices).
    Every export and import is audited by the resource (see ``transfer/resources/base.py``).
    """

    formats = FORMATS
    import_form_class = ImportForm
    export_form_class = ExportForm
    #: Apps whose models ``transfer.import_catalogue`` lets one import.
    CATALOGUE_APPS = frozenset({"catalog", "marketing"})
    # The admin shows invalid rows in its own table after the dry run.
    import_error_display = ("message", "row")
    #: Files up to this many rows show every field of every row in the dry run's preview.
    import_preview_rows = 1000

    def has_export_permission(self, request):
        return request.user.has_perm("transfer.export_data")

    def has_import_permission(self, request):
        user = request.user
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            return False
        # A file of balances (gift cards) is value from nothing unless an ADMIN is moving data.
        holds_value = any(
            getattr(resource, "holds_value", False) for resource in self.get_import_resource_classes(request)
        )
        catalogue = self.opts.app_label in self.CATALOGUE_APPS and not holds_value
        return (catalogue and user.has_perm("transfer.import_catalogue")) or user.has_perm("transfer.import_data")

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {
            **kwargs,
            # The column mapping of a file that went through the mapping step, for the audit.
            "mapping_detail": getattr(request, "beils_mapping", None) or mapped_import_detail(request),
            "actor": request.user,
            "ip_address": client_ip(request),
            "invalid_rows_are_errors": False,
            "preview_rows": self.import_preview_rows,
        }

    #: Uploads larger than this are checked and imported by a Celery worker (a job with a
    #: progress bar) instead of during the request.
    import_background_bytes = 1024 * 1024
    #: Exports of more rows than this, in a format that cannot stream (XLSX), become a job.
    export_background_rows = 10_000
    import_template_name = "admin/beils/import.html"

    def import_action(self, request, **kwargs):
        upload = request.FILES.get("import_file") if request.method == "POST" else None
        if upload is not None and self.has_import_permission(request):
            if upload.size > max_import_bytes():
                form = self.create_import_form(request)
                form.is_valid()
                form.add_error("import_file", file_too_large_message(upload.size))
                context = {**self.get_import_context_data(), **self.admin_site.each_context(request)}
                context.update(form=form, opts=self.opts, title=_("Import"))
                response = TemplateResponse(request, [self.import_template_name], context)
                self._audit_refused_upload(request, response)
                return response
            form = self.create_import_form(request)
            if form.is_valid():
                step = self._mapping_step_for(request, form)
                if step is not None:
                    return step
                if upload.size > self.import_background_bytes:
                    return self._import_in_background(request, form)
        response = super().import_action(request, **kwargs)
        self._audit_refused_upload(request, response)
        self._forget_rejected_upload(response)
        self._offer_failing_rows(request, response)
        return response

    # --- the column-mapping step (transfer/import_mapping.py) ---

    def _mapping_step_for(self, request, form):
        """A redirect to the mapping step when the file's headers are not this list's columns;
        None for Beils' own files and templates (and for a file already mapped)."""
        if getattr(request, "beils_mapping", None) is not None:
            return None
        file_format = self.get_import_formats()[int(form.cleaned_data["format"])]().get_title()
        upload = form.cleaned_data["import_file"]
        headers = file_headers(file_format, upload)
        resource_class = self.choose_import_resource_class(form, request)
        if headers is None or not needs_mapping(resource_class(**self.get_import_resource_kwargs(request)), headers):
            return None
        token = stash_upload(
            request, upload=upload, file_format=file_format, model_label=self.opts.label,
            resource_index=str(form.cleaned_data.get("resource") or 0),
        )  # fmt: skip
        return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_import_mapping", token)

    def import_mapping_view(self, request, token):
        if not self.has_import_permission(request):
            raise PermissionDenied
        return mapping_step(self, request, token)

    def continue_mapped_import(self, request, upload, *, resource_index: str, detail: dict):
        """The import of a mapped file, as if it had been uploaded: the dry run and its preview,
        or a background job for a large file."""
        titles = [format_class().get_title() for format_class in self.get_import_formats()]
        mapped = copy.copy(request)
        mapped.method = "POST"
        mapped.POST = QueryDict(mutable=True)
        mapped.POST.update({"format": str(titles.index("csv")), "resource": resource_index})
        mapped._files = MultiValueDict({"import_file": [upload]})
        mapped.beils_mapping = detail
        response = self.import_action(mapped)
        confirm = (getattr(response, "context_data", None) or {}).get("confirm_form")
        if confirm is not None and confirm.initial.get("import_file_name"):
            remember_mapped_import(request, confirm.initial["import_file_name"], detail)
        return response

    def add_data_read_fail_error_to_form(self, form, e):
        # The library names only the exception's class; ours carries the message that says what
        # is wrong with the file (its encoding, a binary file, a limit), as the command prints it.
        if isinstance(e, UnreadableFileError):
            form.add_error("import_file", str(e))
        else:
            super().add_data_read_fail_error_to_form(form, e)

    def _audit_refused_upload(self, request, response):
        # A file refused before any row was read (unreadable, over a limit: perhaps a
        # decompression bomb) leaves no import entry behind; this says who sent it.
        form = (getattr(response, "context_data", None) or {}).get("form")
        upload = form.files.get("import_file") if form is not None and form.is_bound else None
        errors = form.errors.get("import_file") if upload is not None else None
        if errors:
            audit_log(
                action="maintenance.import.refused", actor=request.user, outcome=Outcome.FAILURE,
                ip_address=client_ip(request),
                detail={"model": self.opts.label, "file_name": upload.name, "size": upload.size, "error": errors[0]},
            )  # fmt: skip

    def _import_in_background(self, request, form):
        file_format = self.get_import_formats()[int(form.cleaned_data["format"])]()
        job = job_import_create(
            resource_class=self.choose_import_resource_class(form, request),
            file_format=file_format.get_title(), upload=form.cleaned_data["import_file"],
            actor=request.user, ip_address=client_ip(request), mapping=getattr(request, "beils_mapping", None),
        )  # fmt: skip
        self.message_user(
            request,
            _("The file is large: it is being checked in the background. Nothing is written before you confirm."),
        )
        return redirect("admin:transfer_job_change", job.pk)

    def _offer_failing_rows(self, request, response):
        # After a dry run with invalid rows: the failing rows as a CSV, kept in media storage.
        context = getattr(response, "context_data", None) or {}
        result = context.get("result")
        if result is None or not (result.has_errors() or result.has_validation_errors()):
            return
        # Every failing row with its errors in words, on the page (not behind a badge).
        context["failed_rows"] = [
            (number, messages, [values.get(header) for header in result.diff_headers])
            for number, values, messages in failed_rows(result)
        ]
        token = uuid.uuid4().hex
        form = context.get("form")
        upload = form.files.get("import_file") if form is not None and form.is_bound else None
        # The separator of the file uploaded, so that the failing rows open like it (";" in, ";" out).
        delimiter = csv_separator(head_of(upload)) if upload is not None else None
        content = ContentFile(failing_rows_csv(result, delimiter=delimiter))
        default_storage.save(f"import-errors/{token}/failing-rows.csv", content)
        # Only the person who uploaded the file may download its failing rows.
        request.session["beils_failing_rows"] = [*request.session.get("beils_failing_rows", [])[-9:], token]
        context["failing_rows_url"] = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_failing_rows", args=[token]
        )

    def failing_rows_view(self, request, token):
        if not self.has_import_permission(request) or token not in request.session.get("beils_failing_rows", []):
            raise PermissionDenied
        name = f"import-errors/{token}/failing-rows.csv"
        if not default_storage.exists(name):
            raise Http404
        return FileResponse(default_storage.open(name, "rb"), as_attachment=True, filename="failing-rows.csv")

    def import_template_view(self, request, fmt):
        """The file to fill in: this list's import columns and one example row, in ``fmt``."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        if fmt not in CONTENT_TYPES:
            raise Http404
        resource_class = self.get_import_resource_classes(request)[0]
        content = import_template(resource_class(**self.get_import_resource_kwargs(request)), fmt)
        response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
        name = f"{self.opts.model_name}-import-template.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def get_import_context_data(self, **kwargs):
        context = super().get_import_context_data(**kwargs)
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_import_template"
        context["import_templates"] = [(fmt.upper(), reverse(name, args=[fmt])) for fmt in CONTENT_TYPES]
        return context

    def get_urls(self):
        return [
            path(
                "import/failing-rows/<str:token>/",
                self.admin_site.admin_view(self.failing_rows_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_failing_rows",
            ),
            path(
                "import/mapping/<str:token>/",
                self.admin_site.admin_view(self.import_mapping_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_import_mapping",
            ),
            path(
                "import/template.<str:fmt>",
                self.admin_site.admin_view(self.import_template_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_import_template",
            ),
            *super().get_urls(),
        ]

    # --- export ---

    def _do_file_export(self, file_format, request, queryset, export_form=None):
        """CSV and JSON stream from the database (flat memory, audited by the stream); a large
        XLSX becomes a background job; anything else is the library's own export."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        resource_class = self.choose_export_resource_class(export_form, request)
        resource = resource_class(**self.get_export_resource_kwargs(request))
        title = file_format.get_title()
        selected = self.get_export_resource_fields_from_form(export_form)
        columns = resource.streaming_columns(selected) if hasattr(resource, "streaming_columns") else None
        if title in ("csv", "json") and columns is not None:
            return export_stream(
                queryset.order_by("pk"), fmt=title, columns=columns, actor=request.user,
                ip_address=client_ip(request),
            )  # fmt: skip
        count = queryset.count()
        if title == "xlsx" and count > self.export_background_rows:
            everything = count == resource.get_queryset().count()
            job = job_export_create(
                resource_class=resource_class, file_format=title, actor=request.user,
                pks=None if everything else queryset.values_list("pk", flat=True),
                ip_address=client_ip(request),
            )  # fmt: skip
            self.message_user(request, _("The export is large: it is being written in the background."))
            return redirect("admin:transfer_job_change", job.pk)
        return super()._do_file_export(file_format, request, queryset, export_form)

    def _forget_rejected_upload(self, response):
        # The library keeps the uploaded file for the confirmation step; a file that failed the
        # dry run is never confirmed, and it may hold personal data: delete it now.
        context = getattr(response, "context_data", None) or {}
        form = context.get("form")
        if context.get("confirm_form") is not None or form is None or not form.is_bound:
            return
        # form.files, not cleaned_data: a file that could not be read has left cleaned_data.
        upload = form.files.get("import_file")
        name = getattr(upload, "tmp_storage_name", None)
        if name:
            with contextlib.suppress(OSError):
                self.get_tmp_storage_class()(name=name, **self.get_tmp_storage_class_kwargs()).remove()


def add_import_export(site: admin.AdminSite, resources: dict) -> None:
    """Re-register the admin of each model in ``resources`` ({model: resource class}) as itself
    plus ``ImportExportAdmin``. The admin's own changelist template, if it has one, is kept."""
    for model, resource_class in resources.items():
        registered = site._registry.get(model)
        if registered is None:
            continue
        _refuse_import_export_overrides(type(registered))
        attrs = {"resource_classes": [resource_class]}
        if registered.change_list_template:
            attrs["change_list_template"] = registered.change_list_template
        admin_extend(site, model, ImportExportAdmin, **attrs)


#: The mixin's own permission and resource hooks (not the ones it shares with ModelAdmin).
_IMPORT_EXPORT_HOOKS = {
    name for klass in ImportExportMixin.__mro__ for name in vars(klass) if name.startswith(("has_", "get_"))
} - (set(vars(admin.ModelAdmin)) | set(vars(admin.options.BaseModelAdmin)))


def _refuse_import_export_overrides(original: type) -> None:
    """The mixin comes first in the new class, so an import/export hook that the domain admin
    defines itself would be silently ignored: refuse it, and say where such a rule belongs."""
    for klass in original.__mro__:
        if klass.__module__.split(".")[0] in ("django", "import_export", "builtins"):
            continue
        clash = sorted(_IMPORT_EXPORT_HOOKS & set(vars(klass)))
        if clash:
            raise ImproperlyConfigured(
                f"{klass.__qualname__} defines {', '.join(clash)}: import and export rules live in transfer "  # i18n: technical
                "(ImportExportAdmin, or the resource), which would shadow it."
            )
