from django.contrib import admin
from django.db.models import Count, F
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from beils.lib.admin import MoneyFieldsAdmin, SoftDeleteAdmin
from catalog.models import Brand, Category, Pack, PackItem, Product, Service, Subcategory, Tag


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
