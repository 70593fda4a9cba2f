"""Sales (with lines, VAT and payments) and balances (gift cards, bonos): where money comes in.

A sale arrives as a completed historical sale. Beils does not invoice it: the other system issued
its invoice, which stays its record (the number is kept on the sale's notes), and Beils' own
invoice chain is left as it was (``verifyinvoices`` still holds). Lines need a catalogue item:
one of the same name, or one made from the line (see :func:`~legacy.peers.catalogue.item_for`).
"""

import re
from collections import OrderedDict
from datetime import datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from beils.lib.money import split_vat
from catalog.models import Product
from crm.models import Client
from legacy import mapping as m
from legacy.models import LegacyKey
from legacy.peers.catalogue import _code, item_for
from legacy.peers.reading import ParsedFile, Row
from marketing.models import (
    Bonus,
    ClientBonus,
    ClientBonusStatus,
    GiftCard,
    GiftCardMovement,
    GiftCardMovementKind,
    GiftCardStatus,
)
from sales.models import Cart, CartItem, CartStatus, Payment, PaymentMethod
from transfer.mapping import normalised

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
TRUE = {"1", "true", "yes", "y", "si", "sí", "x", "void", "voided"}
GIFT_WORDS = ("gift", "voucher", "regalo", "tarjeta", "card", "cheque")


def _add(run, name: str, field: str, amount) -> None:
    money = run.source_money.setdefault(name, {"source": ZERO, "skipped": ZERO})
    money[field] += Decimal(amount or 0)


# --- Sales ---------------------------------------------------------------------------------------


def group_sales(rows: list[Row]) -> list[list[Row]]:
    """A sale's lines, which the export writes one per row with the sale's id on each."""
    sales: OrderedDict[str, list[Row]] = OrderedDict()
    for row in rows:
        sales.setdefault(row.key, []).append(row)
    return list(sales.values())


def _sale_moment(run, v: dict) -> datetime:
    moment = v["date"]
    if v.get("time") and moment.hour == moment.minute == 0:
        clock = m.clock(str(v["time"])[:5]) or moment.time()
        moment = datetime.combine(moment.date(), clock)
    return run.aware(moment)


def write_sales(run, pf: ParsedFile, sales: list[list[Row]]) -> None:
    known = run.known("sales", [lines[0].key for lines in sales], model=Cart)
    seen = run.__dict__.setdefault("_sale_keys_seen", set())
    # The batch's clients looked up at once, its sales written at once (see _SaleBatch).
    run.clients.prefetch([lines[0].values for lines in sales])
    batch = _SaleBatch()
    try:
        _write_sales(run, pf, sales, known, seen, batch)
        batch.write(run)
    finally:
        run.clients.prefetch(None)


def _write_sales(run, pf: ParsedFile, sales: list[list[Row]], known: dict, seen: set, batch) -> None:
    counts = run.counts["sales"]
    for lines in sales:
        head, key = lines[0], lines[0].key
        total = sum((r.values.get("total") or ZERO for r in lines), ZERO)
        _add(run, "sales", "source", total)
        if key in seen:
            run.skip("sales", head, _("the same sale appears twice in the files"), file=pf.name)
            _add(run, "sales", "skipped", total)
            continue
        seen.add(key)
        if key in known:
            counts.already += 1
            continue
        if str(head.values.get("void") or "").strip().lower() in TRUE:
            run.skip("sales", head, _("voided in the other system"), file=pf.name)
            _add(run, "sales", "skipped", total)
            continue
        status = run.profile.status("sales", head.values.get("status")) if head.values.get("status") else None
        if status == CartStatus.CANCELLED:
            run.skip("sales", head, _("cancelled or refunded in the other system"), file=pf.name)
            _add(run, "sales", "skipped", total)
            continue
        if head.values.get("status") and status is None:
            run.note("sales", head, _("status “%(status)s” not known") % {"status": head.values["status"]},
                     _("imported as a completed sale"), level="warning")  # fmt: skip
        _write_sale(run, pf, key, lines, batch)


