from django.utils import timezone
from rest_framework import serializers

from beils.lib.api import ModelConstraintsMixin
from sales.models import Cart, CartItem, CartStatus, Debt, DebtPayment, DebtStatus, Invoice, Payment


class CartItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = CartItem
        fields = [
            "id", "product", "service", "pack", "bonus", "client_bonus", "name", "quantity", "unit_price",
            "tax_rate", "discount", "net", "tax", "gross",
        ]  # fmt: skip
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["id", "method", "amount", "paid_at", "gift_card"]
        read_only_fields = fields


class CartSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    """A sale. Lines, payments and totals are computed on the server and read-only here."""

    items = CartItemSerializer(many=True, read_only=True)
    payments = PaymentSerializer(many=True, read_only=True)

    class Meta:
        model = Cart
        fields = [
            "id", "client", "booking", "status", "coupon", "subtotal", "discount_total", "net_total", "tax_total",
            "total", "notes", "completed_at", "created_by", "created_at", "updated_at", "items", "payments",
        ]  # fmt: skip
        read_only_fields = [
            "subtotal", "discount_total", "net_total", "tax_total", "total", "completed_at", "created_by",
            "created_at", "updated_at",
        ]  # fmt: skip

    def validate(self, attrs):
        if self.instance is not None and self.instance.status == CartStatus.COMPLETED and set(attrs) - {"notes"}:
            raise serializers.ValidationError(
                {"status": ["A completed sale cannot be changed; corrections are rectifying invoices."]}
            )
        if attrs.get("status") == CartStatus.COMPLETED:
            attrs["completed_at"] = timezone.now()
        return super().validate(attrs)


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
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"remaining": {"required": False}}

    def validate(self, attrs):
        if self.instance is None:
            attrs.setdefault("remaining", attrs.get("amount"))
        if attrs.get("status") == DebtStatus.PAID and "remaining" not in attrs:
            attrs["remaining"] = 0
        return super().validate(attrs)


class InvoiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invoice
        fields = [
            "id", "cart", "rectifies", "series", "year", "sequence_number", "number", "kind", "issue_date",
            "issuer_tax_id", "customer_name", "customer_tax_id", "net_total", "tax_total", "total", "tax_breakdown",
            "hash", "previous_hash", "created_at",
        ]  # fmt: skip
        read_only_fields = fields
