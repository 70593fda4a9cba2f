from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from beils.lib.admin import MoneyFieldsAdmin, ReadOnlyAdmin, ReadOnlyInline, SoftDeleteAdmin
from beils.lib.changelists import BigListMixin
from beils.lib.money import format_money
from beils.lib.net import client_ip
from marketing.models import Bonus, BonusRedemption, ClientBonus, Coupon, CouponKind, GiftCard, GiftCardMovement
from marketing.services import client_bonus_grant_audit, gift_card_issue_comp


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
class CouponAdmin(MoneyFieldsAdmin, SoftDeleteAdmin):
    money_fields = ("min_purchase",)
    list_display = ["code", "kind", "value_shown", "min_purchase", "uses", "max_uses", "valid_from", "valid_until"]
    list_filter = [ValidityFilter, "kind"]
    search_fields = ["=code", "description"]
    readonly_fields = ["uses", "created_at"]

    @admin.display(description=_("value"), ordering="value")
    def value_shown(self, obj):
        """``15 %`` off, or ``5,00 €`` off: the value means either, by the coupon's kind."""
        if obj.kind == CouponKind.FIXED:
            return format_money(obj.value)
        return _("%(percent)s %%") % {"percent": number_format(obj.value.normalize(), use_l10n=True)}


@admin.register(Bonus)
class BonusAdmin(MoneyFieldsAdmin, SoftDeleteAdmin):
    money_fields = ("price",)
    list_display = ["name", "code", "total_sessions", "price", "validity_months"]
    search_fields = ["name", "=code"]
    filter_horizontal = ["services"]


class BonusRedemptionInline(ReadOnlyInline):
    model = BonusRedemption
    fields = ["created_at", "sessions", "booking", "cart_item", "note"]


@admin.register(ClientBonus)
class ClientBonusAdmin(MoneyFieldsAdmin, BigListMixin, admin.ModelAdmin):
    money_fields = ("price_paid",)
    list_display = ["name", "client", "sessions_remaining", "sessions_total", "purchased_on", "expires_on", "status"]
    list_filter = ["status", ExpiringFilter]
    list_select_related = ["client"]
    search_fields = ["name", "^client__name", "^client__surname", "^client__email"]
    autocomplete_fields = ["client", "bonus"]
    date_hierarchy = "purchased_on"
    filter_horizontal = ["services"]
    inlines = [BonusRedemptionInline]

    def get_readonly_fields(self, request, obj=None):
        # Sessions move through the ledger (redemptions at checkout or on a booking).
        return ["sessions_remaining", "status"] if obj else []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:  # sessions given without a sale: an audited ADMIN act, as in the API
            client_bonus_grant_audit(bono=obj, actor=request.user, ip_address=client_ip(request))


@admin.register(BonusRedemption)
class BonusRedemptionAdmin(BigListMixin, ReadOnlyAdmin):
    """The bono ledger: written by redemptions, never by hand."""

    list_display = ["client_bonus", "sessions", "booking", "created_at"]
    list_select_related = ["client_bonus", "booking__client"]
    raw_id_fields = ["client_bonus", "cart_item", "booking"]
    date_hierarchy = "created_at"


class GiftCardMovementInline(MoneyFieldsAdmin, ReadOnlyInline):
    money_fields = ("amount", "balance_after")
    model = GiftCardMovement
    fields = ["created_at", "kind", "amount", "balance_after", "cart"]


class GiftCardIssueForm(forms.ModelForm):
    """Giving a gift card away (a comp, MANAGER/ADMIN): the code is generated unless one is typed,
    and the reason goes on the audit trail. A card paid for is sold at the till (checkout)."""

    reason = forms.CharField(
        label=_("reason"), max_length=500, help_text=_("Why the card is given away; it goes on the audit trail.")
    )

    class Meta:
        model = GiftCard
        fields = ["code", "initial_balance", "expires_on", "owner"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].required = False
        self.fields["code"].help_text = _("Leave empty for a generated code.")

    def clean_code(self):
        code = (self.cleaned_data.get("code") or "").strip().upper()
        if code and GiftCard.objects.filter(code=code).exists():
            raise forms.ValidationError(_("A gift card with this code already exists."))
        return code or None

    def clean_expires_on(self):
        expires_on = self.cleaned_data.get("expires_on")
        if expires_on and expires_on < timezone.localdate():
            raise forms.ValidationError(_("A gift card cannot be issued already expired."))
        return expires_on

    def clean_initial_balance(self):
        amount = self.cleaned_data.get("initial_balance")
        if amount is not None and amount <= 0:
            raise forms.ValidationError(_("A gift card must be issued for a positive amount."))
        return amount


@admin.register(GiftCard)
class GiftCardAdmin(MoneyFieldsAdmin, BigListMixin, admin.ModelAdmin):
    money_fields = ("initial_balance", "current_balance")
    list_display = ["code", "owner", "initial_balance", "current_balance", "issued_on", "expires_on", "status"]
    list_filter = ["status", ExpiringFilter]
    list_select_related = ["owner"]
    search_fields = ["=code", "^owner__name", "^owner__surname", "^owner__email"]
    autocomplete_fields = ["owner"]
    date_hierarchy = "issued_on"
    inlines = [GiftCardMovementInline]

    def get_readonly_fields(self, request, obj=None):
        # The balance moves only through the ledger.
        return ["current_balance", "initial_balance", "code"] if obj else ["current_balance"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = GiftCardIssueForm
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        issued = gift_card_issue_comp(
            amount=obj.initial_balance, owner=obj.owner, expires_on=obj.expires_on, code=obj.code or None,
            reason=form.cleaned_data["reason"], actor=request.user,
        )  # fmt: skip
        obj.pk, obj.code, obj.current_balance, obj.status = (
            issued.pk,
            issued.code,
            issued.current_balance,
            issued.status,
        )
        obj._state.adding, obj._state.db = False, issued._state.db
        self.message_user(request, _("Gift card %(code)s issued.") % {"code": issued.code}, messages.SUCCESS)


@admin.register(GiftCardMovement)
class GiftCardMovementAdmin(MoneyFieldsAdmin, BigListMixin, ReadOnlyAdmin):
    money_fields = ("amount", "balance_after")
    """The gift-card ledger: written by issues, payments and refunds, never by hand."""

    list_display = ["gift_card", "kind", "amount", "balance_after", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["gift_card"]
    raw_id_fields = ["gift_card", "cart"]
    date_hierarchy = "created_at"
