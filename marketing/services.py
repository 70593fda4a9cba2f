"""Coupons, bonos and gift cards: every use of one goes through a function here.

Each counter or balance is changed under a row lock (``select_for_update``) in the caller's
transaction, so two tills selling at once cannot both take the last use of a coupon, the last
session of a bono or the last euro of a gift card. Checkout (``sales.services.cart_checkout``)
calls these inside its own transaction: if the sale fails, the use is rolled back with it.
"""

import calendar
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.services import audit_log
from beils.lib.models import Status
from beils.lib.money import ZERO, format_money, round_money
from crm.models import Client
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
    MarketingError,
    new_gift_card_code,
)


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def _day(value) -> str:
    """A date (or a moment, on the salon's local day) as the reader writes it: 31/03/2026."""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date()
    return date_format(value, "SHORT_DATE_FORMAT")


# --- Coupons ------------------------------------------------------------------------------


def coupon_discount(*, kind: str, value: Decimal, subtotal: Decimal) -> Decimal:
    """The discount a coupon gives on ``subtotal``: a percentage rounded half-up to the cent, or a
    fixed amount; never more than the subtotal, never negative."""
    off = round_money(subtotal * value / 100) if kind == CouponKind.PERCENT else round_money(value)
    return max(ZERO, min(off, subtotal))


def coupon_check(*, coupon: Coupon, subtotal: Decimal, when: datetime | None = None) -> Decimal:
    """The discount ``coupon`` gives on ``subtotal`` now, or ``MarketingError`` saying why not."""
    when = when or timezone.now()
    if coupon.status != Status.ON:
        raise MarketingError(_("Coupon %(code)s is not active.") % {"code": coupon.code})
    if coupon.valid_from and when < coupon.valid_from:
        raise MarketingError(
            _("Coupon %(code)s is valid from %(date)s.") % {"code": coupon.code, "date": _day(coupon.valid_from)}
        )
    if coupon.valid_until and when > coupon.valid_until:
        raise MarketingError(
            _("Coupon %(code)s expired on %(date)s.") % {"code": coupon.code, "date": _day(coupon.valid_until)}
        )
    if subtotal < coupon.min_purchase:
        raise MarketingError(
            _("Coupon %(code)s needs a purchase of at least %(amount)s.")
            % {"code": coupon.code, "amount": format_money(coupon.min_purchase)}
        )
    if coupon.max_uses is not None and coupon.uses >= coupon.max_uses:
        raise MarketingError(
            ngettext(
                "Coupon %(code)s has been used its maximum of %(count)s time.",
                "Coupon %(code)s has been used its maximum of %(count)s times.",
                coupon.max_uses,
            )
            % {"code": coupon.code, "count": coupon.max_uses}
        )
    return coupon_discount(kind=coupon.kind, value=coupon.value, subtotal=subtotal)


@transaction.atomic
def coupon_use(*, code: str, subtotal: Decimal, when: datetime | None = None) -> tuple[Coupon, Decimal]:
    """Validate a coupon for a purchase of ``subtotal`` and count one use, under a row lock.

    Returns the coupon and the discount (never more than the subtotal).
    """
    coupon = Coupon.all_objects.select_for_update().filter(code=code.strip().upper()).first()
    if coupon is None:
        raise MarketingError(_("There is no coupon %(code)s.") % {"code": code.strip().upper()})
    discount = coupon_check(coupon=coupon, subtotal=subtotal, when=when)
    Coupon.all_objects.filter(pk=coupon.pk).update(uses=F("uses") + 1, updated_at=timezone.now())
    coupon.refresh_from_db(fields=["uses"])
    return coupon, discount


# --- Bonos --------------------------------------------------------------------------------


@transaction.atomic
def bonus_sell(*, bonus: Bonus, client: Client, price_paid: Decimal, on: date | None = None) -> ClientBonus:
    """What the client bought: a snapshot of the catalogue bono (name, services, sessions, expiry)
    that later edits of the bono never change."""
    if bonus.status != Status.ON:
        raise MarketingError(_("The bono %(name)s is no longer sold.") % {"name": bonus.name})
    purchased_on = on or timezone.localdate()
    sold = ClientBonus.objects.create(
        client=client,
        bonus=bonus,
        name=bonus.name,
        sessions_total=bonus.total_sessions,
        sessions_remaining=bonus.total_sessions,
        price_paid=price_paid,
        purchased_on=purchased_on,
        expires_on=add_months(purchased_on, bonus.validity_months),
    )
    sold.services.set(bonus.services.all())
    return sold


