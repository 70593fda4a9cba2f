"""Sales: tickets with their lines, coupons, payments and debts, and the invoices that number them."""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import reset_queries
from django.utils import timezone

from beils.lib.money import ZERO, round_money, split_vat
from bookings.models import Booking, BookingItem, BookingStatus
from crm.models import Client
from demo.builders.salon import BATCH, Salon
from marketing.models import BonusRedemption, ClientBonus, Coupon, CouponKind
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
    invoice_hash,
)

# A ticket line before pricing: (field of CartItem it sells, the thing sold, name, quantity, unit price, VAT rate).
Line = tuple[str, object, str, int, Decimal, Decimal]
METHODS = [PaymentMethod.CARD] * 5 + [PaymentMethod.CASH] * 3 + [PaymentMethod.BIZUM, PaymentMethod.TRANSFER]


def build_client_sales(
    salon: Salon,
    clients: list[Client],
    bookings: list[Booking],
    booking_items: list[BookingItem],
    client_bonuses: list[ClientBonus],
) -> None:
    """A ticket for every completed booking and every bono sold, and the clients' retail purchases."""
    carts: list[Cart] = []
    lines_of: list[list[Line]] = []
    _booking_sales(salon, bookings, booking_items, carts, lines_of)
    _bono_sales(salon, client_bonuses, carts, lines_of)
    _retail_sales(salon, clients, carts, lines_of)
    _write_carts(salon, carts, lines_of)


def _booking_sales(salon: Salon, bookings, booking_items, carts: list, lines_of: list) -> None:
    """A booking's services (a bono session at 0), sometimes with a product bought on the way out."""
    items_by_booking = defaultdict(list)
    for item in booking_items:
        items_by_booking[item.booking_id].append(item)
    for booking in bookings:
        if booking.status != BookingStatus.COMPLETED:
            continue
        carts.append(Cart(client_id=booking.client_id, booking=booking, status=CartStatus.COMPLETED, completed_at=booking.end,
                          created_at=booking.end, created_by=booking.staff, is_demo=True))  # fmt: skip
        lines_of.append(_booking_lines(salon, items_by_booking[booking.pk]))


def _booking_lines(salon: Salon, items: list[BookingItem]) -> list[Line]:
    lines = []
    for item in items:
        if item.client_bonus is not None:
            bono = item.client_bonus
            lines.append(("client_bonus", bono, f"Sesión de {bono.name}", 1, ZERO, item.service.tax_rate))
        else:
            lines.append(("service", item.service, item.name, 1, item.service.price, item.service.tax_rate))
    if salon.rng.random() < 0.2:
        product = salon.rng.choice(salon.active_products)
        lines.append(("product", product, product.name, 1, product.price, product.tax_rate))
    return lines


def _bono_sales(salon: Salon, client_bonuses: list[ClientBonus], carts: list, lines_of: list) -> None:
    """Bonos are sold over the counter, on the day they were bought."""
    for cb in client_bonuses:
        when = salon.when(cb.purchased_on, salon.rng.randint(10 * 60, 19 * 60))
        bonus = next(b for b in salon.bonuses if b.pk == cb.bonus_id)
        carts.append(
            Cart(client=cb.client, status=CartStatus.COMPLETED, completed_at=when, created_at=when, is_demo=True)
        )
        lines_of.append([("bonus", bonus, bonus.name, 1, bonus.price, bonus.tax_rate)])


def _retail_sales(salon: Salon, clients: list[Client], carts: list, lines_of: list) -> None:
    """Products and packs, and a few tickets still open (the last three days) or cancelled."""
    rng = salon.rng
    for client in clients:
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            day = max(client.created_at.date(), salon.random_day())
            when = salon.when(day, rng.randint(10 * 60, 19 * 60))
            status = CartStatus.OPEN if day > salon.anchor - timedelta(days=3) and rng.random() < 0.3 else (
                CartStatus.CANCELLED if rng.random() < 0.04 else CartStatus.COMPLETED)  # fmt: skip
            lines_of.append(_retail_lines(salon))
            carts.append(Cart(client=client, status=status, completed_at=when if status == CartStatus.COMPLETED else None,
                              created_at=when, is_demo=True))  # fmt: skip


