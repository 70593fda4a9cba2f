"""Charging a booking: its services sold (or taken from a bono), the invoice issued and the
booking completed, in one transaction; refused for closed or already-charged bookings."""

from decimal import Decimal

import pytest

from audit.models import AuditEntry
from bookings.models import Booking, BookingError, BookingStatus
from bookings.services import booking_charge
from marketing.models import BonusRedemption, ClientBonus, MarketingError
from sales.models import Cart, CartStatus, Invoice, InvoiceKind, Payment, SalesError
from sales.services import PaymentRequest
from tests.factories import (
    BonusFactory,
    BookingFactory,
    BookingItemFactory,
    ClientBonusFactory,
    ClientFactory,
    CouponFactory,
    ServiceFactory,
    UserFactory,
)
from tests.helpers import admin_url, api_as

pytestmark = pytest.mark.django_db

D = Decimal


def cash(amount):
    return [PaymentRequest(method="CASH", amount=D(amount))]


def _booking(*prices, status=BookingStatus.CONFIRMED, client=None):
    booking = BookingFactory(status=status, client=client or ClientFactory())
    for price in prices:
        BookingItemFactory(booking=booking, service=ServiceFactory(price=D(price)))
    return booking


def _bono(client, service, *, sessions=5):
    bono = ClientBonusFactory(client=client, bonus=BonusFactory(services=[service]), sessions_remaining=sessions)
    bono.services.set([service])
    return bono


def _nothing_was_sold():
    return not (Cart.objects.exists() or Payment.objects.exists() or Invoice.objects.exists())


# --- the service ----------------------------------------------------------------------------


def test_charging_a_booking_completes_it_and_creates_its_sale_with_an_invoice(staff_user):
    booking = _booking("30.00", "12.10")
    result = booking_charge(booking=booking, payments=cash("42.10"), actor=staff_user)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.COMPLETED
    cart = result.cart
    assert (cart.booking, cart.client, cart.status, cart.total) == (
        booking, booking.client, CartStatus.COMPLETED, D("42.10")
    )  # fmt: skip
    assert sorted(cart.items.values_list("service__price", flat=True)) == [D("12.10"), D("30.00")]
    assert list(cart.payments.values_list("method", "amount")) == [("CASH", D("42.10"))]
    assert Invoice.objects.get(cart=cart) == result.invoice and result.invoice.kind == InvoiceKind.SIMPLIFIED
    actions = set(AuditEntry.objects.filter(target_id=str(booking.pk)).values_list("action", "actor"))
    assert {("bookings.booking.completed", staff_user.pk), ("bookings.booking.charged", staff_user.pk)} <= actions


def test_the_same_service_booked_twice_is_one_line_of_two(staff_user):
    booking = _booking("30.00")
    BookingItemFactory(booking=booking, service=booking.items.get().service)
    result = booking_charge(booking=booking, payments=cash("60.00"), actor=staff_user)
    assert list(result.cart.items.values_list("quantity", "gross")) == [(2, D("60.00"))]


def test_prices_come_from_the_catalogue_not_from_the_booking(staff_user):
    booking = _booking("30.00")
    booking.items.update(price=D("1.00"))
    with pytest.raises(SalesError, match="not the total of 30.00"):
        booking_charge(booking=booking, payments=cash("1.00"), actor=staff_user)


def test_using_a_bono_session_writes_the_ledger_row_and_no_payment_for_that_line(staff_user):
    booking = _booking("30.00", "20.00")
    facial, nails = (item.service for item in booking.items.order_by("pk"))
    bono = _bono(booking.client, facial, sessions=2)

    result = booking_charge(booking=booking, payments=cash("20.00"), bono_for={facial: bono}, actor=staff_user)

    lines = {item.client_bonus_id or item.service_id: item for item in result.cart.items.all()}
    assert lines[bono.pk].gross == D("0.00") and lines[nails.pk].gross == D("20.00")
    assert list(result.cart.payments.values_list("amount", flat=True)) == [D("20.00")]
    redemption = BonusRedemption.objects.get()
    assert (redemption.client_bonus, redemption.sessions, redemption.booking, redemption.cart_item) == (
        bono, 1, booking, lines[bono.pk]
    )  # fmt: skip
    assert ClientBonus.objects.get(pk=bono.pk).sessions_remaining == 1