def _write_sale(run, pf: ParsedFile, key: str, lines: list[Row], batch) -> None:
    head = lines[0]
    client = run.clients.find(head.values)
    if client is None and _names_a_client(head.values):
        client = _client_from_sale(run, head)
    if client in run.erased:
        client = None
        run.note("sales", head, _("the client was erased in Beils (GDPR)"), _("imported as a walk-in sale"))
    when = _sale_moment(run, head.values)
    kept = []
    for index, row in enumerate(lines, start=1):
        v = row.values
        gross, quantity = v.get("total") or ZERO, v.get("quantity") or 1
        if gross < 0 or quantity <= 0:
            run.skip("sales", row, _("a refund or a line of no quantity: not a sale line"), file=pf.name)
            _add(run, "sales", "skipped", gross)
            continue
        kind = (
            "product"
            if normalised(v.get("item_type")) in ("product", "producto", "retail", "physical good")
            else "service"
        )
        name = str(v.get("item") or _("Sale imported from %(profile)s") % {"profile": run.profile.named})
        rate = Decimal(v["tax_rate"] if v.get("tax_rate") is not None else run.profile.default_tax_rate)
        discount = abs(v.get("discount") or ZERO)
        unit = v.get("unit_price")
        if unit is None or unit < 0:
            unit = ((gross + discount) / quantity).quantize(CENT)
        model, pk = item_for(run, kind=kind, name=name, price=unit, tax_rate=rate, row=row, entity=_("sales"))
        net, tax = split_vat(gross, rate)
        line_key = str(v.get("line_key") or f"{key}#{index}")
        kept.append((line_key, {"product_id" if model is Product else "service_id": pk, "name": name[:150],
                                "quantity": quantity, "unit_price": unit, "tax_rate": rate, "discount": discount,
                                "net": net, "tax": tax, "gross": gross, "created_at": when}))  # fmt: skip
    if not kept:
        return
    total = sum((values["gross"] for _k, values in kept), ZERO)
    tax_total = sum((values["tax"] for _k, values in kept), ZERO)
    discount = sum((values["discount"] for _k, values in kept), ZERO)
    notes = [_("Imported from %(profile)s, sale %(key)s.") % {"profile": run.profile.named, "key": key}]
    if head.values.get("invoice_number"):
        notes.append(_("Its invoice, %(number)s, was issued by %(profile)s.")
                     % {"number": head.values["invoice_number"], "profile": run.profile.named})  # fmt: skip
    cart = Cart(client_id=client, status=CartStatus.COMPLETED, subtotal=total + discount,
                discount_total=discount, total=total, tax_total=tax_total, net_total=total - tax_total,
                completed_at=when, created_at=when, notes=" ".join(str(n) for n in notes))  # fmt: skip
    items = [(k, CartItem(cart=cart, **values)) for k, values in kept]
    payments = [Payment(cart=cart, method=method, amount=amount, paid_at=when, created_at=when)
                for method, amount in _payments(run, head, total) if amount > 0]  # fmt: skip
    batch.sales.append((key, cart, items, payments))
    run.counts["sales"].created += 1


