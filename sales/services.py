"""The sales process: checkout, invoices and debts. The admin, the API and the booking screen all
call these functions; nothing else completes a sale or issues an invoice.

Locks are always taken in the same order, so that two tills never deadlock: products (by id),
the coupon, client bonos (by id), gift cards, and last the invoice chain.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_log
from beils.lib.models import Status
from beils.lib.money import ZERO, format_money
from catalog.models import Pack, PackItem, Product, Service
from crm.models import Client
from marketing.models import Bonus, ClientBonus
from marketing.services import (
    bonus_sell,
    client_bonus_check,
    client_bonus_redeem,
    coupon_use,
    gift_card_issue,
    gift_card_redeem,
)
from sales.models import (
    Cart,
    CartItem,
    CartStatus,
    Debt,
    DebtPayment,
    DebtStatus,
    Invoice,
    InvoiceKind,
    InvoiceSequence,
    Payment,
    PaymentMethod,
    SalesError,
    invoice_hash,
)
from sales.pricing import allocate_discount, line_amounts, tax_breakdown
from sales.receipts import invoice_pdf

TARGETS = ("product", "service", "pack", "bonus", "client_bonus")


@dataclass(frozen=True)
class LineRequest:
    """One thing to sell: exactly one of the targets, and a quantity. Prices are never given:
    they come from the catalogue."""

    product: Product | None = None
    service: Service | None = None
    pack: Pack | None = None
    bonus: Bonus | None = None
    client_bonus: ClientBonus | None = None
    #: A gift card sold for this face value: the checkout creates the card (its price is the one
    #: thing a line may state, since the buyer chooses it).
    gift_card_amount: Decimal | None = None
    quantity: int = 1

    @property
    def target_name(self) -> str:
        chosen = [name for name in TARGETS if getattr(self, name) is not None]
        if self.gift_card_amount is not None:
            chosen.append("gift_card")
        if len(chosen) != 1:
            raise SalesError(_("Each line sells exactly one product, service, pack, bono, bono session or gift card."))
        return chosen[0]


@dataclass(frozen=True)
class PaymentRequest:
    """One payment. ``amount`` None pays whatever the payments before it leave unpaid."""

    method: str
    amount: Decimal | None
    gift_card_code: str | None = None


@dataclass
class CheckoutResult:
    cart: Cart
    invoice: Invoice
    debt: Debt | None = None
    client_bonuses: list[ClientBonus] = field(default_factory=list)


# --- Checkout -----------------------------------------------------------------------------


def cart_checkout(
    *,
    lines: list[LineRequest] | None,
    payments: list[PaymentRequest] = (),
    client: Client | None = None,
    cart: Cart | None = None,
    booking=None,
    coupon_code: str | None = None,
    on_credit: bool = False,
    due_date: date | None = None,
    notes: str | None = None,
    tip: Decimal = ZERO,
    actor=None,
) -> CheckoutResult:
    """Complete a sale in one transaction: lines priced from the catalogue, the coupon counted,
    stock taken, bonos sold or redeemed, gift cards charged, payments and (on credit) the debt
    recorded, and the invoice issued. Any refusal rolls all of it back.

    ``cart`` checks out an existing OPEN cart (a draft from the admin); with ``lines`` None its
    own lines are sold. Payments must add up to the total, except ``on_credit``, where what they
    leave unpaid becomes the client's debt. A ``tip`` is paid on top of the total, now (never
    owed), and stays out of the invoice and the revenue.
    """
    invoice_sequence_ensure(series=settings.INVOICE_SERIES)
    with transaction.atomic():
        return _checkout(
            lines=lines, payments=payments, client=client, cart=cart, booking=booking, coupon_code=coupon_code,
            on_credit=on_credit, due_date=due_date, notes=notes, tip=tip, actor=actor,
        )  # fmt: skip


def _checkout(*, lines, payments, client, cart, booking, coupon_code, on_credit, due_date, notes, tip, actor):
    cart = _open_cart(cart=cart, client=client, booking=booking, actor=actor)
    if lines is None:
        lines = cart_lines(cart)
    cart.items.all().delete()
    client = cart.client
    if not lines:
        raise SalesError(_("A sale needs at least one line."))
    priced = _price_lines(lines, client=client)
    subtotal = sum((p["before"] for p in priced), ZERO)
    # A coupon never discounts a gift card: the card would hold more than was paid for it.
    discountable = [ZERO if p["target"] == "gift_card" else p["before"] for p in priced]
    discount = ZERO
    if coupon_code:
        cart.coupon, discount = coupon_use(code=coupon_code, subtotal=sum(discountable, ZERO))
    shares = allocate_discount(discount, discountable)
    items = _write_lines(cart, priced, shares, actor=actor)
    _take_stock(items)
    sold_bonuses = _sell_and_redeem_bonuses(items, client=client, booking=booking)
    _set_totals(cart, items, subtotal=subtotal, discount=discount)
    if notes:
        cart.notes = notes
    if tip < 0:
        raise SalesError(_("A tip cannot be negative."))
    cart.tip = tip
    cart.status, cart.completed_at = CartStatus.COMPLETED, timezone.now()
    cart.save()
    debt = _record_payments(cart, payments, on_credit=on_credit, due_date=due_date)
    invoice = invoice_issue(cart=cart, actor=actor)
    audit_log(
        action="sales.cart.completed",
        actor=actor,
        target=cart,
        detail={
            "total": f"{cart.total:.2f}",
            "invoice": invoice.number,
            "debt": f"{debt.amount:.2f}" if debt else None,
            "tip": f"{cart.tip:.2f}",
        },
    )
    return CheckoutResult(cart=cart, invoice=invoice, debt=debt, client_bonuses=sold_bonuses)


def _open_cart(*, cart: Cart | None, client: Client | None, booking, actor) -> Cart:
    if cart is None:
        return Cart.objects.create(client=client, booking=booking, created_by=actor)
    cart = Cart.objects.select_for_update().get(pk=cart.pk)
    if cart.status != CartStatus.OPEN:
        raise SalesError(
            _("%(cart)s is %(status)s; only an open sale can be checked out.")
            % {"cart": cart, "status": cart.get_status_display().lower()}
        )
    if client is not None and cart.client_id not in (None, client.pk):
        raise SalesError(_("%(cart)s belongs to another client.") % {"cart": cart})
    if client is not None:
        cart.client = client
    if booking is not None:
        cart.booking = booking
    return cart


def session_name(bono_name: str) -> str:
    """The name of a line that redeems a session of a client's bono."""
    return _("Session of %(bono)s") % {"bono": bono_name}