def test_a_booking_paid_entirely_with_a_bono_needs_no_payment(staff_user):
    booking = _booking("30.00")
    bono = _bono(booking.client, booking.items.get().service)
    result = booking_charge(booking=booking, payments=[], bono_for={booking.items.get().service_id: bono})
    assert result.cart.total == D("0.00") and not result.cart.payments.exists()
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.COMPLETED


def test_the_bono_chosen_on_the_booking_is_used_unless_the_caller_says_otherwise(staff_user):
    booking = _booking("30.00")
    item = booking.items.get()
    item.client_bonus = _bono(booking.client, item.service)
    item.save()
    twin = _booking("30.00", client=booking.client)
    twin.items.update(service=item.service, client_bonus=item.client_bonus)

    booking_charge(booking=booking, payments=[], actor=staff_user)
    paid = booking_charge(booking=twin, payments=cash("30.00"), bono_for={}, actor=staff_user)

    assert BonusRedemption.objects.get().booking == booking
    assert paid.cart.total == D("30.00")


def test_a_bono_of_another_client_or_for_another_service_is_refused(staff_user):
    booking = _booking("30.00")
    service = booking.items.get().service
    strangers = _bono(ClientFactory(), service)
    other_service = _bono(booking.client, ServiceFactory())
    for bono, reason in ((strangers, "another client"), (other_service, "does not cover")):
        with pytest.raises(BookingError, match=reason):
            booking_charge(booking=booking, payments=[], bono_for={service: bono}, actor=staff_user)
    assert _nothing_was_sold() and Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED


def test_an_exhausted_bono_is_refused_and_nothing_is_written(staff_user):
    booking = _booking("30.00")
    bono = _bono(booking.client, booking.items.get().service, sessions=0)
    ClientBonus.objects.filter(pk=bono.pk).update(status="EXHAUSTED")
    with pytest.raises(MarketingError, match="0 session"):
        booking_charge(booking=booking, payments=[], bono_for={booking.items.get().service: bono}, actor=staff_user)
    assert _nothing_was_sold() and not BonusRedemption.objects.exists()


def test_a_failure_while_issuing_the_invoice_leaves_the_booking_open_and_no_sale(staff_user, monkeypatch):
    booking = _booking("30.00", "20.00")
    facial = booking.items.order_by("pk").first().service
    bono = _bono(booking.client, facial, sessions=3)
    coupon = CouponFactory(code="SPRING", value=D("10.00"))

    def invoice_fails(**kwargs):
        raise SalesError("The invoice printer caught fire.")

    monkeypatch.setattr("sales.services.invoice_issue", invoice_fails)
    with pytest.raises(SalesError, match="caught fire"):
        booking_charge(booking=booking, payments=cash("18.00"), bono_for={facial: bono}, coupon="spring")

    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED
    assert _nothing_was_sold() and not BonusRedemption.objects.exists()
    assert ClientBonus.objects.get(pk=bono.pk).sessions_remaining == 3
    coupon.refresh_from_db()
    assert coupon.uses == 0
    assert not AuditEntry.objects.filter(action__startswith="bookings.").exists()


def test_a_failure_while_completing_the_booking_takes_the_sale_back(staff_user, monkeypatch):
    booking = _booking("30.00")

    def transition_fails(**kwargs):
        raise BookingError("The appointment book is locked.")

    monkeypatch.setattr("bookings.services.booking_transition", transition_fails)
    with pytest.raises(BookingError):
        booking_charge(booking=booking, payments=cash("30.00"), actor=staff_user)
    assert _nothing_was_sold() and Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED


@pytest.mark.parametrize("status", [BookingStatus.COMPLETED, BookingStatus.CANCELLED, BookingStatus.NO_SHOW])
def test_closed_bookings_are_refused(staff_user, status):
    booking = _booking("30.00", status=status)
    with pytest.raises(BookingError, match="closed and cannot be charged"):
        booking_charge(booking=booking, payments=cash("30.00"), actor=staff_user)
    assert _nothing_was_sold()