class _SaleBatch:
    """A batch's sales, written together when it ends: one INSERT of the carts, one of their
    lines, one of their payments, and one per kind of key, in place of about ten statements a
    sale. The same rows and keys as writing each sale on its own."""

    def __init__(self):
        self.sales: list[tuple[str, Cart, list[tuple[str, CartItem]], list[Payment]]] = []

    def write(self, run) -> None:
        if not self.sales:
            return
        carts = [cart for _key, cart, _items, _payments in self.sales]
        for cart in carts:
            cart.prepare_to_save()  # as save() does
        Cart.objects.bulk_create(carts)
        for _key, cart, items, payments in self.sales:
            for _k, item in items:
                item.cart = cart
            for payment in payments:
                payment.cart = cart
        CartItem.objects.bulk_create([item for _key, _cart, items, _p in self.sales for _k, item in items])
        Payment.objects.bulk_create([p for _key, _cart, _items, payments in self.sales for p in payments])
        run.remember("sales", Cart, [(key, cart.pk) for key, cart, _items, _p in self.sales], new=True)
        run.remember(
            "sale_lines", CartItem, _last([(k, item.pk) for _key, _c, items, _p in self.sales for k, item in items])
        )
        run.remember("payments", Payment, _last([(f"{key}#{i}", p.pk) for key, _c, _i, payments in self.sales
                                                 for i, p in enumerate(payments, start=1)]))  # fmt: skip