def _retail_lines(salon: Salon) -> list[Line]:
    """A pack one time in ten, otherwise one or two products (one or two of each)."""
    rng = salon.rng
    if rng.random() < 0.1:
        pack = rng.choice(salon.packs)
        return [("pack", pack, pack.name, 1, pack.price, pack.tax_rate)]
    return [
        ("product", p, p.name, rng.choice([1, 1, 2]), p.price, p.tax_rate)
        for p in rng.sample(salon.active_products, rng.choice([1, 1, 2]))
    ]


def build_walk_in_sales(salon: Salon) -> None:
    """One anonymous product sale per ten clients (at least 20)."""
    carts, lines_of = [], []
    for _ in range(max(20, salon.n_clients // 10)):
        when = salon.when(salon.random_day(), salon.rng.randint(10 * 60, 19 * 60))
        product = salon.rng.choice(salon.active_products)
        carts.append(Cart(client=None, status=CartStatus.COMPLETED, completed_at=when, created_at=when, is_demo=True))
        lines_of.append([("product", product, product.name, 1, product.price, product.tax_rate)])
    _write_carts(salon, carts, lines_of)


def _write_carts(salon: Salon, carts: list[Cart], lines_of: list[list[Line]]) -> None:
    """Price the tickets, write them with their lines and bono redemptions, then settle them."""
    all_lines = [_price(salon, cart, lines) for cart, lines in zip(carts, lines_of, strict=True)]
    carts = salon.put(Cart, carts)
    for cart, built in zip(carts, all_lines, strict=True):
        for li in built:
            li.cart = cart
    lines = salon.put(CartItem, [li for built in all_lines for li in built])
    salon.put(
        BonusRedemption,
        [BonusRedemption(client_bonus=li.client_bonus, sessions=1, cart_item=li, booking_id=li.cart.booking_id,
                         created_at=li.cart.completed_at, is_demo=True)
         for li in lines if li.client_bonus_id],
    )  # fmt: skip
    payments, debts = _settle(salon, carts)
    salon.put(Payment, payments)
    _build_debts(salon, debts)


def _price(salon: Salon, cart: Cart, lines: list[Line]) -> list[CartItem]:
    """The ticket's lines and totals; a coupon's discount is taken from the first lines first."""
    subtotal = sum((unit * qty for _, _, _, qty, unit, _ in lines), ZERO)
    coupon, discount = _pick_coupon(salon, cart, subtotal)
    cart.coupon = coupon
    if coupon:
        salon.coupon_uses[coupon.pk] += 1
    built, remaining_discount = [], discount
    for target, obj, name, qty, unit, rate in lines:
        line_discount = min(remaining_discount, unit * qty)
        remaining_discount -= line_discount
        built.append(_line(cart, target, obj, name=name, qty=qty, unit=unit, rate=rate, discount=line_discount))
    cart.subtotal = subtotal
    cart.discount_total = discount
    cart.net_total = sum((li.net for li in built), ZERO)
    cart.tax_total = sum((li.tax for li in built), ZERO)
    cart.total = cart.net_total + cart.tax_total
    return built


def _pick_coupon(salon: Salon, cart: Cart, subtotal: Decimal) -> tuple[Coupon | None, Decimal]:
    """One completed sale in twelve or so uses the first coupon valid for it, if there is one."""
    if cart.completed_at is None or salon.rng.random() > 0.08:
        return None, ZERO
    for coupon in salon.coupons:
        if coupon.valid_from <= cart.completed_at <= coupon.valid_until and subtotal >= coupon.min_purchase:
            off = round_money(subtotal * coupon.value / 100) if coupon.kind == CouponKind.PERCENT else coupon.value
            return coupon, min(off, subtotal)
    return None, ZERO


def _line(cart, target: str, obj, *, name: str, qty: int, unit: Decimal, rate: Decimal, discount: Decimal) -> CartItem:
    gross = unit * qty - discount
    net, tax = split_vat(gross, rate)
    return CartItem(cart=cart, name=name, quantity=qty, unit_price=unit, tax_rate=rate, discount=discount,
                    net=net, tax=tax, gross=gross, is_demo=True, **{target: obj})  # fmt: skip


def _settle(salon: Salon, carts: list[Cart]) -> tuple[list[Payment], list[tuple[Cart, Decimal]]]:
    """Completed tickets are paid, except that a client sometimes owes half or all of one."""
    rng = salon.rng
    payments, debts = [], []
    for cart in carts:
        if cart.status != CartStatus.COMPLETED or cart.total == 0:
            continue
        owed = ZERO
        if cart.client_id and rng.random() < 0.03:
            owed = round_money(cart.total * Decimal(rng.choice(["0.5", "1"])))
            debts.append((cart, owed))
        if cart.total - owed > 0:
            payments += _payments(salon, cart, cart.total - owed)
    return payments, debts


def _payments(salon: Salon, cart: Cart, to_pay: Decimal) -> list[Payment]:
    """Mostly by card; one ticket over 20 € in ten is paid 40 % in cash and the rest otherwise."""
    method = salon.rng.choice(METHODS)
    payments = []
    if to_pay > 20 and salon.rng.random() < 0.1:
        cash = round_money(to_pay * Decimal("0.4"))
        payments.append(
            Payment(cart=cart, method=PaymentMethod.CASH, amount=cash, paid_at=cart.completed_at, is_demo=True)
        )
        to_pay -= cash
    payments.append(Payment(cart=cart, method=method, amount=to_pay, paid_at=cart.completed_at, is_demo=True))
    return payments


def _build_debts(salon: Salon, debts: list[tuple[Cart, Decimal]]) -> None:
    """Debts older than 90 days are paid; some over 20 days old, half paid; the rest pending."""
    rows, payments = [], []
    for cart, amount in debts:
        age = (salon.now - cart.completed_at).days
        paid = amount if age > 90 else round_money(amount / 2) if age > 20 and salon.rng.random() < 0.5 else ZERO
        status = DebtStatus.PAID if paid == amount else DebtStatus.PARTIAL if paid else DebtStatus.PENDING
        rows.append(Debt(client_id=cart.client_id, cart=cart, amount=amount, remaining=amount - paid, status=status,
                         due_date=cart.completed_at.date() + timedelta(days=30), created_at=cart.completed_at, is_demo=True))  # fmt: skip
        payments.append(paid)
    rows = salon.put(Debt, rows)
    salon.put(
        DebtPayment,
        [DebtPayment(debt=d, amount=p, method=PaymentMethod.CASH, paid_at=d.created_at + timedelta(days=15), is_demo=True)
         for d, p in zip(rows, payments, strict=True) if p > 0],
    )  # fmt: skip


# --- invoices: numbered and chained in issue order -----------------------------------------------


def build_invoices(salon: Salon) -> None:
    """An invoice for every completed demo sale, numbered per year after any existing invoices and
    chained to the last one; full invoices for clients with a tax document, simplified otherwise."""
    series = settings.INVOICE_SERIES
    last = Invoice.objects.order_by("-issue_date", "-pk").values_list("hash", flat=True).first() or ""
    numbers = {(s.year): s.last_number for s in InvoiceSequence.objects.filter(series=series)}
    carts = (
        Cart.objects.filter(is_demo=True, status=CartStatus.COMPLETED)
        .order_by("completed_at", "pk")
        .values_list("pk", "completed_at", "net_total", "tax_total", "total",
                     "client__name", "client__surname", "client__document_number")
    )  # fmt: skip
    batch = []
    for row in carts.iterator(chunk_size=BATCH):
        issued = timezone.localdate(row[1])
        numbers[issued.year] = numbers.get(issued.year, 0) + 1
        batch.append(_invoice(row, issued=issued, seq=numbers[issued.year], previous=last))
        last = batch[-1].hash
        if len(batch) >= BATCH:
            salon.put(Invoice, batch)
            batch = []
            reset_queries()
    salon.put(Invoice, batch)
    for year, last_number in numbers.items():
        InvoiceSequence.objects.update_or_create(series=series, year=year, defaults={"last_number": last_number})


def _invoice(row: tuple, *, issued, seq: int, previous: str) -> Invoice:
    pk, completed_at, net, tax, total, name, surname, document = row
    series, issuer = settings.INVOICE_SERIES, settings.SALON_TAX_ID
    number = f"{series}{issued.year}-{seq:06d}"
    digest = invoice_hash(issuer_tax_id=issuer, number=number, issue_date=issued, total=total, previous_hash=previous)
    return Invoice(
        cart_id=pk, series=series, year=issued.year, sequence_number=seq, number=number,
        kind=InvoiceKind.FULL if document else InvoiceKind.SIMPLIFIED, issue_date=issued, issuer_tax_id=issuer,
        customer_name=f"{name} {surname or ''}".strip() if document else None, customer_tax_id=document,
        net_total=net, tax_total=tax, total=total, tax_breakdown={}, hash=digest, previous_hash=previous or None,
        created_at=completed_at, is_demo=True,
    )  # fmt: skip
