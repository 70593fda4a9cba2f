from django.contrib import admin
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beils.lib.admin import ImportExportAdmin, ReadOnlyInline, SoftDeleteAdmin
from marketing.models import Bonus, BonusRedemption, ClientBonus, Coupon, GiftCard, GiftCardMovement
from marketing.resources import (
    BonusRedemptionResource,
    BonusResource,
    ClientBonusResource,
    CouponResource,
    GiftCardMovementResource,
    GiftCardResource,
)


class ValidityFilter(admin.SimpleListFilter):
    title = _("validity")
    parameter_name = "validity"

    def lookups(self, request, model_admin):
        return [("now", _("Valid now")), ("expired", _("Expired")), ("month", _("Expiring this month"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "now":
            return queryset.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now)).filter(
                Q(valid_until__isnull=True) | Q(valid_until__gte=now)
            )
        if self.value() == "expired":
            return queryset.filter(valid_until__lt=now)
        if self.value() == "month":
            return queryset.filter(valid_until__gte=now, valid_until__year=now.year, valid_until__month=now.month)
        return queryset


class ExpiringFilter(admin.SimpleListFilter):
    """For things with an ``expires_on`` date (client bonos, gift cards)."""

    title = _("expiry")
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [("month", _("Expiring this month")), ("expired", _("Expired"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "month":
            return queryset.filter(expires_on__gte=today, expires_on__year=today.year, expires_on__month=today.month)
        if self.value() == "expired":
            return queryset.filter(expires_on__lt=today)
        return queryset


@admin.register(Coupon)
class CouponAdmin(ImportExportAdmin, SoftDeleteAdmin):
    resource_classes = [CouponResource]
    list_display = ["code", "kind", "value", "min_purchase", "uses", "max_uses", "valid_from", "valid_until"]
    list_filter = [ValidityFilter, "kind"]
    search_fields = ["=code", "description"]
    readonly_fields = ["uses", "created_at"]


@admin.register(Bonus)
class BonusAdmin(ImportExportAdmin, SoftDeleteAdmin):
    resource_classes = [BonusResource]
    list_display = ["name", "code", "total_sessions", "price", "validity_months"]
    search_fields = ["name", "=code"]
    filter_horizontal = ["services"]


class BonusRedemptionInline(ReadOnlyInline):
    model = BonusRedemption
    fields = ["created_at", "sessions", "booking", "cart_item", "note"]


@admin.register(ClientBonus)
class ClientBonusAdmin(ImportExportAdmin, admin.ModelAdmin):
    resource_classes = [ClientBonusResource]
    list_display = ["name", "client", "sessions_remaining", "sessions_total", "purchased_on", "expires_on", "status"]
    list_filter = ["status", ExpiringFilter]
    list_select_related = ["client"]
    search_fields = ["name", "client__name", "client__surname", "client__email"]
    autocomplete_fields = ["client", "bonus"]
    date_hierarchy = "purchased_on"
    filter_horizontal = ["services"]
    inlines = [BonusRedemptionInline]


@admin.register(BonusRedemption)
class BonusRedemptionAdmin(ImportExportAdmin, admin.ModelAdmin):
    resource_classes = [BonusRedemptionResource]
    list_display = ["client_bonus", "sessions", "booking", "created_at"]
    list_select_related = ["client_bonus", "booking__client"]
    raw_id_fields = ["client_bonus", "cart_item", "booking"]
    date_hierarchy = "created_at"
    show_full_result_count = False


class GiftCardMovementInline(ReadOnlyInline):
    model = GiftCardMovement
    fields = ["created_at", "kind", "amount", "balance_after", "cart"]


@admin.register(GiftCard)
class GiftCardAdmin(ImportExportAdmin, admin.ModelAdmin):
    resource_classes = [GiftCardResource]
    list_display = ["code", "owner", "initial_balance", "current_balance", "issued_on", "expires_on", "status"]
    list_filter = ["status", ExpiringFilter]
    list_select_related = ["owner"]
    search_fields = ["=code", "owner__name", "owner__surname", "owner__email"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["current_balance"]
    date_hierarchy = "issued_on"
    inlines = [GiftCardMovementInline]


@admin.register(GiftCardMovement)
class GiftCardMovementAdmin(ImportExportAdmin, admin.ModelAdmin):
    resource_classes = [GiftCardMovementResource]
    list_display = ["gift_card", "kind", "amount", "balance_after", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["gift_card"]
    raw_id_fields = ["gift_card", "cart"]
    date_hierarchy = "created_at"
    show_full_result_count = False