def test_a_booking_already_charged_is_refused(staff_user):
    booking = _booking("30.00")
    first = booking_charge(booking=booking, payments=cash("30.00"), actor=staff_user)
    with pytest.raises(BookingError, match=f"already charged: Sale #{first.cart.pk}"):
        booking_charge(booking=booking, payments=cash("30.00"), actor=staff_user)
    assert Cart.objects.count() == 1 and Invoice.objects.count() == 1


def test_a_booking_sold_through_the_plain_checkout_counts_as_charged(staff_user):
    from sales.services import LineRequest, cart_checkout

    booking = _booking("30.00")
    cart_checkout(lines=[LineRequest(service=booking.items.get().service)], payments=cash("30.00"), booking=booking)
    with pytest.raises(BookingError, match="already charged"):
        booking_charge(booking=booking, payments=cash("30.00"), actor=staff_user)


def test_a_booking_without_services_is_refused():
    with pytest.raises(BookingError, match="no services"):
        booking_charge(booking=BookingFactory(), payments=[])


# --- the admin ------------------------------------------------------------------------------


def test_an_open_booking_shows_a_charge_button_and_a_closed_one_does_not(staff_browser):
    open_booking, closed = _booking("30.00"), _booking("30.00", status=BookingStatus.COMPLETED)
    charge_url = admin_url(Booking, "charge", open_booking.pk)
    assert charge_url in staff_browser.get(admin_url(Booking, "change", open_booking.pk)).content.decode()
    page = staff_browser.get(admin_url(Booking, "change", closed.pk)).content.decode()
    assert admin_url(Booking, "charge", closed.pk) not in page


def test_staff_charge_a_booking_in_the_admin_and_land_on_the_new_sale(staff_browser, staff_user):
    booking = _booking("30.00", "12.10")
    page = staff_browser.get(admin_url(Booking, "charge", booking.pk))
    assert page.status_code == 200
    assert "42.10" not in page.content.decode()  # no total yet: it depends on the bonos chosen
    assert "12.10 €" in page.content.decode()

    response = staff_browser.post(admin_url(Booking, "charge", booking.pk), {"method": "CARD", "coupon": ""})

    cart = Cart.objects.get()
    assert response.status_code == 302 and response.url == admin_url(Cart, "change", cart.pk)
    assert (cart.booking_id, cart.total, cart.created_by) == (booking.pk, D("42.10"), staff_user)
    assert list(cart.payments.values_list("method", "amount")) == [("CARD", D("42.10"))]
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.COMPLETED
    message = str(list(staff_browser.get(response.url).context["messages"])[0])
    assert "invoice " + Invoice.objects.get().number in message


def test_the_charge_page_offers_the_clients_bono_and_a_session_can_be_taken(staff_browser):
    booking = _booking("30.00", "20.00")
    facial = booking.items.order_by("pk").first().service
    bono = _bono(booking.client, facial)
    _bono(booking.client, facial, sessions=0)  # exhausted: not offered

    page = staff_browser.get(admin_url(Booking, "charge", booking.pk))
    field = page.context["form"].fields[f"bono_{facial.pk}"]
    assert [value for value, _label in field.choices] == ["", str(bono.pk)]

    staff_browser.post(admin_url(Booking, "charge", booking.pk), {"method": "CASH", f"bono_{facial.pk}": bono.pk})

    cart = Cart.objects.get()
    assert cart.total == D("20.00") and BonusRedemption.objects.get().client_bonus == bono


def test_the_admin_shows_a_refusal_and_charges_nothing(staff_browser):
    booking = _booking("30.00")
    response = staff_browser.post(admin_url(Booking, "charge", booking.pk), {"method": "CASH", "coupon": "NOPE"})
    assert response.status_code == 200
    assert "There is no coupon NOPE." in [str(m) for m in response.context["messages"]]
    assert _nothing_was_sold() and Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED


def test_the_charge_page_of_a_closed_booking_sends_back_to_the_booking(staff_browser):
    booking = _booking("30.00", status=BookingStatus.CANCELLED)
    response = staff_browser.post(admin_url(Booking, "charge", booking.pk), {"method": "CASH"})
    assert response.status_code == 302 and response.url == admin_url(Booking, "change", booking.pk)
    assert _nothing_was_sold()


