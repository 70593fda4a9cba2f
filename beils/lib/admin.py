"""Admin building blocks shared by every app."""

from types import MethodType

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


def money_column(field_name: str, description, ordering: str | None = None):
    """A list or read-only column showing ``field_name`` as money (``59,90 €``): Django's admin
    shows a DecimalField as a bare number. Use as ``total_money = money_column("total", _("total"))``
    on the ModelAdmin and name ``total_money`` in ``list_display``/``readonly_fields``; or list the
    model's money fields in ``MoneyFieldsAdmin.money_fields``, which does this for each."""

    def column(self, obj):
        return format_money(getattr(obj, field_name))

    column.short_description = description
    column.admin_order_field = ordering or field_name
    return column


def _as_money(name: str) -> str:
    return f"{name}_money"


class MoneyFieldsAdmin:
    """Shows the ``money_fields`` of the model as money (``59,90 €``, via ``money_column``)
    wherever the admin shows rather than edits them: list columns, read-only fields, view-only
    pages and inlines. Django's admin prints a DecimalField as a bare number. For a ModelAdmin or
    an inline; an editable money field stays an input."""

    money_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.money_fields:
            column = money_column(name, self.model._meta.get_field(name).verbose_name)
            setattr(self, _as_money(name), MethodType(column, self))
        # Wrapped on the instance, so that an admin's own get_readonly_fields is wrapped too.
        self._plain_readonly_fields = self.get_readonly_fields
        self.get_readonly_fields = self._readonly_fields_with_money

    def _readonly_fields_with_money(self, request, obj=None):
        # Every money column is read-only (never a form field), shown or not.
        plain = self._plain_readonly_fields(request, obj)
        fields = [_as_money(n) if n in self.money_fields else n for n in plain]
        return list(dict.fromkeys([*fields, *map(_as_money, self.money_fields)]))

    def get_list_display(self, request):
        return [_as_money(n) if n in self.money_fields else n for n in super().get_list_display(request)]

    def get_fieldsets(self, request, obj=None):
        shown = self._money_shown(request, obj)
        fieldsets = []
        for title, options in super().get_fieldsets(request, obj):
            names = []
            for name in options.get("fields", ()):
                if isinstance(name, str) and name in shown:
                    name = _as_money(name)
                elif isinstance(name, str) and name in self._money_columns() and name not in map(_as_money, shown):
                    continue  # the column of a money field that is edited here
                if name not in names:
                    names.append(name)
            fieldsets.append((title, {**options, "fields": names}))
        return fieldsets

    def _money_columns(self) -> set[str]:
        return {_as_money(n) for n in self.money_fields}

    def _money_shown(self, request, obj) -> set[str]:
        """The money fields shown, not edited: read-only ones, or all on a view-only page."""
        readonly = set(self._plain_readonly_fields(request, obj))
        editable = {f.name for f in self.model._meta.fields if f.editable}
        if self._view_only(request, obj):
            return set(self.money_fields)
        return {n for n in self.money_fields if n in readonly or n not in editable}

    def _view_only(self, request, obj) -> bool:
        if isinstance(self, admin.options.InlineModelAdmin):
            parent = self.admin_site._registry.get(self.parent_model)
            parent_view_only = parent is not None and obj is not None and not parent.has_change_permission(request, obj)
            return parent_view_only or not self.has_change_permission(request, obj)
        return obj is not None and not self.has_change_permission(request, obj)
