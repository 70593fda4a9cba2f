"""Admin building blocks shared by every app."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from beils.lib.models import Status
from beils.lib.money import format_money


class ActiveStatusFilter(admin.SimpleListFilter):
    """Active rows by default; deactivated rows are one click away (the trash)."""

    title = _("status")
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [
            ("yes", pgettext_lazy("rows", "Active")),
            ("no", pgettext_lazy("rows", "Deactivated")),
            ("all", pgettext_lazy("rows", "All")),
        ]

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

    #: ``maintenance`` adds "purge_selected" (delete deactivated rows for good) after these.
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


def admin_extend(site: admin.AdminSite, model, mixin: type, **attrs) -> None:
    """Register ``model``'s admin again as ``mixin`` plus the admin it had, with ``attrs``: how a
    higher room (transfer, maintenance) adds its buttons and actions to a domain app's admin
    without the domain app importing it. The class keeps its name and module."""
    original = type(site._registry[model])
    site.unregister(model)
    attrs = {"__module__": original.__module__, **attrs}
    site.register(model, type(original.__name__, (mixin, original), attrs))


def money_column(field_name: str, description=None, ordering: str | None = None):
    """A list or read-only column showing ``field_name`` as money (``59,90 €``): Django's admin
    shows a DecimalField as a bare number. Use as ``total_money = money_column("total")`` on the
    ModelAdmin and name ``total_money`` in ``list_display``/``readonly_fields``."""

    def column(self, obj):
        return format_money(getattr(obj, field_name))

    column.short_description = description or field_name.replace("_", " ")
    column.admin_order_field = ordering or field_name
    return column
