from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from beils.lib.api import ModelConstraintsMixin
from beils.lib.money import ZERO
from bookings.models import Booking
from catalog.models import Pack, Product, Service
from crm.models import Client
from marketing.models import Bonus, ClientBonus
from sales.models import Cart, CartItem, CartStatus, Debt, DebtPayment, Invoice, Payment, PaymentMethod, SalesError
from sales.register import FORMATS, period_check, previous_month
from sales.services import TARGETS, LineRequest, PaymentRequest, cart_checkout


class CartItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = CartItem
        fields = [
            "id", "product", "service", "pack", "bonus", "client_bonus", "gift_card", "name", "quantity", "unit_price",
            "tax_rate", "discount", "net", "tax", "gross",
        ]  # fmt: skip
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["id", "method", "amount", "paid_at", "gift_card"]
        read_only_fields = fields


class CartSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    """A sale. Lines, payments, totals, the coupon and the status are set by the checkout
    (``POST /api/sales/carts/checkout``) on the server and are read-only here."""

    items = CartItemSerializer(many=True, read_only=True)
    payments = PaymentSerializer(many=True, read_only=True)

    class Meta:
        model = Cart
        fields = [
            "id", "client", "booking", "status", "coupon", "subtotal", "discount_total", "net_total", "tax_total",
            "total", "tip", "notes", "completed_at", "created_by", "created_at", "updated_at", "items", "payments",
        ]  # fmt: skip
        read_only_fields = [
            "status", "coupon", "subtotal", "discount_total", "net_total", "tax_total", "total", "tip", "completed_at",
            "created_by", "created_at", "updated_at",
        ]  # fmt: skip

    def validate(self, attrs):
        if self.instance is not None and self.instance.status != CartStatus.OPEN and set(attrs) - {"notes"}:
            raise serializers.ValidationError(
                {"detail": [_("A completed or cancelled sale cannot be changed; corrections are rectifying invoices.")]}
            )
        return super().validate(attrs)


class CheckoutLineSerializer(serializers.Serializer):
    """One line to sell: exactly one of the ids, and a quantity. The price comes from the
    catalogue."""

    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all(), required=False)
    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.all(), required=False)
    pack = serializers.PrimaryKeyRelatedField(queryset=Pack.objects.all(), required=False)
    bonus = serializers.PrimaryKeyRelatedField(queryset=Bonus.objects.all(), required=False)
    client_bonus = serializers.PrimaryKeyRelatedField(queryset=ClientBonus.objects.all(), required=False)
    gift_card_amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), required=False,
        help_text=_("Sell a gift card of this value: the sale creates the card."),
    )  # fmt: skip
    quantity = serializers.IntegerField(min_value=1, max_value=999, default=1)

    def validate(self, attrs):
        if sum(1 for name in (*TARGETS, "gift_card_amount") if attrs.get(name) is not None) != 1:
            raise serializers.ValidationError(
                _("Give exactly one of product, service, pack, bonus, client_bonus or gift_card_amount per line.")
            )
        return attrs


class CheckoutPaymentSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    gift_card = serializers.CharField(required=False, max_length=40, help_text=_("The gift card's code (GIFT_CARD)"))


class CheckoutSerializer(serializers.Serializer):
    """A whole sale in one request: ``cart`` checks out an open cart (its lines, unless ``lines``
    are given); otherwise a new one is made for ``client`` (empty for a walk-in)."""

    cart = serializers.PrimaryKeyRelatedField(queryset=Cart.objects.all(), required=False)
    client = serializers.PrimaryKeyRelatedField(queryset=Client.objects.all(), required=False, allow_null=True)
    booking = serializers.PrimaryKeyRelatedField(queryset=Booking.objects.all(), required=False, allow_null=True)
    lines = CheckoutLineSerializer(many=True, required=False)
    payments = CheckoutPaymentSerializer(many=True, required=False, default=list)
    coupon = serializers.CharField(required=False, allow_blank=True, max_length=40)
    on_credit = serializers.BooleanField(default=False)
    due_date = serializers.DateField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    tip = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False)

    def validate(self, attrs):
        if not attrs.get("lines") and attrs.get("cart") is None:
            raise serializers.ValidationError({"lines": [_("A sale needs at least one line.")]})
        return attrs

    def checkout(self, *, actor):
        data = self.validated_data
        return cart_checkout(
            cart=data.get("cart"),
            client=data.get("client"),
            booking=data.get("booking"),
            lines=[LineRequest(**line) for line in data["lines"]] if data.get("lines") else None,
            payments=[
                PaymentRequest(method=p["method"], amount=p["amount"], gift_card_code=p.get("gift_card"))
                for p in data["payments"]
            ],
            coupon_code=data.get("coupon") or None,
            on_credit=data["on_credit"],
            due_date=data.get("due_date"),
            notes=data.get("notes") or None,
            tip=data.get("tip") or ZERO,
            actor=actor,
        )


class DebtPayRequestSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    # The model's choices (one enum in the schema); debt_pay refuses GIFT_CARD with a reason.
    method = serializers.ChoiceField(choices=PaymentMethod.choices)


class DebtPaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = DebtPayment
        fields = ["id", "amount", "method", "paid_at"]
        read_only_fields = fields


class DebtSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    """Money a client owes. ``remaining`` starts at ``amount``; payments are read-only here."""

    payments = DebtPaymentSerializer(many=True, read_only=True)

    class Meta:
        model = Debt
        fields = [
            "id", "client", "cart", "amount", "remaining", "status", "due_date", "notes", "payments",
            "created_at", "updated_at",
        ]  # fmt: skip
        # A debt is opened by a credit sale (checkout) and shrinks only with payments
        # (POST /api/sales/debts/<id>/pay): only its due date and notes are edited here.
        read_only_fields = ["client", "cart", "amount", "remaining", "status", "created_at", "updated_at"]


class InvoiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invoice
        fields = [
            "id", "cart", "rectifies", "series", "year", "sequence_number", "number", "kind", "issue_date",
            "issuer_tax_id", "customer_name", "customer_tax_id", "net_total", "tax_total", "total", "tax_breakdown",
            "reason", "hash", "previous_hash", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class RectifyRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class RegisterRequestSerializer(serializers.Serializer):
    """``?from=YYYY-MM-DD&to=YYYY-MM-DD&format=csv|xlsx|json``; neither date means last month
    (``from`` is a Python keyword, hence the fields built in ``get_fields``)."""

    def get_fields(self):
        return {
            "from": serializers.DateField(required=False, help_text=_("The period's first day (issue date).")),
            "to": serializers.DateField(required=False, help_text=_("The period's last day, included.")),
            "format": serializers.ChoiceField(choices=FORMATS, default="csv"),
        }

    def validate(self, data):
        if "from" not in data and "to" not in data:
            data["from"], data["to"] = previous_month(timezone.localdate())
        elif "from" not in data or "to" not in data:
            raise serializers.ValidationError(_("Give both from and to, or neither for last month."))
        try:
            period_check(data["from"], data["to"])
        except SalesError as error:
            raise serializers.ValidationError(str(error)) from error
        return data
