from types import MethodType

from django.contrib import admin
from django.db.models import Count, F
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from beils.lib.admin import SoftDeleteAdmin, money_column
from catalog.models import Brand, Category, Pack, PackItem, Product, Service, Subcategory, Tag


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


class LowStockFilter(admin.SimpleListFilter):
    title = _("stock")
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("low", _("Low stock (at or below minimum)")), ("out", _("Out of stock"))]

    def queryset(self, request, queryset):
        if self.value() == "low":
            return queryset.filter(stock__lte=F("min_stock"))
        if self.value() == "out":
            return queryset.filter(stock__lte=0)
        return queryset


class SubcategoryInline(admin.TabularInline):
    model = Subcategory
    extra = 0


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "product_count", "service_count"]
    search_fields = ["name"]
    inlines = [SubcategoryInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_products=Count("products", distinct=True), n_services=Count("services", distinct=True))
        )

    @admin.display(description=_("products"), ordering="n_products")
    def product_count(self, obj):
        return obj.n_products

    @admin.display(description=_("services"), ordering="n_services")
    def service_count(self, obj):
        return obj.n_services


@admin.register(Subcategory)
class SubcategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "category"]
    list_select_related = ["category"]
    list_filter = ["category"]
    search_fields = ["name", "category__name"]


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "product_count"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_products=Count("products"))

    @admin.display(description=_("products"), ordering="n_products")
    def product_count(self, obj):
        return obj.n_products


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "swatch"]
    search_fields = ["name"]

    @admin.display(description=_("colour"))
    def swatch(self, obj):
        return format_html(
            '<span style="display:inline-block;width:1.2em;height:1.2em;border-radius:3px;background:{}"></span> {}',
            obj.color,
            obj.color,
        )


@admin.register(Product)
class ProductAdmin(MoneyFieldsAdmin, SoftDeleteAdmin):
    money_fields = ("price", "cost")
    list_display = ["name", "sku", "category", "brand", "price", "tax_rate", "stock_badge"]
    list_filter = [LowStockFilter, "category", "brand", "tags"]
    list_select_related = ["category", "brand"]
    search_fields = ["name", "=sku", "=barcode"]
    autocomplete_fields = ["category", "subcategory", "brand"]
    filter_horizontal = ["tags"]
    readonly_fields = ["created_at", "updated_at", "deactivated_at"]
    fieldsets = [
        (None, {"fields": ["name", "sku", "barcode", "status", "description", "image"]}),
        (_("Classification"), {"fields": ["category", "subcategory", "brand", "tags"]}),
        (_("Price and stock"), {"fields": ["price", "tax_rate", "cost", "stock", "min_stock"]}),
        (_("History"), {"fields": ["created_at", "updated_at", "deactivated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description=_("stock"), ordering="stock")
    def stock_badge(self, obj):
        colour = "#b91c1c" if obj.is_low_stock else "#15803d"
        return format_html('<strong style="color:{}">{}</strong> / {}', colour, obj.stock, obj.min_stock)


@admin.register(Service)
class ServiceAdmin(MoneyFieldsAdmin, SoftDeleteAdmin):
    money_fields = ("price",)
    list_display = ["name", "code", "category", "price", "tax_rate", "duration_minutes", "required_consent"]
    list_filter = ["category", "required_consent"]
    list_select_related = ["category"]
    search_fields = ["name", "=code"]
    autocomplete_fields = ["category"]


class PackItemInline(admin.TabularInline):
    model = PackItem
    extra = 1
    autocomplete_fields = ["product", "service"]
    fields = ["product", "service", "quantity"]


@admin.register(Pack)
class PackAdmin(MoneyFieldsAdmin, SoftDeleteAdmin):
    money_fields = ("price",)
    list_display = ["name", "code", "price", "tax_rate", "line_count"]
    search_fields = ["name", "=code"]
    inlines = [PackItemInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_items=Count("items"))

    @admin.display(description=_("lines"), ordering="n_items")
    def line_count(self, obj):
        return obj.n_items


@admin.register(PackItem)
class PackItemAdmin(admin.ModelAdmin):
    list_display = ["pack", "product", "service", "quantity"]
    list_select_related = ["pack", "product", "service"]
    search_fields = ["pack__name", "product__name", "service__name"]
    autocomplete_fields = ["pack", "product", "service"]
