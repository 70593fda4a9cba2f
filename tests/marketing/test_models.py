"""Coupons, bonos and gift cards: codes are unique, counters and balances stay in range."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from marketing.models import Bonus, BonusRedemption, ClientBonus, ClientBonusStatus, Coupon, CouponKind, GiftCard
from tests.factories import (
    BonusFactory,
    BonusRedemptionFactory,
    ClientBonusFactory,
    CouponFactory,
    GiftCardFactory,
    GiftCardMovementFactory,
)

pytestmark = pytest.mark.django_db


# --- Coupons ------------------------------------------------------------------------------


def test_it_refuses_duplicate_coupon_code():
    CouponFactory(code="SPRING")
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(code="SPRING", value=Decimal("5.00"))


def test_coupon_codes_are_upper_cased_so_case_variants_collide():
    CouponFactory(code="spring")
    assert Coupon.objects.get().code == "SPRING"
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(code=" Spring ", value=Decimal("5.00"))


def test_it_refuses_more_uses_than_the_maximum():
    coupon = CouponFactory(max_uses=3, uses=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.all_objects.filter(pk=coupon.pk).update(uses=4)
    coupon.refresh_from_db()
    assert coupon.uses == 3


def test_an_unlimited_coupon_may_be_used_any_number_of_times():
    coupon = CouponFactory(max_uses=None)
    Coupon.all_objects.filter(pk=coupon.pk).update(uses=10_000)
    coupon.refresh_from_db()
    assert coupon.uses == 10_000


def test_it_refuses_a_percentage_above_100():
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(code="HUGE", kind=CouponKind.PERCENT, value=Decimal("100.01"))


def test_a_fixed_coupon_may_exceed_100():
    coupon = Coupon.objects.create(code="BIG", kind=CouponKind.FIXED, value=Decimal("150.00"))
    assert coupon.pk


def test_it_refuses_a_zero_value_coupon():
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(code="ZERO", value=Decimal("0"))


def test_it_refuses_a_validity_window_that_ends_before_it_starts():
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(code="BACKWARDS", value=Decimal("5"), valid_from=now, valid_until=now - timedelta(days=1))


def test_valid_on_offers_only_active_current_and_not_exhausted_coupons():
    now = timezone.now()
    good = CouponFactory(valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=1))
    CouponFactory(valid_until=now - timedelta(days=1))
    CouponFactory(valid_from=now + timedelta(days=1))
    CouponFactory(max_uses=2, uses=2)
    CouponFactory(status="OFF")
    assert list(Coupon.objects.valid_on(now)) == [good]


# --- Bonos --------------------------------------------------------------------------------


def test_it_refuses_duplicate_bono_code():
    BonusFactory(code="LASER10")
    with pytest.raises(IntegrityError), transaction.atomic():
        Bonus.objects.create(name="Laser again", code="LASER10", total_sessions=10, price=Decimal("300"))


def test_it_refuses_a_bono_without_sessions():
    with pytest.raises(IntegrityError), transaction.atomic():
        Bonus.objects.create(name="Empty", code="EMPTY", total_sessions=0, price=Decimal("1"))


def test_it_refuses_more_sessions_left_than_bought():
    bono = ClientBonusFactory(sessions_total=5, sessions_remaining=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientBonus.objects.filter(pk=bono.pk).update(sessions_remaining=6)


def test_it_refuses_an_exhausted_bono_with_sessions_left():
    bono = ClientBonusFactory(sessions_remaining=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientBonus.objects.filter(pk=bono.pk).update(status=ClientBonusStatus.EXHAUSTED)


def test_it_refuses_a_redemption_of_zero_sessions():
    with pytest.raises(IntegrityError), transaction.atomic():
        BonusRedemption.objects.create(client_bonus=ClientBonusFactory(), sessions=0)


def test_a_client_bono_is_a_snapshot_that_survives_edits_of_the_catalogue_bono():
    bono = ClientBonusFactory(name="Laser x5")
    Bonus.objects.filter(pk=bono.bonus_id).update(name="Laser x5 (new price)", total_sessions=6)
    bono.refresh_from_db()
    assert (bono.name, bono.sessions_total) == ("Laser x5", 5)


def test_it_refuses_to_delete_a_catalogue_bono_that_was_sold():
    bono = ClientBonusFactory()
    with pytest.raises(ProtectedError), transaction.atomic():
        bono.bonus.delete()


def test_deleting_a_client_bono_deletes_its_redemption_ledger():
    redemption = BonusRedemptionFactory()
    redemption.client_bonus.delete()
    assert not BonusRedemption.objects.filter(pk=redemption.pk).exists()


def test_usable_client_bonos_are_active_with_sessions_left_and_unexpired():
    today = timezone.localdate()
    usable = ClientBonusFactory()
    ClientBonusFactory(expires_on=today - timedelta(days=1))
    ClientBonusFactory(sessions_remaining=0, status=ClientBonusStatus.EXHAUSTED)
    assert list(ClientBonus.objects.usable()) == [usable]


# --- Gift cards ---------------------------------------------------------------------------


def test_it_refuses_duplicate_gift_card_code():
    GiftCardFactory(code="XMAS-001")
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCard.objects.create(code="xmas-001", initial_balance=Decimal("20.00"))


def test_a_new_gift_card_starts_with_its_full_balance():
    card = GiftCard.objects.create(code="NEW", initial_balance=Decimal("40.00"))
    card.refresh_from_db()
    assert card.current_balance == Decimal("40.00")


def test_it_refuses_a_gift_card_balance_below_zero():
    card = GiftCardFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCard.objects.filter(pk=card.pk).update(current_balance=Decimal("-0.01"))


def test_it_refuses_a_gift_card_balance_above_its_initial_value():
    card = GiftCardFactory(initial_balance=Decimal("50.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCard.objects.filter(pk=card.pk).update(current_balance=Decimal("50.01"))


def test_it_refuses_a_movement_that_leaves_a_negative_balance():
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCardMovementFactory(kind="REDEEM", amount=Decimal("-60.00"), balance_after=Decimal("-10.00"))


def test_deleting_a_gift_cards_owner_keeps_the_card():
    card = GiftCardFactory()
    card.owner.delete()
    card.refresh_from_db()
    assert card.owner is None


def test_a_gift_card_saved_without_a_code_gets_one():
    card = GiftCard.objects.create(initial_balance=Decimal("10.00"))

    assert card.code.startswith("GC-")
    assert GiftCard().code != GiftCard().code  # each new card its own
