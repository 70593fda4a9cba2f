"""Money summed by the database shows as money: two decimals and the euro sign in the reader's
format, even where SQLite adds DECIMALs in floating point (19.90 + 39.90 + 0.10 is not 59.90 there)."""

from decimal import Decimal as D

import pytest
from django.utils import timezone, translation

from beils.lib.money import format_money
from marketing.models import MarketingError
from marketing.services import gift_card_issue, gift_card_redeem
from sales.models import Cart
from sales.services import LineRequest, PaymentRequest, cart_checkout
from tests.factories import ServiceFactory
from tests.test_admin_in_spanish import FLOAT_MONEY, visible_text

pytestmark = pytest.mark.django_db
REPORTS = "/admin/sales/cart/reports/"


def sell(*prices: str) -> None:
    for price in prices:
        service = ServiceFactory(price=D(price))
        cart_checkout(lines=[LineRequest(service=service)], payments=[PaymentRequest("CASH", D(price))])


def spaced(text: str) -> str:
    """Django's Spanish thousands separator is a non-breaking space; compare it as a space."""
    return text.replace("\xa0", " ").replace("\u202f", " ")


def test_a_database_sum_is_formatted_to_the_cent_in_spanish_and_in_english():
    sell("1194.50", "39.90", "0.10")
    revenue = Cart.objects.completed().revenue()
    with translation.override("es"):
        assert spaced(format_money(revenue)) == "1 234,50 €"
    with translation.override("en"):
        assert format_money(revenue) == "1,234.50 €"


@pytest.mark.parametrize(("language", "expected"), [("es", "1 234,50 €"), ("en", "1,234.50 €")])
def test_the_reports_page_shows_the_summed_revenue_as_money(admin_user, admin_browser, language, expected):
    sell("19.90", "39.90", "0.10", "1174.60")
    admin_user.language = language
    admin_user.save(update_fields=["language"])
    response = admin_browser.get(REPORTS + "?refresh=1")
    assert response.status_code == 200 and response["Content-Language"] == language
    text = spaced(visible_text(response))
    assert not FLOAT_MONEY.findall(text)
    revenue = response.content.decode().split('id="report-revenue">')[1].split("<")[0]
    assert spaced(revenue) == expected
    # The payment-method table sums the same four payments.
    assert expected in text


def test_the_sales_list_shows_totals_and_paid_amounts_as_money(admin_user, admin_browser):
    sell("19.90", "39.90")
    admin_user.language = "es"
    admin_user.save(update_fields=["language"])
    text = spaced(visible_text(admin_browser.get("/admin/sales/cart/")))
    assert text.count("19,90 €") >= 2 and text.count("39,90 €") >= 2  # total and paid


def test_a_refusal_names_amounts_as_money_in_the_readers_language():
    card = gift_card_issue(amount=D("1000.00"))
    with translation.override("es"), pytest.raises(MarketingError) as refused:
        gift_card_redeem(gift_card=card, amount=D("1234.50"), on=timezone.localdate())
    assert spaced(str(refused.value)) == f"A la tarjeta regalo {card.code} le quedan 1 000,00 €, no 1 234,50 €."


@pytest.fixture
def spanish_admin(admin_user, admin_browser):
    admin_user.language = "es"
    admin_user.save(update_fields=["language"])
    return admin_browser


def test_the_reports_checkout_and_debt_payment_pages_read_as_spanish_with_money(spanish_admin):
    from tests.test_admin import FACTORIES
    from tests.test_admin_in_spanish import assert_reads_as_spanish

    sell("19.90", "39.90", "0.10")
    reports = spanish_admin.get(REPORTS + "?refresh=1")
    assert_reads_as_spanish(reports, "reports")
    assert "59,90 €" in spaced(visible_text(reports))
    cart = Cart.objects.create()  # an open sale, as the till starts one
    assert_reads_as_spanish(spanish_admin.get(f"/admin/sales/cart/{cart.pk}/checkout/"), "checkout")
    debt = FACTORIES["sales.Debt"]()
    pay = spanish_admin.get(f"/admin/sales/debt/{debt.pk}/pay/")
    assert_reads_as_spanish(pay, "debt payment")
    with translation.override("es"):
        owed = spaced(format_money(debt.remaining))
    assert f"debe {owed}" in spaced(visible_text(pay))
