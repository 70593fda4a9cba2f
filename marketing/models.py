import secrets
from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from beils.lib.errors import DomainError
from beils.lib.models import (
    ActiveManager,
    AllObjectsManager,
    BeilsModel,
    SoftDeleteModel,
    SoftDeleteQuerySet,
    money,
    tax_rate,
)
from beils.lib.money import format_money
from catalog.models import Service
from crm.models import Client

POSITIVE_MONEY = [MinValueValidator(Decimal("0"))]


class MarketingError(DomainError):
    """A refusal of the marketing domain (an invalid coupon, an exhausted bono…)."""


# --- Coupons ------------------------------------------------------------------------------


class CouponKind(models.TextChoices):
    PERCENT = "PERCENT", _("Percentage")
    FIXED = "FIXED", _("Fixed amount")


class CouponQuerySet(SoftDeleteQuerySet):
    def valid_on(self, when):
        return (
            self.active()
            .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=when))
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=when))
            .filter(Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses")))
        )

    def expired(self, *, on=None):
        return self.filter(valid_until__lt=on or timezone.now())


class Coupon(SoftDeleteModel):
    code = models.CharField(_("code"), max_length=40, unique=True)
    description = models.CharField(_("description"), max_length=255, null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=CouponKind.choices, default=CouponKind.PERCENT)
    value = models.DecimalField(_("value"), max_digits=10, decimal_places=2, validators=POSITIVE_MONEY)
    min_purchase = money(_("minimum purchase"), default=Decimal("0.00"), validators=POSITIVE_MONEY)
    max_uses = models.PositiveIntegerField(_("maximum uses"), null=True, blank=True, help_text=_("Empty = unlimited"))
    uses = models.PositiveIntegerField(_("uses"), default=0, editable=False)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)

    all_objects = AllObjectsManager.from_queryset(CouponQuerySet)()
    objects = ActiveManager.from_queryset(CouponQuerySet)()

    class Meta(SoftDeleteModel.Meta):
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="marketing_coupon_value_positive"),
            models.CheckConstraint(
                condition=~Q(kind=CouponKind.PERCENT) | Q(value__lte=100), name="marketing_coupon_percent_max_100"
            ),
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(uses__lte=F("max_uses")), name="marketing_coupon_uses_within_max"
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="marketing_coupon_valid_window",
            ),
            models.CheckConstraint(condition=~Q(code=""), name="marketing_coupon_code_not_blank"),
        ]

    def __str__(self):
        return self.code

    def prepare_to_save(self) -> None:
        self.code = self.code.strip().upper()
        super().prepare_to_save()


# --- Bonos (prepaid series of sessions) ----------------------------------------------------


class Bonus(SoftDeleteModel):
    """A catalogue bono: a prepaid series of sessions of one or more services."""

    name = models.CharField(_("name"), max_length=150)
    code = models.CharField(_("code"), max_length=50, unique=True)
    services = models.ManyToManyField(Service, related_name="bonuses", verbose_name=_("services"))
    total_sessions = models.PositiveIntegerField(_("sessions"))
    price = money(_("price (VAT incl.)"), validators=POSITIVE_MONEY)
    tax_rate = tax_rate()
    validity_months = models.PositiveIntegerField(_("validity (months)"), default=12)
    legacy_id = models.CharField(_("legacy id"), max_length=100, null=True, blank=True, unique=True, editable=False)

    class Meta(SoftDeleteModel.Meta):
        verbose_name = _("bono")
        verbose_name_plural = _("bonos")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(total_sessions__gt=0), name="marketing_bonus_sessions_positive"),
            models.CheckConstraint(condition=Q(price__gte=0), name="marketing_bonus_price_not_negative"),
            models.CheckConstraint(condition=~Q(code=""), name="marketing_bonus_code_not_blank"),
        ]

    def __str__(self):
        return ngettext("%(name)s (%(count)s session)", "%(name)s (%(count)s sessions)", self.total_sessions) % {
            "name": self.name,
            "count": self.total_sessions,
        }