def test_the_charge_action_opens_the_page_for_exactly_one_booking(staff_browser):
    one, two = _booking("30.00"), _booking("30.00")
    url = admin_url(Booking, "changelist")
    response = staff_browser.post(url, {"action": "charge_selected", "_selected_action": [one.pk]})
    assert response.status_code == 302 and response.url == admin_url(Booking, "charge", one.pk)
    response = staff_browser.post(url, {"action": "charge_selected", "_selected_action": [one.pk, two.pk]})
    assert response.status_code == 302 and response.url == url


def test_someone_who_cannot_sell_cannot_open_the_charge_page(db):
    from django.test import Client as Browser

    from tests.factories import PASSWORD

    clerk = UserFactory(is_staff=True)
    clerk.groups.clear()
    browser = Browser()
    browser.login(email=clerk.email, password=PASSWORD)
    assert browser.get(admin_url(Booking, "charge", _booking("30.00").pk)).status_code == 403


# --- the API --------------------------------------------------------------------------------


def test_the_api_charges_a_booking_with_payments_shaped_as_in_the_checkout(staff_user):
    booking = _booking("30.00", "20.00")
    facial = booking.items.order_by("pk").first().service
    bono = _bono(booking.client, facial)
    body = {
        "payments": [{"method": "CARD", "amount": "15.00"}, {"method": "CASH", "amount": "5.00"}],
        "bonos": [{"service": facial.pk, "client_bonus": bono.pk}],
    }
    response = api_as(staff_user).post(f"/api/bookings/{booking.pk}/charge", body, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["booking"], data["status"], data["total"]) == (booking.pk, "COMPLETED", "20.00")
    assert data["invoice"] == Invoice.objects.get().number
    assert [p["amount"] for p in data["payments"]] == ["15.00", "5.00"]
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.COMPLETED


def test_the_api_refuses_a_closed_or_charged_booking_with_a_400_and_the_reason(staff_user):
    api, charged = api_as(staff_user), _booking("30.00")
    body = {"payments": [{"method": "CASH", "amount": "30.00"}]}
    assert api.post(f"/api/bookings/{charged.pk}/charge", body, format="json").status_code == 200
    again = api.post(f"/api/bookings/{charged.pk}/charge", body, format="json")
    assert again.status_code == 400 and "already charged" in again.json()["detail"]
    cancelled = _booking("30.00", status=BookingStatus.CANCELLED)
    refused = api.post(f"/api/bookings/{cancelled.pk}/charge", body, format="json")
    assert refused.status_code == 400 and "cancelled: it is closed" in refused.json()["detail"]
    short = _booking("30.00")
    unpaid = api.post(f"/api/bookings/{short.pk}/charge", {"payments": []}, format="json")
    assert unpaid.status_code == 400 and "not the total of 30.00" in unpaid.json()["detail"]
    assert Cart.objects.count() == 1


def test_the_api_refuses_someone_who_cannot_sell_with_a_403(db):
    clerk = UserFactory()
    clerk.groups.clear()
    booking = _booking("30.00")
    body = {"payments": [{"method": "CASH", "amount": "30.00"}]}
    assert api_as(clerk).post(f"/api/bookings/{booking.pk}/charge", body, format="json").status_code == 403
    assert _nothing_was_sold()


def test_the_charge_page_reads_as_spanish_with_money_as_money(staff_browser, staff_user):
    from tests.test_admin_in_spanish import assert_reads_as_spanish

    staff_user.language = "es"
    staff_user.save(update_fields=["language"])
    booking = _booking("1234.50")
    _bono(booking.client, booking.items.get().service)

    page = staff_browser.get(admin_url(Booking, "charge", booking.pk))

    assert_reads_as_spanish(page, "charge")
    html = page.content.decode()
    assert "1\xa0234,50 €" in html  # the service's price, as a Spanish reader writes it
    assert "Pagar 1\xa0234,50 €" in html and "Cobrar, completar la cita y emitir la factura" in html
    charged = staff_browser.post(admin_url(Booking, "charge", booking.pk), {"method": "CARD"}, follow=True)
    assert "Cita cobrada y completada: 1\xa0234,50 €, factura" in charged.content.decode()
