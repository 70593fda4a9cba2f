"""Import/export of marketing: coupons, bonos and gift cards by code; what clients bought and
the ledgers by ID."""

from bookings.models import Booking
from catalog.models import Service
from crm.models import Client
from marketing.models import Bonus, BonusRedemption, ClientBonus, Coupon, GiftCard, GiftCardMovement
from sales.models import Cart, CartItem
from transfer.resources.base import BeilsResource, SoftDeleteResource
from transfer.resources.fields import id_fk, natural_fk, natural_m2m, read_only


class CouponResource(SoftDeleteResource):
    class Meta(BeilsResource.Meta):
        model = Coupon
        fields = (
            "id",
            "code",
            "description",
            "kind",
            "value",
            "min_purchase",
            "max_uses",
            "uses",
            "valid_from",
            "valid_until",
            "status",
            "created_at",
            "deactivated_at",
        )
        import_id_fields = ["code"]

    def before_import_row(self, row, **kwargs):
        super().before_import_row(row, **kwargs)
        # Coupon.save() upper-cases the code: match the row the same way.
        if row.get("Code"):
            row["Code"] = str(row["Code"]).strip().upper()


class BonusResource(SoftDeleteResource):
    services = natural_m2m("services", Service, "code", column="Service codes")

    class Meta(BeilsResource.Meta):
        model = Bonus
        fields = (
            "id",
            "code",
            "name",
            "services",
            "total_sessions",
            "price",
            "tax_rate",
            "validity_months",
            "status",
            "legacy_id",
            "created_at",
            "deactivated_at",
        )
        import_id_fields = ["code"]


class ClientBonusResource(BeilsResource):
    client = natural_fk("client", Client, "email", column="Client email", lower=True)
    bonus = natural_fk("bonus", Bonus, "code", column="Bono code")
    services = natural_m2m("services", Service, "code", column="Service codes")

    class Meta(BeilsResource.Meta):
        model = ClientBonus
        fields = (
            "id",
            "client",
            "bonus",
            "name",
            "services",
            "sessions_total",
            "sessions_remaining",
            "price_paid",
            "purchased_on",
            "expires_on",
            "status",
            "legacy_id",
            "created_at",
        )


class BonusRedemptionResource(BeilsResource):
    client_bonus = id_fk("client_bonus", ClientBonus, column="Client bono ID")
    cart_item = id_fk("cart_item", CartItem, column="Sale line ID")
    booking = id_fk("booking", Booking)

    class Meta(BeilsResource.Meta):
        model = BonusRedemption
        fields = ("id", "client_bonus", "sessions", "cart_item", "booking", "note", "created_at")


class GiftCardResource(BeilsResource):
    #: Importing it creates value (balances) from a file: only with ``transfer.import_data``.
    holds_value = True
    id = read_only("id")
    owner = natural_fk("owner", Client, "email", column="Owner email", lower=True)

    class Meta(BeilsResource.Meta):
        model = GiftCard
        fields = (
            "id",
            "code",
            "initial_balance",
            "current_balance",
            "issued_on",
            "expires_on",
            "status",
            "owner",
            "created_at",
        )
        import_id_fields = ["code"]

    def before_import_row(self, row, **kwargs):
        super().before_import_row(row, **kwargs)
        if row.get("Code"):
            row["Code"] = str(row["Code"]).strip().upper()

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        # A new card starts full (GiftCard.save() does the same, but validation runs first).
        if instance.current_balance is None:
            instance.current_balance = instance.initial_balance


class GiftCardMovementResource(BeilsResource):
    gift_card = natural_fk("gift_card", GiftCard, "code", column="Gift card code", upper=True)
    cart = id_fk("cart", Cart, column="Sale ID")

    class Meta(BeilsResource.Meta):
        model = GiftCardMovement
        fields = ("id", "gift_card", "kind", "amount", "balance_after", "cart", "created_at")