def cart_lines(cart: Cart) -> list[LineRequest]:
    """The lines of a draft cart as checkout requests (to sell them, perhaps with more)."""
    return [
        LineRequest(**{name: getattr(item, name) for name in TARGETS}, quantity=item.quantity)
        for item in cart.items.select_related(*TARGETS).order_by("pk")
    ]


def _price_lines(lines: list[LineRequest], *, client: Client | None) -> list[dict]:
    """Name, unit price and VAT rate of every line, read from the catalogue on the server."""
    products = _locked_products(lines)
    priced = []
    for line in lines:
        target = line.target_name
        if line.quantity < 1:
            raise SalesError(_("A line's quantity must be at least 1."))
        if target == "gift_card":
            priced.append(_price_gift_card(line))
            continue
        obj = products[line.product.pk] if target == "product" else getattr(line, target)
        if target == "client_bonus":
            if client is None or obj.client_id != client.pk:
                raise SalesError(_("The bono %(name)s belongs to another client.") % {"name": obj.name})
            client_bonus_check(client_bonus=obj, sessions=line.quantity)
            name, unit, rate = session_name(obj.name), ZERO, obj.bonus.tax_rate
        else:
            if obj.status != Status.ON:
                raise SalesError(_("%(item)s is no longer sold.") % {"item": obj})
            if target == "bonus" and client is None:
                raise SalesError(_("A bono is sold to a client: choose the client first."))
            name, unit, rate = obj.name, obj.price, obj.tax_rate
        before = line_amounts(unit_price=unit, quantity=line.quantity, tax_rate=rate).gross
        priced.append({"target": target, "obj": obj, "name": name[:150], "unit": unit, "rate": rate,
                       "quantity": line.quantity, "before": before})  # fmt: skip
    return priced