class ClientBonusStatus(models.TextChoices):
    ACTIVE = "ACTIVE", pgettext_lazy("bono status", "Active")
    EXHAUSTED = "EXHAUSTED", pgettext_lazy("bono status", "Exhausted")
    EXPIRED = "EXPIRED", pgettext_lazy("bono status", "Expired")


class ClientBonusQuerySet(models.QuerySet):
    def usable(self, *, on=None):
        today = on or timezone.localdate()
        return self.filter(status=ClientBonusStatus.ACTIVE, sessions_remaining__gt=0).filter(
            Q(expires_on__isnull=True) | Q(expires_on__gte=today)
        )


class ClientBonus(BeilsModel):
    """What a client bought: a snapshot of the bono at purchase, independent of later edits."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="bonuses", verbose_name=_("client"))
    bonus = models.ForeignKey(Bonus, on_delete=models.PROTECT, related_name="sold", verbose_name=_("bono"))
    name = models.CharField(_("name"), max_length=150)
    services = models.ManyToManyField(Service, related_name="+", blank=True, verbose_name=_("services"))
    sessions_total = models.PositiveIntegerField(_("sessions bought"))
    sessions_remaining = models.PositiveIntegerField(_("sessions left"))
    price_paid = money(_("price paid"), validators=POSITIVE_MONEY)
    purchased_on = models.DateField(_("purchased on"), default=timezone.localdate)
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=ClientBonusStatus.choices, default=ClientBonusStatus.ACTIVE
    )
    legacy_id = models.CharField(_("legacy id"), max_length=100, null=True, blank=True, unique=True, editable=False)

    objects = ClientBonusQuerySet.as_manager()

    class Meta:
        verbose_name = _("client bono")
        verbose_name_plural = _("client bonos")
        ordering = ["-purchased_on"]
        indexes = [
            models.Index(fields=["status", "expires_on"], name="mkt_clientbonus_status_exp"),
            models.Index(fields=["purchased_on"], name="mkt_clientbonus_purchased"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(sessions_remaining__lte=F("sessions_total")),
                name="marketing_clientbonus_remaining_le_total",
            ),
            models.CheckConstraint(
                condition=~Q(status=ClientBonusStatus.EXHAUSTED) | Q(sessions_remaining=0),
                name="marketing_clientbonus_exhausted_means_zero",
            ),
        ]

    def __str__(self):
        return f"{self.name} · {self.sessions_remaining}/{self.sessions_total}"


class BonusRedemption(BeilsModel):
    """The ledger of a client bono: one row per session used (or given back)."""

    client_bonus = models.ForeignKey(
        ClientBonus, on_delete=models.CASCADE, related_name="redemptions", verbose_name=_("client bono")
    )
    sessions = models.IntegerField(_("sessions"), default=1, help_text=_("Positive when used, negative when returned"))
    # db_constraint=False: the sale may have moved to the archive tables (same id).
    cart_item = models.ForeignKey(
        "sales.CartItem",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bonus_redemptions",
        db_constraint=False,
        verbose_name=_("sale line"),
    )
    booking = models.ForeignKey(
        "bookings.Booking",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bonus_redemptions",
        verbose_name=_("booking"),
    )
    note = models.CharField(_("note"), max_length=255, null=True, blank=True)

    class Meta:
        verbose_name = _("bono redemption")
        verbose_name_plural = _("bono redemptions")
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=~Q(sessions=0), name="marketing_redemption_sessions_nonzero")]

    def __str__(self):
        return ngettext("%(sessions)s session of %(bono)s", "%(sessions)s sessions of %(bono)s", abs(self.sessions)) % {
            "sessions": f"{self.sessions:+d}",
            "bono": self.client_bonus,
        }


# --- Gift cards ---------------------------------------------------------------------------


class GiftCardStatus(models.TextChoices):
    # A context of their own: Spanish agrees the word with "tarjeta" (feminine), not "bono".
    ACTIVE = "ACTIVE", pgettext_lazy("gift card status", "Active")
    SPENT = "SPENT", pgettext_lazy("gift card status", "Spent")
    EXPIRED = "EXPIRED", pgettext_lazy("gift card status", "Expired")
    CANCELLED = "CANCELLED", pgettext_lazy("gift card status", "Cancelled")


class GiftCardQuerySet(models.QuerySet):
    def usable(self, *, on=None):
        today = on or timezone.localdate()
        return self.filter(status=GiftCardStatus.ACTIVE, current_balance__gt=0).filter(
            Q(expires_on__isnull=True) | Q(expires_on__gte=today)
        )


GIFT_CARD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at the till


def new_gift_card_code() -> str:
    """``GC-XXXX-XXXX``: 32**8 codes, so a collision (refused by the unique index) is rare."""
    body = "".join(secrets.choice(GIFT_CARD_ALPHABET) for _ in range(8))
    return f"GC-{body[:4]}-{body[4:]}"


class GiftCard(BeilsModel):
    # A default, not only the service's fallback: every way a card is made (the admin, the API,
    # an import) gets a code when none is given, instead of tripping code_not_blank.
    code = models.CharField(_("code"), max_length=40, unique=True, default=new_gift_card_code, blank=True)
    initial_balance = money(_("initial balance"), validators=POSITIVE_MONEY)
    current_balance = money(_("balance"), editable=False)
    issued_on = models.DateField(_("issued on"), default=timezone.localdate)
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=GiftCardStatus.choices, default=GiftCardStatus.ACTIVE)
    owner = models.ForeignKey(
        Client, on_delete=models.SET_NULL, null=True, blank=True, related_name="gift_cards", verbose_name=_("owner")
    )

    objects = GiftCardQuerySet.as_manager()

    class Meta:
        verbose_name = _("gift card")
        verbose_name_plural = _("gift cards")
        ordering = ["-issued_on"]
        indexes = [models.Index(fields=["issued_on"], name="mkt_giftcard_issued_on")]
        constraints = [
            models.CheckConstraint(condition=Q(initial_balance__gt=0), name="marketing_giftcard_initial_positive"),
            models.CheckConstraint(
                condition=Q(current_balance__gte=0, current_balance__lte=F("initial_balance")),
                name="marketing_giftcard_balance_within_initial",
            ),
            models.CheckConstraint(condition=~Q(code=""), name="marketing_giftcard_code_not_blank"),
        ]

    def __str__(self):
        return self.code

    def prepare_to_save(self) -> None:
        self.code = (self.code or "").strip().upper() or new_gift_card_code()
        if self._state.adding and self.current_balance is None:
            self.current_balance = self.initial_balance
        super().prepare_to_save()


class GiftCardMovementKind(models.TextChoices):
    ISSUE = "ISSUE", _("Issue")
    REDEEM = "REDEEM", _("Redeem")
    REFUND = "REFUND", _("Refund")


class GiftCardMovement(BeilsModel):
    """The gift card ledger: the balance moves only through these rows."""

    gift_card = models.ForeignKey(
        GiftCard, on_delete=models.CASCADE, related_name="movements", verbose_name=_("gift card")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=GiftCardMovementKind.choices)
    amount = money(_("amount"), help_text=_("Positive adds to the balance, negative takes from it"))
    balance_after = money(_("balance after"))
    # db_constraint=False: the sale may have moved to the archive tables (same id).
    cart = models.ForeignKey(
        "sales.Cart",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="gift_card_movements",
        db_constraint=False,
        verbose_name=_("sale"),
    )

    class Meta:
        verbose_name = _("gift card movement")
        verbose_name_plural = _("gift card movements")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="marketing_giftcardmovement_amount_nonzero"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="marketing_giftcardmovement_balance_not_negative"
            ),
        ]

    def __str__(self):
        return _("%(kind)s %(amount)s on %(card)s") % {
            "kind": self.get_kind_display(),
            "amount": format_money(self.amount),
            "card": self.gift_card,
        }
