import hashlib
from decimal import Decimal

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from beils.lib.errors import DomainError
from beils.lib.models import BeilsModel, money, tax_rate
from beils.lib.money import format_money
from catalog.models import Pack, Product, Service
from crm.models import Client
from marketing.models import Bonus, ClientBonus, Coupon, GiftCard

ZERO = Decimal("0.00")
HALF_CENT = Decimal("0.005")


class SalesError(DomainError):
    """A refusal of the sales domain, worded for the staff member at the till."""


class PaymentMethod(models.TextChoices):
    CASH = "CASH", _("Cash")
    CARD = "CARD", _("Card")
    BIZUM = "BIZUM", _("Bizum")
    TRANSFER = "TRANSFER", _("Bank transfer")
    GIFT_CARD = "GIFT_CARD", _("Gift card")


# --- Carts (sales / tickets) -----------------------------------------------------------------


class CartStatus(models.TextChoices):
    OPEN = "OPEN", _("Open")
    COMPLETED = "COMPLETED", _("Completed")
    CANCELLED = "CANCELLED", _("Cancelled")


class CartQuerySet(models.QuerySet):
    def completed(self):
        return self.filter(status=CartStatus.COMPLETED)

    def completed_between(self, start, end):
        return self.completed().filter(completed_at__gte=start, completed_at__lt=end)

    def archivable(self, *, before):
        """Completed sales older than ``before``: what the archiving policy moves."""
        return self.completed().filter(completed_at__lt=before)

    def revenue(self) -> Decimal:
        return self.aggregate(total=Sum("total"))["total"] or ZERO


class Cart(BeilsModel):
    """A sale (a ticket). Totals are computed on the server from the lines, in Decimal."""

    client = models.ForeignKey(
        Client,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="carts",
        verbose_name=_("client"),
        help_text=_("Empty for a walk-in sale"),
    )
    booking = models.ForeignKey(
        "bookings.Booking",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="carts",
        verbose_name=_("booking"),
    )
    status = models.CharField(_("status"), max_length=10, choices=CartStatus.choices, default=CartStatus.OPEN)
    coupon = models.ForeignKey(
        Coupon, on_delete=models.PROTECT, null=True, blank=True, related_name="carts", verbose_name=_("coupon")
    )
    subtotal = money(_("subtotal"), default=ZERO, help_text=_("Lines before the cart discount, VAT incl."))
    discount_total = money(_("discount"), default=ZERO)
    net_total = money(_("net"), default=ZERO)
    tax_total = money(_("VAT"), default=ZERO)
    total = money(_("total"), default=ZERO)
    tip = money(_("tip"), default=ZERO, help_text=_("Paid on top of the total at the client's wish; not invoiced."))
    notes = models.TextField(_("notes"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    legacy_id = models.CharField(_("legacy id"), max_length=100, null=True, blank=True, unique=True, editable=False)

    objects = CartQuerySet.as_manager()

    class Meta:
        verbose_name = _("sale")
        verbose_name_plural = _("sales")
        ordering = ["-created_at"]
        indexes = [
            # Covers the revenue sums (reports, the dashboard): read off the index, no row lookups.
            models.Index(fields=["status", "completed_at", "total"], name="sales_cart_status_done_total"),
            models.Index(fields=["completed_at"], name="sales_cart_completed_at"),
        ]
        permissions = [("report_sales", _("Can see the sales reports"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(total__gte=0, net_total__gte=0, tax_total__gte=0, discount_total__gte=0, tip__gte=0),
                name="sales_cart_totals_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(status=CartStatus.COMPLETED) | Q(completed_at__isnull=False),
                name="sales_cart_completed_has_date",
            ),
        ]

    def __str__(self):
        return _("Sale #%(id)s") % {"id": self.pk}

    @property
    def amount_paid(self) -> Decimal:
        return self.payments.aggregate(total=Sum("amount"))["total"] or ZERO


def _sums_to(total: str, *parts: str) -> Q:
    # Within half a cent rather than equal: MariaDB compares DECIMALs exactly, but SQLite does
    # the arithmetic in floating point, where 10.00 + 2.10 != 12.10. With two decimal places the
    # two conditions accept the same values.
    expected = sum((F(p) for p in parts[1:]), F(parts[0]))
    return Q(**{f"{total}__gte": expected - HALF_CENT, f"{total}__lte": expected + HALF_CENT})


# "Exactly one" of the things a line can sell.
_LINE_TARGETS = ("product", "service", "pack", "bonus", "client_bonus", "gift_card")


def _exactly_one(fields) -> Q:
    condition = Q()
    for chosen in fields:
        condition |= Q(**{f"{f}__isnull": f != chosen for f in fields})
    return condition


class CartItem(BeilsModel):
    """One line of a sale: a product, service, pack, a bono sold, a bono session redeemed, or a
    gift card sold."""

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items", verbose_name=_("sale"))
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="cart_items", verbose_name=_("product")
    )
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, null=True, blank=True, related_name="cart_items", verbose_name=_("service")
    )
    pack = models.ForeignKey(
        Pack, on_delete=models.PROTECT, null=True, blank=True, related_name="cart_items", verbose_name=_("pack")
    )
    bonus = models.ForeignKey(
        Bonus,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cart_items",
        verbose_name=_("bono"),
        help_text=_("A bono sold"),
    )
    client_bonus = models.ForeignKey(
        ClientBonus,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cart_items",
        verbose_name=_("client bono"),
        help_text=_("A session redeemed from a client's bono"),
    )
    gift_card = models.ForeignKey(
        GiftCard,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cart_items",
        verbose_name=_("gift card"),
        help_text=_("A gift card sold: the sale creates it"),
    )
    name = models.CharField(_("name"), max_length=150, help_text=_("Snapshot at the time of sale"))
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = money(_("unit price (VAT incl.)"))
    tax_rate = tax_rate()
    discount = money(_("discount"), default=ZERO)
    net = money(_("net"), default=ZERO)
    tax = money(_("VAT"), default=ZERO)
    gross = money(_("total"), default=ZERO)

    class Meta:
        verbose_name = _("sale line")
        verbose_name_plural = _("sale lines")
        ordering = ["cart", "pk"]
        constraints = [
            models.CheckConstraint(condition=_exactly_one(_LINE_TARGETS), name="sales_cartitem_exactly_one_target"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="sales_cartitem_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0, discount__gte=0, gross__gte=0),
                name="sales_cartitem_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=_sums_to("gross", "net", "tax"), name="sales_cartitem_gross_is_net_plus_tax"
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.name}"

    @property
    def target(self):
        return next(getattr(self, f) for f in _LINE_TARGETS if getattr(self, f"{f}_id"))


class Payment(BeilsModel):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="payments", verbose_name=_("sale"))
    method = models.CharField(_("method"), max_length=10, choices=PaymentMethod.choices)
    amount = money(_("amount"))
    paid_at = models.DateTimeField(_("paid at"), default=timezone.now)
    gift_card = models.ForeignKey(
        GiftCard, on_delete=models.PROTECT, null=True, blank=True, related_name="payments", verbose_name=_("gift card")
    )

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["paid_at"]
        indexes = [
            models.Index(fields=["paid_at", "method"], name="sales_payment_paid_method"),
            models.Index(fields=["paid_at"], name="sales_payment_paid_at"),  # the admin list's order
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="sales_payment_amount_positive"),
            models.CheckConstraint(
                condition=~Q(method=PaymentMethod.GIFT_CARD) | Q(gift_card__isnull=False),
                name="sales_payment_gift_card_named",
            ),
        ]

    def __str__(self):
        return f"{self.get_method_display()} {format_money(self.amount)}"