def _price_gift_card(line: LineRequest) -> dict:
    amount = line.gift_card_amount
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise SalesError(_("A gift card is sold for a positive amount in euros and cents."))
    if line.quantity != 1:
        raise SalesError(_("Sell one gift card per line."))
    # A voucher that can pay for anything is not taxed when sold: VAT is due on what it pays for.
    return {"target": "gift_card", "obj": None, "name": _("Gift card"), "unit": amount, "rate": ZERO,
            "quantity": 1, "before": amount}  # fmt: skip


def _locked_products(lines: list[LineRequest]) -> dict[int, Product]:
    # Products inside packs are locked too: selling a pack takes their stock.
    ids = {line.product.pk for line in lines if line.product is not None}
    pack_ids = [line.pack.pk for line in lines if line.pack is not None]
    if pack_ids:
        parts = PackItem.objects.filter(pack__in=pack_ids, product__isnull=False)
        ids |= set(parts.values_list("product_id", flat=True))
    return {p.pk: p for p in Product.all_objects.select_for_update().filter(pk__in=ids).order_by("pk")}


def _write_lines(cart: Cart, priced: list[dict], shares: list[Decimal], *, actor=None) -> list[CartItem]:
    items = []
    for line, share in zip(priced, shares, strict=True):
        if line["target"] == "gift_card":
            # The sale is what brings the card into being, with its ISSUE ledger row on this cart.
            line["obj"] = gift_card_issue(amount=line["unit"], owner=cart.client, cart=cart, actor=actor)
            line["name"] = _("Gift card %(code)s") % {"code": line["obj"].code}
        amounts = line_amounts(
            unit_price=line["unit"], quantity=line["quantity"], tax_rate=line["rate"], discount=share
        )
        items.append(CartItem(
            cart=cart, name=line["name"], quantity=line["quantity"], unit_price=line["unit"], tax_rate=line["rate"],
            discount=amounts.discount, net=amounts.net, tax=amounts.tax, gross=amounts.gross,
            **{line["target"]: line["obj"]},
        ))  # fmt: skip
    for item in items:
        item.save()
    return items


def _take_stock(items: list[CartItem]) -> None:
    wanted = Counter()
    for item in items:
        if item.product_id:
            wanted[item.product_id] += item.quantity
        elif item.pack_id:
            for part in item.pack.items.filter(product__isnull=False):
                wanted[part.product_id] += part.quantity * item.quantity
    for product_id, quantity in sorted(wanted.items()):
        taken = Product.all_objects.filter(pk=product_id, stock__gte=quantity).update(
            stock=F("stock") - quantity, updated_at=timezone.now()
        )
        if not taken:
            product = Product.all_objects.get(pk=product_id)
            raise SalesError(
                _("Only %(stock)s of %(name)s left in stock, not %(wanted)s.")
                % {"stock": product.stock, "name": product.name, "wanted": quantity}
            )


def _sell_and_redeem_bonuses(items: list[CartItem], *, client: Client | None, booking) -> list[ClientBonus]:
    sold = []
    for item in sorted(items, key=lambda i: i.client_bonus_id or 0):
        if item.bonus_id:
            price_each = (item.gross / item.quantity).quantize(Decimal("0.01"))
            sold += [bonus_sell(bonus=item.bonus, client=client, price_paid=price_each) for _ in range(item.quantity)]
        elif item.client_bonus_id:
            client_bonus_redeem(client_bonus=item.client_bonus, sessions=item.quantity, cart_item=item, booking=booking)
    return sold


def _set_totals(cart: Cart, items: list[CartItem], *, subtotal: Decimal, discount: Decimal) -> None:
    cart.subtotal, cart.discount_total = subtotal, discount
    cart.net_total = sum((i.net for i in items), ZERO)
    cart.tax_total = sum((i.tax for i in items), ZERO)
    cart.total = sum((i.gross for i in items), ZERO)


