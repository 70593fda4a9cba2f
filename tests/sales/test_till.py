"""The till: a tip on top of the total, several payments in one sale, and the client's bonos shown
with why each can or cannot be used."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from marketing.services import gift_card_issue
from sales.models import Cart, CartItem, Payment, SalesError
from sales.services import LineRequest, PaymentRequest, cart_checkout, cart_reprice
from sales.till import PaymentFormSet, bono_states
from tests.factories import PASSWORD, CartFactory, ClientBonusFactory, ClientFactory, ServiceFactory

pytestmark = pytest.mark.django_db

D = Decimal


def test_a_tip_is_paid_on_top_of_the_total_and_stays_out_of_the_invoice():
    service = ServiceFactory(price=D("30.00"))
    payments = [PaymentRequest("CARD", D("25.00")), PaymentRequest("CASH", None)]
    result = cart_checkout(lines=[LineRequest(service=service)], payments=payments, tip=D("5.00"))
    assert (result.cart.total, result.cart.tip, result.invoice.total) == (D("30.00"), D("5.00"), D("30.00"))
    assert sorted(result.cart.payments.values_list("method", "amount")) == [("CARD", D("25.00")), ("CASH", D("10.00"))]
    assert Cart.objects.filter(pk=result.cart.pk).revenue() == D("30.00")


def test_payments_that_leave_out_the_tip_are_refused_and_nothing_is_written():
    service = ServiceFactory(price=D("30.00"))
    with pytest.raises(SalesError, match="not the total of 35"):
        cart_checkout(lines=[LineRequest(service=service)], payments=[PaymentRequest("CASH", D("30"))], tip=D("5"))
    assert not Cart.objects.exists() and not Payment.objects.exists()


def test_a_tip_is_never_owed():
    client, service = ClientFactory(), ServiceFactory(price=D("80.00"))
    with pytest.raises(SalesError, match="tip is paid now"):
        cart_checkout(lines=[LineRequest(service=service)], payments=[], client=client, on_credit=True, tip=D("5"))
    result = cart_checkout(
        lines=[LineRequest(service=service)], payments=[PaymentRequest("CASH", D("25"))], client=client,
        on_credit=True, tip=D("5"),
    )  # fmt: skip
    assert result.debt.amount == D("60.00")


def test_a_negative_tip_is_refused():
    with pytest.raises(SalesError, match="negative"):
        cart_checkout(lines=[LineRequest(service=ServiceFactory())], payments=[], tip=D("-1"))


def _formset(rows):
    data = {"form-TOTAL_FORMS": str(len(rows)), "form-INITIAL_FORMS": "0"}
    for index, row in enumerate(rows):
        data.update({f"form-{index}-{key}": value for key, value in row.items()})
    return PaymentFormSet(data)


def test_the_till_takes_several_payments_and_the_open_one_pays_the_rest():
    formset = _formset([{"method": "CASH", "amount": ""}, {"method": "CARD", "amount": "20.00"}, {"method": ""}])
    assert formset.is_valid(), formset.errors
    assert formset.payment_requests() == [PaymentRequest("CARD", D("20.00")), PaymentRequest("CASH", None)]


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"method": "GIFT_CARD", "amount": "5"}], "needs the card's code"),
        ([{"method": "CASH", "amount": "5", "gift_card_code": "ABC"}], "only used with the gift card"),
        ([{"method": "", "amount": "5"}], "Choose how"),
        ([{"method": "CASH", "amount": "-5"}], "greater than or equal to 0.01"),
        ([{"method": "CASH", "amount": "1e999"}], "no more than 12 digits"),
        ([{"method": "CASH", "amount": "doce"}], "Enter a number"),
        ([{"method": "CASH"}, {"method": "CARD"}], "Only one payment"),
    ],
)
def test_the_till_explains_every_bad_payment_row(rows, message):
    formset = _formset(rows)
    assert not formset.is_valid()
    assert message in str([formset.errors, formset.non_form_errors()])


def test_the_till_shows_every_bono_and_explains_the_ones_that_cannot_be_used():
    client, today = ClientFactory(), timezone.localdate()
    usable = ClientBonusFactory(client=client, sessions_total=5, sessions_remaining=3, expires_on=today + timedelta(30))
    expired = ClientBonusFactory(client=client, expires_on=date(2020, 1, 31))
    used_up = ClientBonusFactory(client=client, sessions_total=4, sessions_remaining=0, status="EXHAUSTED")
    with translation.override("en"):
        states = bono_states(client, on=today)
    assert [state.client_bonus for state in states][0] == usable
    by_bono = {state.client_bonus: state for state in states}
    assert by_bono[usable].usable and by_bono[usable].explanation.startswith("3 of 5 sessions left")
    assert not by_bono[expired].usable and "Expired on 01/31/2020" in by_bono[expired].explanation
    assert not by_bono[used_up].usable and by_bono[used_up].explanation == "All 4 sessions used."
    assert bono_states(None) == []


# --- the till screen -------------------------------------------------------------------------


def _draft(client=None, *services):
    cart = CartFactory(client=client)
    for service in services:
        CartItem.objects.create(cart=cart, service=service, name=service.name, unit_price=service.price)
    return cart_reprice(cart=cart)


def _post(browser, cart, rows, **fields):
    data = {"payment-TOTAL_FORMS": str(len(rows)), "payment-INITIAL_FORMS": "0", **fields}
    for index, row in enumerate(rows):
        data.update({f"payment-{index}-{key}": value for key, value in row.items()})
    return browser.post(f"/admin/sales/cart/{cart.pk}/checkout/", data, follow=True)


def test_the_till_splits_a_sale_over_cash_card_and_a_gift_card_with_a_tip(staff_browser):
    card = gift_card_issue(amount=D("20.00"))
    cart = _draft(ClientFactory(), ServiceFactory(price=D("60.00")))
    rows = [{"method": "GIFT_CARD", "amount": "20.00", "gift_card_code": card.code}, {"method": "CASH", "amount": "15"},
            {"method": "CARD", "amount": ""}]  # fmt: skip
    page = _post(staff_browser, cart, rows, tip="5.00")
    cart.refresh_from_db()
    assert cart.status == "COMPLETED" and cart.tip == D("5.00")
    assert sorted(cart.payments.values_list("method", "amount")) == [
        ("CARD", D("30.00")), ("CASH", D("15.00")), ("GIFT_CARD", D("20.00"))
    ]  # fmt: skip
    invoice = cart.invoices.get()
    assert invoice.total == D("60.00")
    assert page.redirect_chain[-1][0] == f"/admin/sales/invoice/{invoice.pk}/change/"
    assert b"invoice-pdf" in page.content


def test_the_till_uses_a_bono_session_for_a_service_it_covers(staff_browser):
    client, service = ClientFactory(), ServiceFactory(price=D("40.00"))
    bono = ClientBonusFactory(client=client, sessions_total=5, sessions_remaining=2)
    bono.services.add(service)
    cart = _draft(client, service)
    form = staff_browser.get(f"/admin/sales/cart/{cart.pk}/checkout/")
    assert form.status_code == 200 and b"Use a session of" in form.content
    _post(staff_browser, cart, [{"method": "CARD"}], bono_0=str(bono.pk))
    cart.refresh_from_db()
    bono.refresh_from_db()
    assert (cart.status, cart.total, bono.sessions_remaining) == ("COMPLETED", D("0.00"), 1)


def test_the_till_shows_an_expired_bono_and_why_instead_of_hiding_it(staff_browser):
    client, service = ClientFactory(), ServiceFactory()
    expired = ClientBonusFactory(client=client, name="Bono 10 manicuras", expires_on=date(2020, 1, 31))
    expired.services.add(service)
    page = staff_browser.get(f"/admin/sales/cart/{_draft(client, service).pk}/checkout/")
    text = page.content.decode()
    assert "Bono 10 manicuras" in text and "Expired on 01/31/2020" in text
    assert "Use a session of" not in text


def test_a_refused_payment_at_the_till_says_why_and_writes_nothing(staff_browser):
    cart = _draft(None, ServiceFactory(price=D("30.00")))
    page = _post(staff_browser, cart, [{"method": "CASH", "amount": "10"}])
    assert "not the total of 30.00" in page.content.decode()
    cart.refresh_from_db()
    assert cart.status == "OPEN" and not Payment.objects.exists()
    page = _post(staff_browser, cart, [{"method": "GIFT_CARD", "amount": "10"}])
    assert "needs the card&#x27;s code" in page.content.decode() and cart.payments.count() == 0


def test_only_people_who_sell_open_the_till(anonymous_browser, outsider):
    cart = _draft(None, ServiceFactory())
    response = anonymous_browser.get(f"/admin/sales/cart/{cart.pk}/checkout/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert anonymous_browser.login(email=outsider.email, password=PASSWORD) is False