# --- Debts --------------------------------------------------------------------------------


class DebtStatus(models.TextChoices):
    PENDING = "PENDING", _("Pending")
    PARTIAL = "PARTIAL", _("Partially paid")
    PAID = "PAID", _("Paid")


class DebtQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(status=DebtStatus.PAID)

    def overdue(self, *, on=None):
        return self.open().filter(due_date__lt=on or timezone.localdate())

    def outstanding(self) -> Decimal:
        return self.open().aggregate(total=Sum("remaining"))["total"] or ZERO


class Debt(BeilsModel):
    """Money a client owes for a sale made on credit."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="debts", verbose_name=_("client"))
    # db_constraint=False: the sale may have moved to the archive tables (same id); see ArchivedCart.
    cart = models.ForeignKey(
        Cart,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="debts",
        db_constraint=False,
        verbose_name=_("sale"),
    )
    amount = money(_("amount"))
    remaining = money(_("remaining"))
    status = models.CharField(_("status"), max_length=10, choices=DebtStatus.choices, default=DebtStatus.PENDING)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    notes = models.TextField(_("notes"), null=True, blank=True)
    legacy_id = models.CharField(_("legacy id"), max_length=100, null=True, blank=True, unique=True, editable=False)

    objects = DebtQuerySet.as_manager()

    class Meta:
        verbose_name = _("debt")
        verbose_name_plural = _("debts")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "due_date"], name="sales_debt_status_due")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="sales_debt_amount_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0, remaining__lte=F("amount")), name="sales_debt_remaining_within_amount"
            ),
            models.CheckConstraint(
                condition=~Q(status=DebtStatus.PAID) | Q(remaining=0), name="sales_debt_paid_means_zero"
            ),
        ]

    def __str__(self):
        return _("Debt #%(id)s · %(remaining)s of %(amount)s") % {
            "id": self.pk,
            "remaining": format_money(self.remaining),
            "amount": format_money(self.amount),
        }


class DebtPayment(BeilsModel):
    debt = models.ForeignKey(Debt, on_delete=models.CASCADE, related_name="payments", verbose_name=_("debt"))
    amount = money(_("amount"))
    method = models.CharField(_("method"), max_length=10, choices=PaymentMethod.choices)
    paid_at = models.DateTimeField(_("paid at"), default=timezone.now)

    class Meta:
        verbose_name = _("debt payment")
        verbose_name_plural = _("debt payments")
        ordering = ["paid_at"]
        indexes = [models.Index(fields=["paid_at"], name="sales_debtpayment_paid_at")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="sales_debtpayment_amount_positive")]

    def __str__(self):
        return f"{self.get_method_display()} {format_money(self.amount)}"


# --- Invoices -----------------------------------------------------------------------------


class InvoiceKind(models.TextChoices):
    FULL = "F1", _("Full invoice")
    SIMPLIFIED = "F2", _("Simplified invoice")
    RECTIFYING = "R", _("Rectifying invoice")


class InvoiceSequence(models.Model):
    """The last number used per series and year. Numbers are taken under a row lock."""

    series = models.CharField(_("series"), max_length=10)
    year = models.PositiveIntegerField(_("year"))
    last_number = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("invoice sequence")
        verbose_name_plural = _("invoice sequences")
        constraints = [models.UniqueConstraint(fields=["series", "year"], name="sales_invoicesequence_series_year")]

    def __str__(self):
        return f"{self.series}{self.year}: {self.last_number}"

    @classmethod
    def take_next(cls, *, series: str, year: int) -> int:
        """The next gap-free number of a series and year; call inside the issuing transaction."""
        if not transaction.get_connection().in_atomic_block:
            raise SalesError(
                "Invoice numbers must be taken inside the transaction that issues the invoice."
            )  # i18n: technical
        cls.objects.get_or_create(series=series, year=year)
        sequence = cls.objects.select_for_update().get(series=series, year=year)
        sequence.last_number = F("last_number") + 1
        sequence.save(update_fields=["last_number"])
        sequence.refresh_from_db(fields=["last_number"])
        return sequence.last_number


def invoice_hash(*, issuer_tax_id: str, number: str, issue_date, total: Decimal, previous_hash: str) -> str:
    """SHA-256 chaining an invoice to the previous one (the fields Spanish VeriFactu chains)."""
    payload = "|".join([issuer_tax_id, number, issue_date.isoformat(), f"{total:.2f}", previous_hash or ""])
    return hashlib.sha256(payload.encode()).hexdigest()


class InvoiceQuerySet(models.QuerySet):
    """Issued invoices are never rewritten or deleted in bulk either (``save()`` and ``delete()``
    refuse on the instance). A tamperer with SQL access is caught by ``verifyinvoices``."""

    def update(self, **kwargs):
        raise SalesError(str(IMMUTABLE_MESSAGE))

    def delete(self):
        raise SalesError(str(IMMUTABLE_MESSAGE))

    def anonymise_customer(self) -> int:
        """Erase the customer's name and tax id (GDPR erasure). The hash chain does not cover
        them, so the fiscal record and its chain stay intact."""
        return super().update(customer_name=None, customer_tax_id=None, updated_at=timezone.now())


IMMUTABLE_MESSAGE = _("An issued invoice cannot be changed or deleted; issue a rectifying invoice instead.")


class Invoice(BeilsModel):
    """An issued invoice. Immutable once issued: corrections are rectifying invoices."""

    # db_constraint=False: the sale may have moved to the archive tables (same id); see ArchivedCart.
    cart = models.ForeignKey(
        Cart,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        db_constraint=False,
        verbose_name=_("sale"),
    )
    rectifies = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rectifications",
        verbose_name=_("rectifies"),
    )
    series = models.CharField(_("series"), max_length=20)
    year = models.PositiveIntegerField(_("year"))
    sequence_number = models.PositiveIntegerField(_("sequence number"))
    number = models.CharField(_("number"), max_length=40, unique=True)
    kind = models.CharField(_("type"), max_length=2, choices=InvoiceKind.choices)
    issue_date = models.DateField(_("issue date"))
    issuer_tax_id = models.CharField(_("issuer tax id"), max_length=20)
    customer_name = models.CharField(_("customer"), max_length=255, null=True, blank=True)
    customer_tax_id = models.CharField(_("customer tax id"), max_length=30, null=True, blank=True)
    net_total = money(_("net"))
    tax_total = money(_("VAT"))
    total = money(_("total"))
    tax_breakdown = models.JSONField(_("totals by VAT rate"), default=dict)
    reason = models.CharField(
        _("reason"), max_length=255, null=True, blank=True, help_text=_("Why a rectifying invoice was issued")
    )
    hash = models.CharField(_("hash"), max_length=64, unique=True)
    previous_hash = models.CharField(_("previous hash"), max_length=64, null=True, blank=True)

    objects = InvoiceQuerySet.as_manager()
    # Creation records only: save() refuses any change after issue.
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issue_date", "-sequence_number"]
        # The list's order, newest first, read backwards off the index (ending in the primary key).
        indexes = [models.Index(fields=["issue_date", "sequence_number"], name="sales_invoice_issue_seq")]
        constraints = [
            models.UniqueConstraint(fields=["series", "year", "sequence_number"], name="sales_invoice_gap_free_key"),
            models.CheckConstraint(
                condition=_sums_to("total", "net_total", "tax_total"), name="sales_invoice_total_is_net_plus_tax"
            ),
            models.CheckConstraint(
                condition=~Q(kind=InvoiceKind.RECTIFYING) | Q(rectifies__isnull=False),
                name="sales_invoice_rectifying_names_original",
            ),
        ]

    def __str__(self):
        return self.number

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise SalesError(str(IMMUTABLE_MESSAGE))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise SalesError(str(IMMUTABLE_MESSAGE))

    def compute_hash(self) -> str:
        return invoice_hash(
            issuer_tax_id=self.issuer_tax_id,
            number=self.number,
            issue_date=self.issue_date,
            total=self.total,
            previous_hash=self.previous_hash or "",
        )


# --- The archive: completed sales moved out of the live tables -------------------------------


def _archived_field(field, targets: dict):
    """A copy of ``field`` for an archive table: the same column and type; a foreign key keeps
    its column but no database constraint (the archive outlives what it points at) and no
    reverse accessor; a key into another archived table points at that archive instead."""
    if field.primary_key:
        return models.BigIntegerField(primary_key=True, serialize=False, verbose_name=_("ID"))
    if field.is_relation:
        remote = field.remote_field.model
        related_name = "archived_carts" if remote is Client and field.model is Cart else "+"
        return models.ForeignKey(
            targets.get(remote, remote), on_delete=models.DO_NOTHING, db_constraint=False, null=field.null,
            blank=True, related_name=related_name, verbose_name=field.verbose_name, editable=False,
        )  # fmt: skip
    name, path, args, kwargs = field.deconstruct()
    for option in ("unique", "db_index", "auto_now", "auto_now_add", "help_text"):
        kwargs.pop(option, None)
    if callable(kwargs.get("default")):
        del kwargs["default"]  # a time of archiving is not a time of sale: copied, never invented
    kwargs["editable"] = False
    return field.__class__(*args, **kwargs)


def archive_of(model, *, name: str, verbose_name, verbose_name_plural, targets: dict | None = None, indexes=()):
    """An archive model for ``model``: every column of it, plus ``archived_at``, in
    ``<table>_archive``. Rows keep their id, so invoices, debts and ledgers that refer to a sale
    still name it after it moved."""
    meta = type(
        "Meta",
        (),
        {
            "db_table": f"{model._meta.db_table}_archive",
            "verbose_name": verbose_name,
            "verbose_name_plural": verbose_name_plural,
            "ordering": ["-id"],
            "indexes": list(indexes),
        },
    )
    attrs = {"__module__": __name__, "Meta": meta, "__str__": model.__str__}
    for field in model._meta.concrete_fields:
        attrs[field.name] = _archived_field(field, targets or {})
    attrs["archived_at"] = models.DateTimeField(_("archived at"), db_index=True)
    return type(name, (models.Model,), attrs)


ArchivedCart = archive_of(
    Cart,
    name="ArchivedCart",
    verbose_name=_("archived sale"),
    verbose_name_plural=_("archived sales"),
    # The archived sales list drills down by the day of the sale.
    indexes=[models.Index(fields=["completed_at"], name="sales_cartarch_completed")],
)
ArchivedCartItem = archive_of(
    CartItem,
    name="ArchivedCartItem",
    verbose_name=_("archived sale line"),
    verbose_name_plural=_("archived sale lines"),
    targets={Cart: ArchivedCart},
)
ArchivedPayment = archive_of(
    Payment,
    name="ArchivedPayment",
    verbose_name=_("archived payment"),
    verbose_name_plural=_("archived payments"),
    targets={Cart: ArchivedCart},
)
