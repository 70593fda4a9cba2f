"""Import/export of sales, payments, debts and (export only) invoices.

Sales and debts have no business key: they are matched by ID, and an ID column is what links a
sale line or a payment to its sale. Invoices are fiscal records issued by the till: exported for
the accountant, never imported (an imported invoice would break the numbering and hash chain).
"""

from bookings.models import Booking
from catalog.models import Pack, Product, Service
from crm.models import Client, User
from marketing.models import Bonus, ClientBonus, Coupon, GiftCard
from sales.models import ArchivedCart, Cart, CartItem, Debt, DebtPayment, Invoice, InvoiceSequence, Payment
from transfer.resources.base import BeilsResource
from transfer.resources.fields import id_fk, natural_fk, read_only


def cart_fk():
    return id_fk("cart", Cart, column="Sale ID")


class CartResource(BeilsResource):
    client = natural_fk("client", Client, "email", column="Client email", lower=True)
    booking = id_fk("booking", Booking)
    coupon = natural_fk("coupon", Coupon, "code", column="Coupon code", upper=True)
    created_by = natural_fk("created_by", User, "email", column="Created by email", lower=True)

    class Meta(BeilsResource.Meta):
        model = Cart
        fields = (
            "id",
            "client",
            "booking",
            "status",
            "coupon",
            "subtotal",
            "discount_total",
            "net_total",
            "tax_total",
            "total",
            "notes",
            "completed_at",
            "created_by",
            "legacy_id",
            "created_at",
        )


class CartItemResource(BeilsResource):
    cart = cart_fk()
    product = natural_fk("product", Product, "sku", column="Product SKU")
    service = natural_fk("service", Service, "code", column="Service code")
    pack = natural_fk("pack", Pack, "code", column="Pack code")
    bonus = natural_fk("bonus", Bonus, "code", column="Bono code")
    client_bonus = id_fk("client_bonus", ClientBonus, column="Client bono ID")

    class Meta(BeilsResource.Meta):
        model = CartItem
        fields = (
            "id",
            "cart",
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
            "created_at",
        )


class PaymentResource(BeilsResource):
    cart = cart_fk()
    gift_card = natural_fk("gift_card", GiftCard, "code", column="Gift card code", upper=True)

    class Meta(BeilsResource.Meta):
        model = Payment
        fields = ("id", "cart", "method", "amount", "paid_at", "gift_card", "created_at")


class DebtResource(BeilsResource):
    client = natural_fk("client", Client, "email", column="Client email", lower=True)
    cart = cart_fk()

    class Meta(BeilsResource.Meta):
        model = Debt
        fields = (
            "id",
            "client",
            "cart",
            "amount",
            "remaining",
            "status",
            "due_date",
            "notes",
            "legacy_id",
            "created_at",
        )


class DebtPaymentResource(BeilsResource):
    debt = id_fk("debt", Debt)

    class Meta(BeilsResource.Meta):
        model = DebtPayment
        fields = ("id", "debt", "amount", "method", "paid_at", "created_at")


class InvoiceResource(BeilsResource):
    importable = False
    cart = cart_fk()
    rectifies = natural_fk("rectifies", Invoice, "number", column="Rectifies number")

    class Meta(BeilsResource.Meta):
        model = Invoice
        fields = (
            "id",
            "number",
            "series",
            "year",
            "sequence_number",
            "kind",
            "issue_date",
            "cart",
            "rectifies",
            "issuer_tax_id",
            "customer_name",
            "customer_tax_id",
            "net_total",
            "tax_total",
            "total",
            "tax_breakdown",
            "hash",
            "previous_hash",
            "created_at",
        )


class InvoiceSequenceResource(BeilsResource):
    importable = False

    class Meta(BeilsResource.Meta):
        model = InvoiceSequence
        fields = ("id", "series", "year", "last_number")


class ArchivedCartResource(BeilsResource):
    """Archived sales: exported (for an accountant, a tax inspection), never imported; they
    come back with ``manage.py unarchive``."""

    importable = False
    client = read_only("client__email", column="Client email")

    class Meta(BeilsResource.Meta):
        model = ArchivedCart
        fields = (
            "id", "client", "booking", "status", "subtotal", "discount_total", "net_total", "tax_total", "total",
            "notes", "completed_at", "legacy_id", "created_at", "archived_at",
        )  # fmt: skip