def _record_payments(cart: Cart, payments: list[PaymentRequest], *, on_credit: bool, due_date) -> Debt | None:
    """The payments of the total plus the tip; on credit, what they leave of the total is owed
    (the tip never is)."""
    due, paid = cart.total + cart.tip, ZERO
    for request in payments:
        if request.method not in PaymentMethod.values:
            raise SalesError(_("%(method)s is not a payment method.") % {"method": request.method})
        if request.amount is None:  # "the rest": the till's one-method payment
            request = PaymentRequest(request.method, due - paid, request.gift_card_code)
            if request.amount <= 0:
                continue
        if request.amount <= 0:
            raise SalesError(_("Every payment must be a positive amount."))
        card = None
        if request.method == PaymentMethod.GIFT_CARD:
            if not request.gift_card_code:
                raise SalesError(_("A gift card payment names the gift card's code."))
            card = gift_card_redeem(code=request.gift_card_code, amount=request.amount, cart=cart).gift_card
        Payment.objects.create(cart=cart, method=request.method, amount=request.amount, gift_card=card)
        paid += request.amount
    if paid > due:
        raise SalesError(
            _("The payments add up to %(paid)s, more than the total of %(total)s.")
            % {"paid": format_money(paid), "total": format_money(due)}
        )
    if not on_credit:
        if paid != due:
            raise SalesError(
                _("The payments add up to %(paid)s, not the total of %(total)s.")
                % {"paid": format_money(paid), "total": format_money(due)}
            )
        return None
    if cart.client_id is None:
        raise SalesError(_("Only a known client can buy on credit."))
    if paid < cart.tip:
        raise SalesError(_("A tip is paid now, not owed: the payments must cover it."))
    if paid == due:
        raise SalesError(_("Nothing is left to owe: this is not a sale on credit."))
    owed = due - paid
    return Debt.objects.create(client_id=cart.client_id, cart=cart, amount=owed, remaining=owed, due_date=due_date)


@transaction.atomic
def cart_cancel(*, cart: Cart, actor=None) -> Cart:
    """Cancel an open sale. A completed sale is corrected with a rectifying invoice instead."""
    cart = Cart.objects.select_for_update().get(pk=cart.pk)
    if cart.status != CartStatus.OPEN:
        raise SalesError(
            _("%(cart)s is %(status)s; only an open sale can be cancelled.")
            % {"cart": cart, "status": cart.get_status_display().lower()}
        )
    cart.status = CartStatus.CANCELLED
    cart.save(update_fields=["status", "updated_at"])
    audit_log(action="sales.cart.cancelled", actor=actor, target=cart)
    return cart


@transaction.atomic
def cart_reprice(*, cart: Cart) -> Cart:
    """Price an open cart's lines from the catalogue (a draft edited in the admin), without
    taking stock, coupons or sessions: that happens at checkout."""
    if cart.status != CartStatus.OPEN:
        raise SalesError(
            _("%(cart)s is %(status)s; its lines are fixed.")
            % {"cart": cart, "status": cart.get_status_display().lower()}
        )
    items = list(cart.items.select_related(*TARGETS).order_by("pk"))
    for item in items:
        obj = getattr(item, LineRequest(**{n: getattr(item, n) for n in TARGETS}).target_name)
        is_session = item.client_bonus_id is not None
        item.name = session_name(obj.name) if is_session else obj.name
        item.unit_price = ZERO if is_session else obj.price
        item.tax_rate = obj.bonus.tax_rate if is_session else obj.tax_rate
        amounts = line_amounts(unit_price=item.unit_price, quantity=item.quantity, tax_rate=item.tax_rate)
        item.discount, item.net, item.tax, item.gross = ZERO, amounts.net, amounts.tax, amounts.gross
        item.save()
    _set_totals(cart, items, subtotal=sum((i.gross for i in items), ZERO), discount=ZERO)
    cart.save(update_fields=["subtotal", "discount_total", "net_total", "tax_total", "total", "updated_at"])
    return cart


# --- Debts --------------------------------------------------------------------------------


