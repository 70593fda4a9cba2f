"""Marketing: bonos (the offer and the ones clients bought), coupons and gift cards."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

from beils.lib.money import ZERO
from crm.models import Client
from demo.builders.salon import BATCH, HISTORY_DAYS, Salon
from marketing.models import (
    Bonus,
    BonusRedemption,
    ClientBonus,
    ClientBonusStatus,
    Coupon,
    CouponKind,
    GiftCard,
    GiftCardMovement,
    GiftCardMovementKind,
    GiftCardStatus,
)

BONOS = [
    # name, service, sessions, price
    ("Bono 5 masajes", "Masaje relajante", 5, "180.00"), ("Bono 10 presoterapia", "Presoterapia", 10, "250.00"),
    ("Bono 6 láser axilas", "Láser diodo axilas", 6, "199.00"), ("Bono 4 INDIBA", "INDIBA corporal", 4, "270.00"),
    ("Bono 5 limpiezas", "Limpieza facial profunda", 5, "200.00"),
]  # fmt: skip


def build_marketing(salon: Salon) -> None:
    """The bonos on offer (``salon.bonuses``, each for one service) and twenty coupon campaigns."""
    by_name = {s.name: s for s in salon.services}
    salon.bonuses = salon.put(
        Bonus,
        [Bonus(name=n, code=f"BONO-{i:02d}", total_sessions=k, price=Decimal(p), validity_months=12, is_demo=True)
         for i, (n, _, k, p) in enumerate(BONOS, 1)],
    )  # fmt: skip
    salon.bonus_service = {b.pk: by_name[s] for b, (_, s, _, _) in zip(salon.bonuses, BONOS, strict=True)}
    Through = Bonus.services.through
    salon.put(Through, [Through(bonus=b, service=salon.bonus_service[b.pk]) for b in salon.bonuses])
    salon.coupons = salon.put(Coupon, [_coupon(salon, i) for i in range(1, 21)])


def _coupon(salon: Salon, i: int) -> Coupon:
    """Two in three take a percentage off, the others a fixed amount; each runs for 60 days."""
    rng = salon.rng
    start = salon.anchor - timedelta(days=rng.randint(0, HISTORY_DAYS))
    percent = i % 3 != 0
    return Coupon(
        code=f"DEMO{i:02d}{'P' if percent else 'F'}", description=f"Campaña {start:%B %Y}",
        kind=CouponKind.PERCENT if percent else CouponKind.FIXED,
        value=Decimal(rng.choice(["10", "15", "20"]) if percent else rng.choice(["5", "10"])),
        min_purchase=Decimal(rng.choice(["0", "30", "50"])),
        valid_from=salon.when(start, 0), valid_until=salon.when(start + timedelta(days=60), 24 * 60 - 1),
        is_demo=True,
    )  # fmt: skip


def build_client_bonuses(salon: Salon, clients: list[Client]) -> list[ClientBonus]:
    """About one client in eight buys a bono (sold at the counter: see ``sales.build_client_sales``)."""
    sold = []
    for client in clients:
        if salon.rng.random() < 0.12:
            bonus = salon.rng.choice(salon.bonuses)
            bought = max(client.created_at.date(), salon.random_day())
            sold.append(
                ClientBonus(
                    client=client, bonus=bonus, name=bonus.name, sessions_total=bonus.total_sessions,
                    sessions_remaining=bonus.total_sessions, price_paid=bonus.price, purchased_on=bought,
                    expires_on=bought + timedelta(days=30 * bonus.validity_months), is_demo=True,
                )
            )  # fmt: skip
    sold = salon.put(ClientBonus, sold)
    Through = ClientBonus.services.through
    salon.put(Through, [Through(clientbonus=cb, service=salon.bonus_service[cb.bonus_id]) for cb in sold])
    return sold


def build_gift_cards(salon: Salon) -> None:
    """One gift card per 50 clients (at least 10), each with its issue and, often, a redemption."""
    client_ids = list(Client.all_objects.filter(is_demo=True).order_by("pk").values_list("pk", flat=True)[:5000])
    cards, spending = [], []
    for i in range(1, max(10, salon.n_clients // 50) + 1):
        card, spent = _gift_card(salon, i, client_ids)
        cards.append(card)
        spending.append(spent)
    cards = salon.put(GiftCard, cards)
    salon.put(
        GiftCardMovement,
        [m for card, spent in zip(cards, spending, strict=True) for m in _movements(salon, card, spent)],
    )


def _movements(salon: Salon, card: GiftCard, spent: Decimal) -> list[GiftCardMovement]:
    """The card's issue, and the one redemption, 20 days later, that spent ``spent``."""
    initial, issued_at = card.initial_balance, salon.when(card.issued_on, 10 * 60)
    rows = [GiftCardMovement(gift_card=card, kind=GiftCardMovementKind.ISSUE, amount=initial, balance_after=initial,
                             created_at=issued_at, is_demo=True)]  # fmt: skip
    if spent:
        rows.append(GiftCardMovement(gift_card=card, kind=GiftCardMovementKind.REDEEM, amount=-spent, balance_after=initial - spent,
                                     created_at=issued_at + timedelta(days=20), is_demo=True))  # fmt: skip
    return rows


def _gift_card(salon: Salon, i: int, client_ids: list[int]) -> tuple[GiftCard, Decimal]:
    """Gift card number ``i``, and how much of it has been spent."""
    issued = salon.random_day()
    initial = Decimal(salon.rng.choice(["25", "50", "50", "75", "100"]))
    spent = min(initial, salon.money(0, 90)) if salon.rng.random() < 0.6 else ZERO
    expires = issued + timedelta(days=365)
    status = (
        GiftCardStatus.SPENT
        if spent == initial
        else GiftCardStatus.EXPIRED
        if expires < salon.anchor
        else GiftCardStatus.ACTIVE
    )
    card = GiftCard(code=f"GC-DEMO-{i:05d}", initial_balance=initial, current_balance=initial - spent, issued_on=issued,
                    expires_on=expires, status=status, owner_id=salon.rng.choice(client_ids), is_demo=True)  # fmt: skip
    return card, spent


def finish_counters(salon: Salon) -> None:
    """Coupon uses, and each bono's sessions left and status, from what the sales recorded."""
    for coupon in salon.coupons:
        coupon.uses = salon.coupon_uses[coupon.pk]
    Coupon.objects.bulk_update(salon.coupons, ["uses"])
    _settle_bonos(salon)


def _settle_bonos(salon: Salon) -> None:
    used = Counter(
        BonusRedemption.objects.filter(is_demo=True)
        .values_list("client_bonus_id", flat=True)
        .iterator(chunk_size=BATCH)
    )
    changed = []
    for cb in (
        ClientBonus.objects.filter(is_demo=True).only("pk", "sessions_total", "expires_on").iterator(chunk_size=BATCH)
    ):
        cb.sessions_remaining = max(cb.sessions_total - used[cb.pk], 0)
        cb.status = (ClientBonusStatus.EXHAUSTED if cb.sessions_remaining == 0
                     else ClientBonusStatus.EXPIRED if cb.expires_on and cb.expires_on < salon.anchor else ClientBonusStatus.ACTIVE)  # fmt: skip
        changed.append(cb)
    ClientBonus.objects.bulk_update(changed, ["sessions_remaining", "status"], batch_size=BATCH)
