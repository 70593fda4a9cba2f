"""Marketing's money reads as money in the admin: balances and prices with two decimals and €,
a coupon's value as a percentage or an amount by its kind."""

from decimal import Decimal as D

import pytest

from marketing.models import CouponKind
from tests.factories import CouponFactory, GiftCardFactory
from tests.test_admin_in_spanish import visible_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def spanish_admin(admin_user, admin_browser):
    admin_user.language = "es"
    admin_user.save(update_fields=["language"])
    return admin_browser


def spaced(text: str) -> str:
    return text.replace("\xa0", " ")


def test_a_coupons_value_shows_as_a_percentage_or_as_money_by_its_kind(spanish_admin):
    CouponFactory(code="SPRING", kind=CouponKind.PERCENT, value=D("12.50"), min_purchase=D("1500.00"))
    CouponFactory(code="FIVE", kind=CouponKind.FIXED, value=D("5.00"))
    text = spaced(visible_text(spanish_admin.get("/admin/marketing/coupon/")))
    assert "12,5 %" in text and "5,00 €" in text and "1 500,00 €" in text


def test_gift_card_balances_show_as_money_in_the_list_and_on_the_card(spanish_admin):
    card = GiftCardFactory(initial_balance=D("1234.50"))
    listed = spaced(visible_text(spanish_admin.get("/admin/marketing/giftcard/")))
    assert listed.count("1 234,50 €") == 2  # initial and current balance
    shown = " ".join(spaced(visible_text(spanish_admin.get(f"/admin/marketing/giftcard/{card.pk}/change/"))).split())
    assert "Saldo inicial: 1 234,50 €" in shown and "Saldo: 1 234,50 €" in shown
