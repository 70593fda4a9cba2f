from django.contrib import admin
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beils.lib.admin import ImportExportAdmin, ReadOnlyAdmin
from sales.models import Cart, CartItem, Debt, DebtPayment, Invoice, InvoiceSequence, Payment
from sales.resources import (
    CartItemResource,
    CartResource,
    DebtPaymentResource,
    DebtResource,
    InvoiceResource,
    InvoiceSequenceResource,
    PaymentResource,
)

TOTALS = ["subtotal", "discount_total", "net_total", "tax_total", "total"]


class CartItemInline(admin.TabularInline):
    model = CartItem
    extra = 0
    fields = [
        "product",
        "service",
        "pack",
        "bonus",
        "client_bonus",
        "name",
        "quantity",
        "unit_price",
        "tax_rate",
        "discount",
        "net",
        "tax",
        "gross",
    ]
    readonly_fields = ["net", "tax", "gross"]
    autocomplete_fields = ["product", "service", "pack", "bonus", "client_bonus"]


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    fields = ["method", "amount", "paid_at", "gift_card"]
    autocomplete_fields = ["gift_card"]


class OverdueFilter(admin.SimpleListFilter):
    title = _("due")
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", _("Overdue")), ("open", _("Open (not paid)"))]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.overdue()
        if self.value() == "open":
            return queryset.open()
        return queryset


@admin.register(Cart)
class CartAdmin(ImportExportAdmin, admin.ModelAdmin):
    resource_classes = [CartResource]
    list_display = ["__str__", "completed_at", "client", "status", "total", "paid"]
    list_filter = ["status"]
    list_select_related = ["client"]
    search_fields = ["=id", "client__name", "client__surname", "client__email"]
    date_hierarchy = "completed_at"
    autocomplete_fields = ["client", "booking", "coupon"]
    readonly_fields = [*TOTALS, "completed_at", "created_at", "created_by"]
    fieldsets = [
        (None, {"fields": ["client", "booking", "status", "coupon", "notes"]}),
        (_("Totals (computed)"), {"fields": TOTALS}),
        (_("History"), {"fields": ["completed_at", "created_at", "created_by"]}),
    ]
    inlines = [CartItemInline, PaymentInline]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(amount_paid_sum=Sum("payments__amount"))

    @admin.display(description=_("paid"), ordering="amount_paid_sum")
    def paid(self, obj):
        return obj.amount_paid_sum or 0


@admin.register(CartItem)
class CartItemAdmin(ImportExportAdmin, admin.ModelAdmin):
    resource_classes = [CartItemResource]
    list_display = ["name", "cart", "quantity", "unit_price", "tax_rate", "gross"]
    list_select_related = ["cart"]
    search_fields = ["name", "=cart__id"]
    raw_id_fields = ["cart"]
    autocomplete_fields = ["product", "service", "pack", "bonus", "client_bonus"]
    readonly_fields = ["net", "tax", "gross"]
    show_full_result_count = False


@admin.register(Payment)
class PaymentAdmin(ImportExportAdmin, admin.ModelAdmin):
    resource_classes = [PaymentResource]
    list_display = ["cart", "method", "amount", "paid_at"]
    list_filter = ["method"]
    list_select_related = ["cart"]
    search_fields = ["=cart__id"]
    raw_id_fields = ["cart"]
    autocomplete_fields = ["gift_card"]
    date_hierarchy = "paid_at"
    show_full_result_count = False


class DebtPaymentInline(admin.TabularInline):
    model = DebtPayment
    extra = 0
    fields = ["amount", "method", "paid_at"]


@admin.register(Debt)
class DebtAdmin(ImportExportAdmin, admin.ModelAdmin):
    resource_classes = [DebtResource]
    list_display = ["__str__", "client", "amount", "remaining", "status", "due_date"]
    list_filter = [OverdueFilter, "status"]
    list_select_related = ["client"]
    search_fields = ["client__name", "client__surname", "client__email"]
    autocomplete_fields = ["client"]
    raw_id_fields = ["cart"]
    date_hierarchy = "created_at"
    inlines = [DebtPaymentInline]


@admin.register(DebtPayment)
class DebtPaymentAdmin(ImportExportAdmin, admin.ModelAdmin):
    resource_classes = [DebtPaymentResource]
    list_display = ["debt", "amount", "method", "paid_at"]
    list_filter = ["method"]
    list_select_related = ["debt"]
    raw_id_fields = ["debt"]
    date_hierarchy = "paid_at"


@admin.register(Invoice)
class InvoiceAdmin(ImportExportAdmin, ReadOnlyAdmin):
    resource_classes = [InvoiceResource]
    list_display = ["number", "kind", "issue_date", "customer_name", "net_total", "tax_total", "total"]
    list_filter = ["kind", "series", "year"]
    search_fields = ["=number", "customer_name", "customer_tax_id"]
    date_hierarchy = "issue_date"
    show_full_result_count = False


@admin.register(InvoiceSequence)
class InvoiceSequenceAdmin(ImportExportAdmin, ReadOnlyAdmin):
    resource_classes = [InvoiceSequenceResource]
    list_display = ["series", "year", "last_number"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(year__lte=timezone.localdate().year + 1)