@transaction.atomic
def debt_pay(*, debt: Debt, amount: Decimal, method: str, actor=None) -> DebtPayment:
    """Record a payment towards a debt, capped at what remains: PENDING → PARTIAL → PAID.

    Returns the payment, whose amount is what was actually applied.
    """
    debt = Debt.objects.select_for_update().get(pk=debt.pk)
    if debt.status == DebtStatus.PAID:
        raise SalesError(_("%(debt)s is already paid.") % {"debt": debt})
    if amount is None or amount <= 0:
        raise SalesError(_("A payment must be a positive amount."))
    if method not in PaymentMethod.values or method == PaymentMethod.GIFT_CARD:
        raise SalesError(_("Debts are paid in cash, by card, Bizum or bank transfer."))
    applied = min(amount, debt.remaining)
    debt.remaining -= applied
    debt.status = DebtStatus.PAID if debt.remaining == 0 else DebtStatus.PARTIAL
    debt.save(update_fields=["remaining", "status", "updated_at"])
    payment = DebtPayment.objects.create(debt=debt, amount=applied, method=method)
    audit_log(
        action="sales.debt.paid",
        actor=actor,
        target=debt,
        detail={"amount": f"{applied:.2f}", "remaining": f"{debt.remaining:.2f}", "status": debt.status},
    )
    return payment


# --- Invoices -----------------------------------------------------------------------------


def invoice_number(series: str, year: int, sequence_number: int) -> str:
    return f"{series}{year}-{sequence_number:06d}"


def rectifying_series() -> str:
    # Spanish rules keep rectifying invoices in a series of their own.
    return f"R{settings.INVOICE_SERIES}"


def client_tax_id(client: Client | None) -> str | None:
    """The client's tax id. ``Client`` has no field of its own for it: a Spanish individual's
    NIF is their DNI or NIE, so the document number is the tax id (a passport number identifies
    a foreign customer on a full invoice too)."""
    return client.document_number if client is not None and client.document_number else None


@transaction.atomic
def invoice_issue(*, cart: Cart, actor=None) -> Invoice:
    """The invoice of a completed sale: F1 (full) when the client has a tax id, else F2
    (simplified); numbered and chained under the invoice chain's lock."""
    if cart.status != CartStatus.COMPLETED:
        raise SalesError(_("%(cart)s is not completed; only a completed sale is invoiced.") % {"cart": cart})
    if cart.invoices.exclude(kind=InvoiceKind.RECTIFYING).exists():
        raise SalesError(_("%(cart)s already has an invoice.") % {"cart": cart})
    tax_id = client_tax_id(cart.client)
    lines = cart.items.values_list("tax_rate", "net", "tax", "gross")
    invoice = _invoice_append(
        series=settings.INVOICE_SERIES,
        kind=InvoiceKind.FULL if tax_id else InvoiceKind.SIMPLIFIED,
        cart=cart,
        customer_name=cart.client.full_name if tax_id else None,
        customer_tax_id=tax_id,
        net_total=cart.net_total,
        tax_total=cart.tax_total,
        total=cart.total,
        tax_breakdown=tax_breakdown(list(lines)),
    )
    audit_log(action="sales.invoice.issued", actor=actor, target=invoice, detail={"total": f"{invoice.total:.2f}"})
    return invoice


def invoice_rectify(*, invoice: Invoice, reason: str, actor=None) -> Invoice:
    """Cancel an issued invoice with a rectifying (R) invoice for the opposite amounts.

    This is the fiscal correction only: giving money, stock or sessions back is a separate step.
    """
    invoice_sequence_ensure(series=rectifying_series())
    with transaction.atomic():
        return _rectify(invoice=invoice, reason=reason, actor=actor)


def _rectify(*, invoice: Invoice, reason: str, actor) -> Invoice:
    if invoice.kind == InvoiceKind.RECTIFYING:
        raise SalesError(
            _("%(invoice)s is itself a rectifying invoice; rectify the original instead.") % {"invoice": invoice}
        )
    if not reason or not reason.strip():
        raise SalesError(_("A rectifying invoice states its reason."))
    _lock_invoice_chain()
    if invoice.rectifications.exists():
        raise SalesError(_("%(invoice)s has already been rectified.") % {"invoice": invoice})
    negated = {
        rate: {key: f"{ZERO - Decimal(value):.2f}" for key, value in sums.items()}
        for rate, sums in (invoice.tax_breakdown or {}).items()
    }
    rectifying = _invoice_append(
        series=rectifying_series(),
        kind=InvoiceKind.RECTIFYING,
        cart=invoice.cart,
        rectifies=invoice,
        reason=reason.strip()[:255],
        customer_name=invoice.customer_name,
        customer_tax_id=invoice.customer_tax_id,
        net_total=-invoice.net_total,
        tax_total=-invoice.tax_total,
        total=-invoice.total,
        tax_breakdown=negated,
    )
    audit_log(action="sales.invoice.rectified", actor=actor, target=rectifying, detail={"rectifies": invoice.number})
    return rectifying