def _last(pairs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """One pair per key, the last (a key given twice pointed at the later row when each sale
    was written on its own)."""
    return list(dict(pairs).items())


def _names_a_client(v: dict) -> bool:
    return bool(v.get("client_name") or v.get("client_email"))


def _client_from_sale(run, row: Row) -> int:
    """A client the sales file names (by id, name, e-mail) and no client file brought: made from
    the sale's echo of them, keyed by their id so that their other sales find them."""
    v = row.values
    email = v.get("client_email")
    client = Client(name=str(v.get("client_name") or (email or "?").split("@")[0])[:100],
                    surname=(v.get("client_surname") or None), email=email,
                    phone=(v.get("client_phone") or None))  # fmt: skip
    client.save()
    run.clients.add(client.pk, client.name, client.surname, client.phone)
    run.counts["clients"].created += 1
    run.note("clients", row, _("made from a sale: no client file named them"), _("created with the sale's details"))
    key = str(v.get("client_key") or f"sale-client:{normalised(client.name)}|{normalised(client.surname)}|{email}")
    run.remember("clients", Client, [(key[:100], client.pk)])
    run.source_keys["clients"].add(key[:100])
    run.clients.learn(key[:100], client.pk, client.email)
    return client.pk


def _payments(run, head: Row, total: Decimal) -> list[tuple[str, Decimal]]:
    v = head.values
    spelled, paid = str(v.get("payment_method") or ""), str(v.get("payment_amounts") or "")
    # The separator of a split payment is not documented: ";" or "|", or "," where both use it.
    separator = r"[;|]" if re.search(r"[;|]", spelled + paid) else ","
    names = [n.strip() for n in re.split(separator, spelled) if n.strip()]
    amounts = [a.strip() for a in re.split(separator, paid) if a.strip()] if len(names) > 1 else []
    if len(names) > 1 and len(amounts) == len(names):
        try:
            split = [
                (name, Decimal(a.replace(",", ".")).quantize(CENT)) for name, a in zip(names, amounts, strict=True)
            ]
        except ArithmeticError:
            split = []
        if split and sum(a for _n, a in split) == total:
            return [(_method(run, head, name), amount) for name, amount in split]
        run.note("sales", head, _("the split payment does not add up to the sale"), _("recorded as one payment"))
    return [(_method(run, head, names[0] if names else None), total)]


def _method(run, row: Row, name) -> str:
    method = run.profile.payment_method(name)
    if method is None or method == PaymentMethod.GIFT_CARD:
        run.note("sales", row, _("payment method “%(method)s” has no Beils equivalent") % {"method": name or "—"},
                 _("recorded as cash"))  # fmt: skip
        return PaymentMethod.CASH
    return method


write_sales.group = group_sales


# --- Balances: gift cards and bonos -------------------------------------------------------------


def _is_gift_card(v: dict) -> bool:
    kind = normalised(v.get("kind"))
    if kind:
        return any(word in kind for word in GIFT_WORDS)
    return v.get("sessions_remaining") is None


def write_balances(run, pf: ParsedFile, rows: list[Row]) -> None:
    known = run.known("balances", [r.key for r in rows])
    seen = run.__dict__.setdefault("_balance_keys_seen", set())
    for row in rows:
        v = row.values
        gift = _is_gift_card(v)
        if gift:
            _add(run, "gift_cards", "source", v.get("balance") if v.get("balance") is not None else v.get("initial"))
        else:
            _add(run, "bono_sessions", "source", v.get("sessions_remaining"))
        if row.key in seen or row.key in known:
            if row.key in seen:
                run.skip("balances", row, _("the same gift card or bono appears twice in the files"), file=pf.name)
                _skipped(run, gift, v)
            else:
                run.counts["balances"].already += 1
            continue
        seen.add(row.key)
        if gift:
            _gift_card(run, pf, row)
        else:
            _bono(run, pf, row)


def _skipped(run, gift: bool, v: dict) -> None:
    if gift:
        _add(run, "gift_cards", "skipped", v.get("balance") if v.get("balance") is not None else v.get("initial"))
    else:
        _add(run, "bono_sessions", "skipped", v.get("sessions_remaining"))


def _gift_card(run, pf: ParsedFile, row: Row) -> None:
    v = row.values
    balance = v.get("balance") if v.get("balance") is not None else v.get("initial")
    initial = max(v.get("initial") or ZERO, balance or ZERO)
    status = run.profile.status("balances", v.get("status")) if v.get("status") else None
    if balance is not None and balance < 0:
        run.skip("balances", row, _("a negative balance"), file=pf.name)
        _skipped(run, True, v)
        return
    if not balance:
        run.skip("balances", row, _("a gift card with nothing left on it"), file=pf.name)
        return
    if v.get("status") and status != GiftCardStatus.ACTIVE:
        # Only an active credit is a live balance (Timely: "Outstanding" is not accurate for
        # expired credits); the others are listed, not carried over.
        run.skip("balances", row, _("its status in the other system is “%(status)s”: not a live balance")
                 % {"status": v["status"]}, file=pf.name)  # fmt: skip
        _skipped(run, True, v)
        return
    # The card's code as the other system printed it; a row without one gets a code of its key.
    code = v.get("code") or (row.key if not row.key.startswith("h:") else _code(run, "GC", row.key))
    code = str(code).strip().upper()[:40]
    if GiftCard.objects.filter(code=code).exists():
        run.skip("balances", row, _("a Beils gift card already has this code"), file=pf.name)
        _skipped(run, True, v)
        return
    owner = run.clients.find(v)
    owner = None if owner in run.erased else owner
    if owner is None and _names_a_client(v):
        run.note("balances", row, _("its owner is not a Beils client"), _("imported without owner"))
    issued = v.get("issued") or timezone.localdate()
    expired = v.get("expires") is not None and v["expires"] < timezone.localdate()
    card = GiftCard(code=code, initial_balance=initial, current_balance=balance, issued_on=issued,
                    expires_on=v.get("expires"), owner_id=owner,
                    status=GiftCardStatus.EXPIRED if expired else GiftCardStatus.ACTIVE)  # fmt: skip
    card.save()
    moves = [GiftCardMovement(gift_card=card, kind=GiftCardMovementKind.ISSUE, amount=initial, balance_after=initial)]
    if balance != initial:
        moves.append(GiftCardMovement(gift_card=card, kind=GiftCardMovementKind.REDEEM, amount=balance - initial,
                                      balance_after=balance))  # fmt: skip
    GiftCardMovement.objects.bulk_create(moves)
    run.remember("balances", GiftCard, [(row.key, card.pk)])
    run.counts["balances"].created += 1


def _bono(run, pf: ParsedFile, row: Row) -> None:
    v = row.values
    left = v.get("sessions_remaining") or 0
    if left <= 0:
        run.skip("balances", row, _("a bono with no sessions left"), file=pf.name)
        return
    client = run.clients.find(v)
    if client is None or client in run.erased:
        run.skip("balances", row, _("a bono of nobody: no client with that id, e-mail, phone or name"), file=pf.name)
        _skipped(run, False, v)
        return
    name = str(v.get("name") or _("Bono imported from %(profile)s") % {"profile": run.profile.named})[:150]
    total = max(v.get("sessions_total") or left, left)
    bonus = _stand_in_bonus(run, name, total)
    bono = ClientBonus.objects.create(client_id=client, bonus=bonus, name=name, sessions_total=total,
                                      sessions_remaining=left, price_paid=v.get("initial") or ZERO,
                                      purchased_on=v.get("issued") or timezone.localdate(), expires_on=v.get("expires"),
                                      status=ClientBonusStatus.ACTIVE)  # fmt: skip
    run.remember("balances", ClientBonus, [(row.key, bono.pk)])
    run.counts["balances"].created += 1


def _stand_in_bonus(run, name: str, sessions: int) -> Bonus:
    """The catalogue bono a client's bono needs: one of the same name, or one made for the
    import (switched off: it is not on sale until someone prices it)."""
    key = "name:" + normalised(name)[:80]
    pk = run.known("bonos", [key], model=Bonus).get(key)
    if pk is not None:
        return Bonus.all_objects.get(pk=pk)
    bonus = Bonus.all_objects.filter(name=name).first()
    if bonus is None:
        bonus = Bonus.all_objects.create(name=name, code=_code(run, "B", key), total_sessions=sessions, price=ZERO,
                                         status="OFF")  # fmt: skip
    run.remember("bonos", Bonus, [(key, bonus.pk)])
    return bonus


# --- Payments: how imported sales were paid (a file of its own) -------------------------------

TENDERS = (("card", PaymentMethod.CARD), ("cash", PaymentMethod.CASH), ("bizum", PaymentMethod.BIZUM),
           ("transfer", PaymentMethod.TRANSFER), ("other", PaymentMethod.CASH))  # fmt: skip


def write_payments(run, pf: ParsedFile, rows: list[Row]) -> None:
    """A sale's payments as the payments file says (Square's Transactions: card and cash amounts
    on one row): they replace the one payment the sales file implied, when they add up to it."""
    counts = run.counts["payments"]
    done = run.known("payment_rows", [r.key for r in rows])
    sales = run.known("sales", [r.key for r in rows], model=Cart)
    for row in rows:
        v = row.values
        tenders = [(method, v.get(name) or ZERO) for name, method in TENDERS if (v.get(name) or ZERO) > 0]
        paid = sum((amount for _m, amount in tenders), ZERO)
        _add(run, "payments_file", "source", paid)
        if row.key in done:
            counts.already += 1
            continue
        cart = Cart.objects.filter(pk=sales.get(row.key)).first()
        if cart is None:
            run.skip("payments", row, _("no imported sale with this number"), file=pf.name)
            _add(run, "payments_file", "skipped", paid)
            continue
        if paid != cart.total:
            run.skip("payments", row, _("the payments (%(paid)s) do not add up to the sale (%(total)s)")
                     % {"paid": paid, "total": cart.total}, file=pf.name)  # fmt: skip
            _add(run, "payments_file", "skipped", paid)
            continue
        if v.get("other"):
            run.note("payments", row, _("paid by another tender"), _("recorded as cash"))
        when = cart.completed_at
        cart.payments.all().delete()
        made = Payment.objects.bulk_create(
            [
                Payment(cart=cart, method=method, amount=amount, paid_at=when, created_at=when)
                for method, amount in tenders
            ]
        )
        keys = [f"{row.key}#{i}" for i in range(1, len(made) + 1)]
        LegacyKey.objects.filter(entity=run.entity_key("payments"), legacy_id__startswith=f"{row.key}#").delete()
        run.remember("payments", Payment, list(zip(keys, [p.pk for p in made], strict=True)))
        run.remember("payment_rows", Cart, [(row.key, cart.pk)])
        counts.updated += 1
