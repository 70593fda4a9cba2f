"""Coupons, bonos and gift cards used through their services: every rule refused with a reason,
every balance moved through a ledger row."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from beils.lib.models import Status
from marketing.models import (
    BonusRedemption,
    ClientBonusStatus,
    CouponKind,
    GiftCard,
    GiftCardMovementKind,
    GiftCardStatus,
    MarketingError,
)
from marketing.services import (
    add_months,
    bonus_sell,
    client_bonus_redeem,
    client_bonus_return,
    coupon_use,
    gift_card_issue,
    gift_card_redeem,
    gift_card_refund,
)
from tests.factories import BonusFactory, ClientBonusFactory, ClientFactory, CouponFactory, ServiceFactory

pytestmark = pytest.mark.django_db

D = Decimal


# --- Coupons ------------------------------------------------------------------------------


def test_a_valid_coupon_gives_its_discount_and_counts_a_use():
    coupon = CouponFactory(code="SPRING", kind=CouponKind.PERCENT, value=D("15"), max_uses=2)
    used, off = coupon_use(code=" spring ", subtotal=D("40.00"))
    assert used == coupon and off == D("6.00")
    coupon.refresh_from_db()
    assert coupon.uses == 1


@pytest.mark.parametrize(
    ("overrides", "subtotal", "reason"),
    [
        ({"status": Status.OFF}, "50", "not active"),
        ({"valid_from": timezone.now() + timedelta(days=1)}, "50", "valid from"),
        ({"valid_until": timezone.now() - timedelta(days=1)}, "50", "expired"),
        ({"min_purchase": D("60.00")}, "59.99", "at least 60.00"),
        ({"max_uses": 3, "uses": 3}, "50", "maximum of 3"),
    ],
    ids=["inactive", "not yet valid", "expired", "below minimum purchase", "used up"],
)
def test_it_refuses_a_coupon_that_does_not_apply(overrides, subtotal, reason):
    coupon = CouponFactory(code="NOPE", **overrides)
    uses = coupon.uses
    with pytest.raises(MarketingError, match=reason):
        coupon_use(code="NOPE", subtotal=D(subtotal))
    coupon.refresh_from_db()
    assert coupon.uses == uses


def test_it_refuses_an_unknown_coupon():
    with pytest.raises(MarketingError, match="no coupon GHOST"):
        coupon_use(code="ghost", subtotal=D("10"))


def test_a_fixed_coupon_is_capped_at_the_purchase():
    CouponFactory(code="TWENTY", kind=CouponKind.FIXED, value=D("20.00"), max_uses=None)
    assert coupon_use(code="TWENTY", subtotal=D("12.50"))[1] == D("12.50")


# --- Bonos --------------------------------------------------------------------------------


def test_selling_a_bono_snapshots_it_and_later_edits_of_the_bono_do_not_reach_it():
    services = [ServiceFactory(), ServiceFactory()]
    bonus = BonusFactory(name="Láser 6", total_sessions=6, validity_months=12, services=services)
    today = timezone.localdate()
    sold = bonus_sell(bonus=bonus, client=ClientFactory(), price_paid=D("300.00"), on=today)
    assert (sold.name, sold.sessions_total, sold.sessions_remaining) == ("Láser 6", 6, 6)
    assert sold.expires_on == add_months(today, 12) and set(sold.services.all()) == set(services)
    bonus.name, bonus.total_sessions = "Láser 8", 8
    bonus.save()
    bonus.services.set([ServiceFactory()])
    sold.refresh_from_db()
    assert (sold.name, sold.sessions_total) == ("Láser 6", 6) and set(sold.services.all()) == set(services)


def test_add_months_keeps_the_day_or_the_end_of_a_shorter_month():
    from datetime import date

    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2025, 11, 15), 3) == date(2026, 2, 15)


def test_redeeming_writes_a_ledger_row_and_exhausts_the_bono_at_zero():
    client_bonus = ClientBonusFactory(sessions_total=2, sessions_remaining=2)
    client_bonus_redeem(client_bonus=client_bonus)
    client_bonus_redeem(client_bonus=client_bonus)
    client_bonus.refresh_from_db()
    assert (client_bonus.sessions_remaining, client_bonus.status) == (0, ClientBonusStatus.EXHAUSTED)
    assert list(BonusRedemption.objects.values_list("sessions", flat=True)) == [1, 1]
    with pytest.raises(MarketingError, match="0 session"):
        client_bonus_redeem(client_bonus=client_bonus)


def test_an_expired_bono_cannot_be_used():
    client_bonus = ClientBonusFactory(expires_on=timezone.localdate() - timedelta(days=1))
    with pytest.raises(MarketingError, match="expired"):
        client_bonus_redeem(client_bonus=client_bonus)
    assert not BonusRedemption.objects.exists()


def test_a_session_given_back_reopens_an_exhausted_bono_but_never_beyond_what_was_bought():
    client_bonus = ClientBonusFactory(sessions_total=1, sessions_remaining=1)
    client_bonus_redeem(client_bonus=client_bonus)
    client_bonus_return(client_bonus=client_bonus, note="Cancelled appointment")
    client_bonus.refresh_from_db()
    assert (client_bonus.sessions_remaining, client_bonus.status) == (1, ClientBonusStatus.ACTIVE)
    with pytest.raises(MarketingError):
        client_bonus_return(client_bonus=client_bonus)
    assert sorted(BonusRedemption.objects.values_list("sessions", flat=True)) == [-1, 1]


# --- Gift cards ---------------------------------------------------------------------------


def test_a_gift_card_is_issued_with_a_unique_code_and_an_issue_row():
    first = gift_card_issue(amount=D("50.00"))
    second = gift_card_issue(amount=D("25.00"), owner=ClientFactory())
    assert first.code != second.code and first.code.startswith("GC-")
    assert list(first.movements.values_list("kind", "amount", "balance_after")) == [
        (GiftCardMovementKind.ISSUE, D("50.00"), D("50.00"))
    ]


def test_a_chosen_gift_card_code_must_be_free():
    gift_card_issue(amount=D("10"), code="gift-1")
    with pytest.raises(MarketingError, match="already exists"):
        gift_card_issue(amount=D("10"), code="GIFT-1")
    assert GiftCard.objects.count() == 1


def test_a_gift_card_balance_moves_only_through_the_ledger_and_never_below_zero():
    card = gift_card_issue(amount=D("30.00"))
    gift_card_redeem(code=card.code, amount=D("20.00"))
    with pytest.raises(MarketingError, match="10.00 € left"):
        gift_card_redeem(code=card.code, amount=D("10.01"))
    gift_card_redeem(gift_card=card, amount=D("10.00"))
    card.refresh_from_db()
    assert (card.current_balance, card.status) == (D("0.00"), GiftCardStatus.SPENT)
    gift_card_refund(gift_card=card, amount=D("5.00"))
    card.refresh_from_db()
    assert (card.current_balance, card.status) == (D("5.00"), GiftCardStatus.ACTIVE)
    with pytest.raises(MarketingError, match="initial"):
        gift_card_refund(gift_card=card, amount=D("25.01"))
    ledger = list(card.movements.order_by("pk").values_list("amount", "balance_after"))
    assert ledger == [(D("30.00"), D("30.00")), (D("-20.00"), D("10.00")), (D("-10.00"), D("0.00")),
                      (D("5.00"), D("5.00"))]  # fmt: skip
    assert sum(amount for amount, _ in ledger) == card.current_balance


def test_an_expired_or_cancelled_gift_card_is_refused():
    expired = gift_card_issue(amount=D("30.00"), expires_on=timezone.localdate())
    GiftCard.objects.filter(pk=expired.pk).update(expires_on=timezone.localdate() - timedelta(days=1))
    with pytest.raises(MarketingError, match="expired"):
        gift_card_redeem(gift_card=expired, amount=D("1.00"))
    cancelled = gift_card_issue(amount=D("30.00"))
    GiftCard.objects.filter(pk=cancelled.pk).update(status=GiftCardStatus.CANCELLED)
    with pytest.raises(MarketingError, match="cancelled"):
        gift_card_redeem(gift_card=cancelled, amount=D("1.00"))


def test_a_gift_card_is_not_issued_already_expired_or_for_nothing():
    with pytest.raises(MarketingError):
        gift_card_issue(amount=D("0"))
    with pytest.raises(MarketingError):
        gift_card_issue(amount=D("10"), expires_on=timezone.localdate() - timedelta(days=1))
