from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from beils.lib.api import ActiveStatusField, ModelConstraintsMixin
from marketing.models import (
    Bonus,
    ClientBonus,
    ClientBonusStatus,
    Coupon,
    GiftCard,
)
from marketing.services import add_months, gift_card_issue_comp


def unique_code(serializer, value: str) -> str:
    """Codes are stored upper-case (``Model.save``): compare them that way too."""
    value = value.strip().upper()
    model = serializer.Meta.model
    others = getattr(model, "all_objects", model._default_manager).filter(code__iexact=value)
    if serializer.instance is not None:
        others = others.exclude(pk=serializer.instance.pk)
    if others.exists():
        raise serializers.ValidationError(
            _("A %(kind)s with this code already exists.") % {"kind": model._meta.verbose_name}
        )
    return value


class CouponSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    status = ActiveStatusField()

    class Meta:
        model = Coupon
        fields = [
            "id", "code", "description", "kind", "value", "min_purchase", "max_uses", "uses", "valid_from",
            "valid_until", "status", "created_at", "updated_at", "deactivated_at",
        ]  # fmt: skip
        read_only_fields = ["uses", "created_at", "updated_at", "deactivated_at"]

    def validate_code(self, value):
        return unique_code(self, value)


class BonusSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    status = ActiveStatusField()

    class Meta:
        model = Bonus
        fields = [
            "id", "name", "code", "services", "total_sessions", "price", "tax_rate", "validity_months", "status",
            "created_at", "updated_at", "deactivated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at", "deactivated_at"]


class ClientBonusSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    """A bono sold to a client. What is not given is copied from the catalogue bono at
    purchase (name, services, sessions, price, expiry), and never changes with it later."""

    class Meta:
        model = ClientBonus
        fields = [
            "id", "client", "bonus", "name", "services", "sessions_total", "sessions_remaining", "price_paid",
            "purchased_on", "expires_on", "status", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {
            "name": {"required": False},
            "sessions_total": {"required": False},
            "sessions_remaining": {"required": False},
            "price_paid": {"required": False},
        }

    def validate(self, attrs):
        if self.instance is None:
            bonus = attrs["bonus"]
            attrs.setdefault("name", bonus.name)
            attrs.setdefault("sessions_total", bonus.total_sessions)
            attrs.setdefault("sessions_remaining", attrs["sessions_total"])
            attrs.setdefault("price_paid", bonus.price)
            if "expires_on" not in attrs:
                purchased_on = attrs.get("purchased_on") or timezone.localdate()
                attrs["expires_on"] = add_months(purchased_on, bonus.validity_months)
            if "services" not in attrs:
                attrs["services"] = list(bonus.services.all())
        elif self._changes_value(attrs):
            raise serializers.ValidationError(
                {"sessions_remaining": [_("A bono's sessions and price move only through sales and redemptions.")]}
            )
        if attrs.get("status") == ClientBonusStatus.EXHAUSTED and "sessions_remaining" not in attrs:
            attrs["sessions_remaining"] = 0
        return super().validate(attrs)

    def _changes_value(self, attrs) -> bool:
        fixed = ("client", "bonus", "sessions_total", "sessions_remaining", "price_paid")
        return any(name in attrs and attrs[name] != getattr(self.instance, name) for name in fixed)


class GiftCardSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    """A gift card. The balance moves only through the ledger, so it is read-only here. Creating
    one here is a comp (given away, MANAGER/ADMIN, with a ``reason``); a card paid for is sold at
    checkout (a ``gift_card_amount`` line)."""

    reason = serializers.CharField(
        write_only=True, required=False, max_length=500, help_text=_("Why the card is given away (creation only)")
    )

    class Meta:
        model = GiftCard
        fields = [
            "id", "code", "initial_balance", "current_balance", "issued_on", "expires_on", "status", "owner",
            "created_at", "updated_at", "reason",
        ]  # fmt: skip
        read_only_fields = ["current_balance", "created_at", "updated_at"]
        extra_kwargs = {"code": {"required": False, "help_text": _("Generated when not given")}}

    def validate_code(self, value):
        return unique_code(self, value)

    def validate_initial_balance(self, value):
        if self.instance is not None and value != self.instance.initial_balance:
            raise serializers.ValidationError(_("The initial balance of an issued gift card cannot change."))
        return value

    def validate(self, attrs):
        if self.instance is None and not (attrs.get("reason") or "").strip():
            raise serializers.ValidationError(
                {"reason": [_("Say why this gift card is given away; a card paid for is sold at checkout.")]}
            )
        if self.instance is not None:
            attrs.pop("reason", None)  # a reason explains a new card only
        # An empty code means "generate one" (the service does, retrying a collision).
        if not attrs.get("code"):
            attrs.pop("code", None)
        return super().validate(attrs)

    def create(self, validated_data):
        return gift_card_issue_comp(
            amount=validated_data["initial_balance"],
            reason=validated_data["reason"],
            owner=validated_data.get("owner"),
            expires_on=validated_data.get("expires_on"),
            code=validated_data.get("code"),
            actor=self.context["request"].user,
        )
