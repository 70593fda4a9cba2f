"""Admin building blocks shared by every app."""

import contextlib
import uuid

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportMixin

from beils.lib.formats import FORMATS, UnreadableFileError, file_too_large_message, max_import_bytes
from beils.lib.models import Status
from crm.models import Role


class ActiveStatusFilter(admin.SimpleListFilter):
    """Active rows by default; deactivated rows are one click away (the trash)."""

    title = _("status")
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", _("Active")), ("no", _("Deactivated")), ("all", _("All"))]

    def choices(self, changelist):
        value = self.value() or "yes"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "yes"
        if value == "yes":
            return queryset.filter(status=Status.ON)
        if value == "no":
            return queryset.filter(status=Status.OFF)
        return queryset


class SoftDeleteAdmin(admin.ModelAdmin):
    """For models that are deactivated rather than deleted."""

    actions = ["deactivate_selected", "reactivate_selected", "purge_selected"]

    def get_list_filter(self, request):
        return [ActiveStatusFilter, *super().get_list_filter(request)]

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # Autocomplete widgets offer only active rows for new choices.
        if request.path.endswith("/autocomplete/"):
            queryset = queryset.filter(status=Status.ON)
        return queryset, may_have_duplicates

    @admin.action(description=_("Deactivate selected %(verbose_name_plural)s"), permissions=["change"])
    def deactivate_selected(self, request, queryset):
        count = queryset.deactivate()
        self.message_user(
            request, ngettext("%d row deactivated.", "%d rows deactivated.", count) % count, messages.SUCCESS
        )

    @admin.action(description=_("Restore (reactivate) selected %(verbose_name_plural)s"), permissions=["change"])
    def reactivate_selected(self, request, queryset):
        count = queryset.reactivate()
        self.message_user(request, ngettext("%d row restored.", "%d rows restored.", count) % count, messages.SUCCESS)

    def has_purge_permission(self, request) -> bool:
        """Deleting for good is an ADMIN's decision (domain: STAFF never hard-deletes)."""
        return request.user.is_superuser or getattr(request.user, "role", None) == Role.ADMIN

    @admin.action(description=_("Purge selected %(verbose_name_plural)s (permanently delete)"), permissions=["purge"])
    def purge_selected(self, request, queryset):
        from maintenance.backups.locks import MaintenanceBusy
        from maintenance.cleanup import REMOVED, Trash, cleanup_run

        selected = list(queryset.values_list("pk", "status"))
        active = sum(1 for _, status in selected if status == Status.ON)
        trash = Trash(
            model=self.model, older_than_days=0, pks=tuple(pk for pk, status in selected if status == Status.OFF)
        )
        try:
            run = cleanup_run(trash=trash, dry_run=False, actor=request.user)["trash"]
        except MaintenanceBusy as exc:
            self.message_user(request, str(exc) or _("Another cleanup is running; try again later."), messages.ERROR)
            return
        figures = run.counts.get(self.opts.db_table, {})
        purged, kept = figures.get(REMOVED, 0), figures.get("kept: protected", 0)
        self.message_user(
            request, ngettext("%d row purged.", "%d rows purged.", purged) % purged,
            messages.SUCCESS if purged else messages.INFO,
        )  # fmt: skip
        if kept:
            self.message_user(
                request,
                ngettext(
                    "%d row kept: other records depend on it (deactivate it instead).",
                    "%d rows kept: other records depend on them (deactivate them instead).",
                    kept,
                ) % kept,
                messages.WARNING,
            )  # fmt: skip
        if active:
            self.message_user(
                request,
                ngettext("%d active row skipped: only deactivated rows are purged.",
                         "%d active rows skipped: only deactivated rows are purged.", active) % active,
                messages.WARNING,
            )  # fmt: skip


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the system (fiscal records, audit, backups): visible, never
    added, edited or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """A ledger shown under its parent: every field read-only, no rows added or removed."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class ImportExportAdmin(ImportExportMixin):
    """Import and export buttons on a changelist, with the salon's rules.

    Export: whoever holds ``maintenance.export_data`` (ADMIN and MANAGER; never STAFF).
    Import: ADMIN for every model, MANAGER for the catalogue and marketing, STAFF never; and
    always only where the user may add and change the model (so never for invoices).
    Every export and import is audited by the resource (see ``beils/lib/resources.py``).
    """

    formats = FORMATS
    #: Apps whose models a MANAGER may import.
    MANAGER_IMPORT_APPS = frozenset({"catalog", "marketing"})
    # The admin shows invalid rows in its own table after the dry run.
    import_error_display = ("message", "row")
    #: Files up to this many rows show every field of every row in the dry run's preview.
    import_preview_rows = 1000

    def has_export_permission(self, request):
        return request.user.has_perm("maintenance.export_data")

    def has_import_permission(self, request):
        user = request.user
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            return False
        if user.is_superuser or user.role == Role.ADMIN:
            return True
        return user.role == Role.MANAGER and self.opts.app_label in self.MANAGER_IMPORT_APPS

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {
            **kwargs,
            "actor": request.user,
            "ip_address": request.META.get("REMOTE_ADDR"),
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
            if upload.size > self.import_background_bytes:
                form = self.create_import_form(request)
                if form.is_valid():
                    return self._import_in_background(request, form)
        response = super().import_action(request, **kwargs)
        self._audit_refused_upload(request, response)
        self._forget_rejected_upload(response)
        self._offer_failing_rows(request, response)
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
        from maintenance.models import Outcome
        from maintenance.services import audit_log

        form = (getattr(response, "context_data", None) or {}).get("form")
        upload = form.files.get("import_file") if form is not None and form.is_bound else None
        errors = form.errors.get("import_file") if upload is not None else None
        if errors:
            audit_log(
                action="maintenance.import.refused", actor=request.user, outcome=Outcome.FAILURE,
                ip_address=request.META.get("REMOTE_ADDR"),
                detail={"model": self.opts.label, "file_name": upload.name, "size": upload.size, "error": errors[0]},
            )  # fmt: skip

    def _import_in_background(self, request, form):
        from maintenance.jobs import job_import_create

        file_format = self.get_import_formats()[int(form.cleaned_data["format"])]()
        job = job_import_create(
            resource_class=self.choose_import_resource_class(form, request),
            file_format=file_format.get_title(), upload=form.cleaned_data["import_file"],
            actor=request.user, ip_address=request.META.get("REMOTE_ADDR"),
        )  # fmt: skip
        self.message_user(
            request,
            _("The file is large: it is being checked in the background. Nothing is written before you confirm."),
        )
        return redirect("admin:maintenance_job_change", job.pk)

    def _offer_failing_rows(self, request, response):
        # After a dry run with invalid rows: the failing rows as a CSV, kept in media storage.
        from maintenance.jobs import failing_rows_csv

        context = getattr(response, "context_data", None) or {}
        result = context.get("result")
        if result is None or not (result.has_errors() or result.has_validation_errors()):
            return
        token = uuid.uuid4().hex
        default_storage.save(f"import-errors/{token}/failing-rows.csv", ContentFile(failing_rows_csv(result)))
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

    def get_urls(self):
        return [
            path(
                "import/failing-rows/<str:token>/",
                self.admin_site.admin_view(self.failing_rows_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_failing_rows",
            ),
            *super().get_urls(),
        ]

    # --- export ---

    def _do_file_export(self, file_format, request, queryset, export_form=None):
        """CSV and JSON stream from the database (flat memory, audited by the stream); a large
        XLSX becomes a background job; anything else is the library's own export."""
        from maintenance.exports import export_stream
        from maintenance.jobs import job_export_create

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
                ip_address=request.META.get("REMOTE_ADDR"),
            )  # fmt: skip
        count = queryset.count()
        if title == "xlsx" and count > self.export_background_rows:
            everything = count == resource.get_queryset().count()
            job = job_export_create(
                resource_class=resource_class, file_format=title, actor=request.user,
                pks=None if everything else queryset.values_list("pk", flat=True),
                ip_address=request.META.get("REMOTE_ADDR"),
            )  # fmt: skip
            self.message_user(request, _("The export is large: it is being written in the background."))
            return redirect("admin:maintenance_job_change", job.pk)
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