def client_bonus_check(*, client_bonus: ClientBonus, sessions: int = 1, on: date | None = None) -> None:
    today = on or timezone.localdate()
    if client_bonus.expires_on and client_bonus.expires_on < today:
        raise MarketingError(
            _("The bono %(name)s expired on %(date)s.")
            % {"name": client_bonus.name, "date": _day(client_bonus.expires_on)}
        )
    if client_bonus.status == ClientBonusStatus.EXPIRED:
        raise MarketingError(_("The bono %(name)s has expired.") % {"name": client_bonus.name})
    if client_bonus.status == ClientBonusStatus.EXHAUSTED or client_bonus.sessions_remaining < sessions:
        left = client_bonus.sessions_remaining
        raise MarketingError(
            ngettext(
                "The bono %(name)s has %(left)s session left, not %(wanted)s.",
                "The bono %(name)s has %(left)s sessions left, not %(wanted)s.",
                left,
            )
            % {"name": client_bonus.name, "left": left, "wanted": sessions}
        )


@transaction.atomic
def client_bonus_redeem(
    *,
    client_bonus: ClientBonus,
    sessions: int = 1,
    cart_item=None,
    booking=None,
    on: date | None = None,
    note: str | None = None,
) -> BonusRedemption:
    """Use ``sessions`` of a client's bono: one ledger row, and the balance goes down with it."""
    if sessions < 1:
        raise MarketingError(_("Redeem at least one session."))
    locked = ClientBonus.objects.select_for_update().get(pk=client_bonus.pk)
    client_bonus_check(client_bonus=locked, sessions=sessions, on=on)
    locked.sessions_remaining -= sessions
    if locked.sessions_remaining == 0:
        locked.status = ClientBonusStatus.EXHAUSTED
    locked.save(update_fields=["sessions_remaining", "status", "updated_at"])
    client_bonus.sessions_remaining, client_bonus.status = locked.sessions_remaining, locked.status
    return BonusRedemption.objects.create(
        client_bonus=locked, sessions=sessions, cart_item=cart_item, booking=booking, note=note
    )


@transaction.atomic
def client_bonus_return(
    *, client_bonus: ClientBonus, sessions: int = 1, cart_item=None, booking=None, note: str | None = None
) -> BonusRedemption:
    """Give sessions back (a cancelled appointment): a negative ledger row, never beyond the
    sessions bought."""
    locked = ClientBonus.objects.select_for_update().get(pk=client_bonus.pk)
    if sessions < 1 or locked.sessions_remaining + sessions > locked.sessions_total:
        raise MarketingError(
            _("The bono %(name)s cannot get back more sessions than were used.") % {"name": locked.name}
        )
    locked.sessions_remaining += sessions
    if locked.status == ClientBonusStatus.EXHAUSTED:
        locked.status = ClientBonusStatus.ACTIVE
    locked.save(update_fields=["sessions_remaining", "status", "updated_at"])
    return BonusRedemption.objects.create(
        client_bonus=locked, sessions=-sessions, cart_item=cart_item, booking=booking, note=note
    )


# --- Gift cards ---------------------------------------------------------------------------


@transaction.atomic
def gift_card_issue(
    *,
    amount: Decimal,
    owner: Client | None = None,
    expires_on: date | None = None,
    code: str | None = None,
    actor=None,
    cart=None,
) -> GiftCard:
    """A new gift card with a unique code (generated unless given) and its ISSUE ledger row."""
    if amount <= 0:
        raise MarketingError(_("A gift card must be issued for a positive amount."))
    if expires_on and expires_on < timezone.localdate():
        raise MarketingError(_("A gift card cannot be issued already expired."))
    code = (code or "").strip().upper() or None
    if code is not None and GiftCard.objects.filter(code=code.strip().upper()).exists():
        raise MarketingError(_("A gift card with code %(code)s already exists.") % {"code": code.strip().upper()})
    for _attempt in range(5):
        try:
            # A savepoint per attempt: a generated code that collides is retried, not fatal.
            with transaction.atomic():
                card = GiftCard.objects.create(
                    code=code or new_gift_card_code(),
                    initial_balance=amount,
                    current_balance=amount,
                    expires_on=expires_on,
                    owner=owner,
                )
        except IntegrityError:
            if code is not None:
                raise
            continue
        GiftCardMovement.objects.create(
            gift_card=card, kind=GiftCardMovementKind.ISSUE, amount=amount, balance_after=amount, cart=cart
        )
        audit_log(action="marketing.giftcard.issued", actor=actor, target=card, detail={"amount": f"{amount:.2f}"})
        return card
    raise MarketingError(_("Could not find a free gift card code; try again."))