def invoice_sequence_ensure(*, series: str, year: int | None = None) -> None:
    """Create this year's sequence row of ``series`` if it is missing, *before* the issuing
    transaction starts.

    InnoDB makes a transaction that waits on another's INSERT of the same unique key keep a
    shared lock on it; two such waiters then deadlock when both ask for the row lock. Created
    here, in a statement of its own (outside any transaction the caller has not opened), the
    row already exists when issuers queue for its lock.
    """
    year = year or timezone.localdate().year
    if not InvoiceSequence.objects.filter(series=series, year=year).exists():
        try:
            with transaction.atomic():
                InvoiceSequence.objects.create(series=series, year=year)
        except IntegrityError:
            pass  # another till created it first


@transaction.atomic
def invoice_sequences_resync() -> list[InvoiceSequence]:
    """Set every sequence's last number to the highest invoice left in its series and year (0
    when none is), after invoices were removed wholesale (demo data flushed or cleaned up), so
    the next invoice continues the numbering without a gap. Returns the sequences."""
    sequences = list(InvoiceSequence.objects.all())
    for sequence in sequences:
        last = Invoice.objects.filter(series=sequence.series, year=sequence.year).aggregate(n=Max("sequence_number"))
        sequence.last_number = last["n"] or 0
        sequence.save(update_fields=["last_number"])
    return sequences


def _lock_invoice_chain() -> None:
    # Every invoice chains to the one issued before it, whatever its series, so issuing is
    # serialised on all the sequence rows, in id order (a handful: series × years). The first
    # invoice of a new series or year creates its row while holding the others; two first-ever
    # invoices collide on the row's unique key, and the loser waits for the winner's commit.
    list(InvoiceSequence.objects.select_for_update().order_by("pk").values_list("pk", flat=True))


def _invoice_append(*, series: str, **values) -> Invoice:
    _lock_invoice_chain()
    issue_date = timezone.localdate()
    sequence_number = InvoiceSequence.take_next(series=series, year=issue_date.year)
    number = invoice_number(series, issue_date.year, sequence_number)
    # Read after the lock: the newest invoice is the previous link (ids grow in issue order).
    previous = Invoice.objects.order_by("-pk").values_list("hash", flat=True).first()
    issuer = settings.SALON_TAX_ID
    return Invoice.objects.create(
        series=series,
        year=issue_date.year,
        sequence_number=sequence_number,
        number=number,
        issue_date=issue_date,
        issuer_tax_id=issuer,
        previous_hash=previous,
        hash=invoice_hash(
            issuer_tax_id=issuer, number=number, issue_date=issue_date, total=values["total"], previous_hash=previous
        ),
        **values,
    )


# --- Sending an invoice ---------------------------------------------------------------------


def invoice_recipient(invoice: Invoice) -> str | None:
    """The e-mail address of the invoice's client, if the sale had one and they gave it."""
    cart = Cart.objects.filter(pk=invoice.cart_id).select_related("client").first()
    return cart.client.email if cart and cart.client_id and cart.client.email else None


def invoice_email(*, invoice: Invoice, actor=None) -> str:
    """E-mail ``invoice`` as a PDF to its client; returns the address. Audited, since it sends
    personal data out of Beils."""
    recipient = invoice_recipient(invoice)
    if not recipient:
        raise SalesError(_("This invoice's client has no e-mail address."))
    subject = _("Invoice %(number)s from %(salon)s") % {"number": invoice.number, "salon": settings.SALON_NAME}
    body = _("Please find attached invoice %(number)s. Thank you for your visit.") % {"number": invoice.number}
    message = EmailMessage(subject, body, to=[recipient])
    message.attach(f"{invoice.number}.pdf", invoice_pdf(invoice), "application/pdf")
    message.send()
    audit_log(action="sales.invoice.emailed", actor=actor, target=invoice, detail={"number": invoice.number})
    return recipient
