"""Admin building blocks shared by every app."""

import contextlib

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportMixin

from beils.lib.formats import FORMATS
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

    actions = ["deactivate_selected", "reactivate_selected"]

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

    def import_action(self, request, **kwargs):
        response = super().import_action(request, **kwargs)
        self._forget_rejected_upload(response)
        return response

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