#: Who may give a gift card away (a comp): MANAGER and ADMIN hold it, STAFF never.
COMP_PERMISSION = "marketing.add_giftcard"


def gift_card_issue_comp(
    *,
    amount: Decimal,
    reason: str,
    actor,
    owner: Client | None = None,
    expires_on: date | None = None,
    code: str | None = None,
) -> GiftCard:
    """Give a gift card away, with no sale behind it: a MANAGER's or ADMIN's decision, with the
    reason on the audit trail. A card that is paid for is sold at checkout instead."""
    reason = (reason or "").strip()
    if actor is None or not actor.has_perm(COMP_PERMISSION):
        raise MarketingError(_("Only a manager or an admin may give a gift card away; sell it at the till instead."))
    if not reason:
        raise MarketingError(_("Say why this gift card is given away: the reason goes on the audit trail."))
    with transaction.atomic():
        card = gift_card_issue(amount=amount, owner=owner, expires_on=expires_on, code=code, actor=actor)
        audit_log(
            action="marketing.giftcard.comped", actor=actor, target=card,
            detail={"amount": f"{amount:.2f}", "reason": reason[:500]},
        )  # fmt: skip
    return card


def _locked_gift_card(gift_card: GiftCard | None, code: str | None) -> GiftCard:
    query = GiftCard.objects.select_for_update()
    card = (
        query.filter(pk=gift_card.pk).first() if gift_card else query.filter(code=(code or "").strip().upper()).first()
    )
    if card is None:
        raise MarketingError(_("There is no gift card %(code)s.") % {"code": (code or "").strip().upper()})
    return card


@transaction.atomic
def gift_card_redeem(
    *, amount: Decimal, gift_card: GiftCard | None = None, code: str | None = None, cart=None, on: date | None = None
) -> GiftCardMovement:
    """Take ``amount`` from a gift card's balance (a REDEEM ledger row), never below zero."""
    card = _locked_gift_card(gift_card, code)
    today = on or timezone.localdate()
    if amount <= 0:
        raise MarketingError(_("A gift card payment must be a positive amount."))
    if card.expires_on and card.expires_on < today:
        raise MarketingError(
            _("Gift card %(code)s expired on %(date)s.") % {"code": card.code, "date": _day(card.expires_on)}
        )
    if card.status not in (GiftCardStatus.ACTIVE,):
        raise MarketingError(
            _("Gift card %(code)s is %(status)s.") % {"code": card.code, "status": card.get_status_display().lower()}
        )
    if amount > card.current_balance:
        raise MarketingError(
            _("Gift card %(code)s has %(balance)s left, not %(amount)s.")
            % {"code": card.code, "balance": format_money(card.current_balance), "amount": format_money(amount)}
        )
    return _move(card, kind=GiftCardMovementKind.REDEEM, amount=-amount, cart=cart)


@transaction.atomic
def gift_card_refund(
    *, amount: Decimal, gift_card: GiftCard | None = None, code: str | None = None, cart=None
) -> GiftCardMovement:
    """Put ``amount`` back on a gift card (a returned sale), never beyond its initial balance."""
    card = _locked_gift_card(gift_card, code)
    if amount <= 0 or card.current_balance + amount > card.initial_balance:
        raise MarketingError(
            _("Gift card %(code)s cannot hold more than its initial %(amount)s.")
            % {"code": card.code, "amount": format_money(card.initial_balance)}
        )
    return _move(card, kind=GiftCardMovementKind.REFUND, amount=amount, cart=cart)


def _move(card: GiftCard, *, kind: str, amount: Decimal, cart) -> GiftCardMovement:
    card.current_balance += amount
    if card.current_balance == 0:
        card.status = GiftCardStatus.SPENT
    elif card.status == GiftCardStatus.SPENT:
        card.status = GiftCardStatus.ACTIVE
    card.save(update_fields=["current_balance", "status", "updated_at"])
    return GiftCardMovement.objects.create(
        gift_card=card, kind=kind, amount=amount, balance_after=card.current_balance, cart=cart
    )


def client_bonus_grant_audit(*, bono: ClientBonus, actor, ip_address: str | None = None) -> None:
    """A bono handed to a client without a sale (ADMIN, in the admin or the API) is value given
    away: it is on the record with its sessions and what was paid."""
    audit_log(
        action="marketing.clientbonus.granted", actor=actor, target=bono, ip_address=ip_address,
        detail={"client_id": bono.client_id, "sessions": bono.sessions_total, "price_paid": f"{bono.price_paid:.2f}"},
    )  # fmt: skip
