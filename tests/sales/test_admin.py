"""The sales screens: a draft sale is priced from the catalogue and completed only by checkout,
history is read-only, debts are paid through a form, and the reports add up."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from marketing.models import GiftCard, GiftCardMovementKind
from sales.models import Cart, CartItem, CartStatus, Debt, DebtStatus, Invoice
from sales.services import LineRequest, PaymentRequest, cart_checkout
from tests.factories import CartFactory, ClientFactory, ProductFactory, ServiceFactory
from tests.helpers import admin_url, inline_management_data

pytestmark = pytest.mark.django_db


def till_data(*methods_and_amounts, **fields):
    """What the till posts: one payment row per method (an amount, or the rest), and ``fields``."""
    rows = [item if isinstance(item, tuple) else (item, "") for item in methods_and_amounts]
    data = {"payment-TOTAL_FORMS": str(len(rows)), "payment-INITIAL_FORMS": "0", **fields}
    for index, (method, amount) in enumerate(rows):
        data.update({f"payment-{index}-method": method, f"payment-{index}-amount": amount})
    return data


D = Decimal


def cart_form(browser, cart=None, **fields):
    url = admin_url(Cart, "change", cart.pk) if cart else admin_url(Cart, "add")
    data = inline_management_data(browser.get(url))
    data.update({"client": "", "booking": "", "notes": "", **fields})
    return url, data


def test_staff_cannot_complete_a_cart_by_editing_its_status(staff_browser):
    cart = CartFactory()
    url, data = cart_form(staff_browser, cart, client=cart.client_id, status="COMPLETED")
    response = staff_browser.post(url, data)
    assert response.status_code == 302
    cart.refresh_from_db()
    assert cart.status == CartStatus.OPEN and cart.completed_at is None
    assert not Invoice.objects.exists()


def test_a_draft_cart_is_priced_from_the_catalogue_and_checked_out_in_the_admin(staff_browser, staff_user):
    service = ServiceFactory(price=D("45.00"))
    url, data = cart_form(staff_browser)
    data.update({"items-TOTAL_FORMS": "1", "items-0-service": service.pk, "items-0-quantity": "2",
                 "items-0-unit_price": "0.01"})  # fmt: skip
    response = staff_browser.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    cart = Cart.objects.get()
    assert cart.created_by == staff_user and cart.total == D("90.00")
    assert cart.items.get().unit_price == D("45.00")

    page = staff_browser.get(admin_url(Cart, "change", cart.pk))
    assert b'id="check-out"' in page.content
    done = staff_browser.post(f"/admin/sales/cart/{cart.pk}/checkout/", till_data("CARD"))
    assert done.status_code == 302
    cart.refresh_from_db()
    assert cart.status == CartStatus.COMPLETED
    assert list(cart.payments.values_list("method", "amount")) == [("CARD", D("90.00"))]
    assert Invoice.objects.get().cart == cart
    assert AuditEntry.objects.filter(action="sales.cart.completed", actor=staff_user).exists()


def test_an_admin_checkout_that_is_refused_says_why_and_keeps_the_draft(staff_browser):
    cart = CartFactory(client=None)
    CartItem.objects.create(cart=cart, product=ProductFactory(stock=0), name="x", unit_price=D("0"))
    response = staff_browser.post(f"/admin/sales/cart/{cart.pk}/checkout/", till_data("CASH"), follow=True)
    assert "Only 0 of" in response.content.decode()
    cart.refresh_from_db()
    assert cart.status == CartStatus.OPEN and not Invoice.objects.exists()


def test_a_completed_sale_is_read_only_in_the_admin(manager_browser):
    cart = cart_checkout(lines=[LineRequest(service=ServiceFactory())], payments=[PaymentRequest("CASH", D("30"))]).cart
    page = manager_browser.get(admin_url(Cart, "change", cart.pk))
    assert page.status_code == 200 and b'id="check-out"' not in page.content
    url, data = cart_form(manager_browser, cart, notes="changed")
    assert manager_browser.post(url, data).status_code == 403
    again = manager_browser.post(f"/admin/sales/cart/{cart.pk}/checkout/", till_data("CASH"), follow=True)
    assert "only an open sale" in again.content.decode()


def test_staff_cannot_add_sale_lines_or_payments_by_hand(staff_browser):
    assert staff_browser.get(admin_url(CartItem, "add")).status_code == 403
    assert staff_browser.get("/admin/sales/payment/add/").status_code == 403


def test_staff_record_a_debt_payment_through_the_form_and_it_is_capped(staff_browser):
    debt = cart_checkout(
        lines=[LineRequest(service=ServiceFactory(price=D("40.00")))], payments=[], client=ClientFactory(),
        on_credit=True,
    ).debt  # fmt: skip
    page = staff_browser.get(admin_url(Debt, "change", debt.pk))
    assert b'id="record-payment"' in page.content
    staff_browser.post(f"/admin/sales/debt/{debt.pk}/pay/", {"amount": "15.00", "method": "CASH"})
    debt.refresh_from_db()
    assert (debt.remaining, debt.status) == (D("25.00"), DebtStatus.PARTIAL)
    staff_browser.post(f"/admin/sales/debt/{debt.pk}/pay/", {"amount": "100.00", "method": "CARD"})
    debt.refresh_from_db()
    assert (debt.remaining, debt.status) == (D("0.00"), DebtStatus.PAID)
    assert list(debt.payments.values_list("amount", flat=True)) == [D("15.00"), D("25.00")]


def test_a_gift_card_issued_in_the_admin_gets_a_code_and_its_ledger_row(manager_browser):
    response = manager_browser.post(
        admin_url(GiftCard, "add"),
        {**inline_management_data(manager_browser.get(admin_url(GiftCard, "add"))), "code": "",
         "initial_balance": "60.00", "expires_on": "", "owner": "", "status": "ACTIVE", "reason": "Raffle prize"},
    )  # fmt: skip
    assert response.status_code == 302
    card = GiftCard.objects.get()
    assert card.code.startswith("GC-") and card.current_balance == D("60.00")
    assert list(card.movements.values_list("kind", "amount")) == [(GiftCardMovementKind.ISSUE, D("60.00"))]


# --- Reports --------------------------------------------------------------------------------


def test_the_sales_reports_add_up_in_sql_and_draw_their_charts(admin_browser):
    service = ServiceFactory(name="Facial", price=D("50.00"))
    product = ProductFactory(name="Crema", price=D("20.00"), stock=10)
    cart_checkout(lines=[LineRequest(service=service)], payments=[PaymentRequest("CARD", D("50"))])
    cart_checkout(lines=[LineRequest(product=product, quantity=2)], payments=[PaymentRequest("CASH", D("40"))])
    old = cart_checkout(lines=[LineRequest(service=service)], payments=[PaymentRequest("CASH", D("50"))]).cart
    Cart.objects.filter(pk=old.pk).update(completed_at=timezone.now() - timedelta(days=40))
    CartFactory()  # an open cart counts for nothing

    assert b'id="sales-reports"' in admin_browser.get(admin_url(Cart, "changelist")).content
    response = admin_browser.get("/admin/sales/cart/reports/")
    assert response.status_code == 200
    report = response.context["report"]
    assert (report["revenue"], report["sales"]) == (D("90.00"), 2)
    assert [(r["method"], r["amount"]) for r in report["by_method"]] == [("CARD", D("50.00")), ("CASH", D("40.00"))]
    assert [(r["name_now"], r["quantity"], r["revenue"]) for r in report["top_services"]] == [("Facial", 1, D("50.00"))]
    assert [(r["name_now"], r["quantity"]) for r in report["top_products"]] == [("Crema", 2)]
    assert report["by_day"][-1]["revenue"] == D("90.00") and len(report["by_day"]) == 30
    assert sum(m["revenue"] for m in report["by_month"]) == D("140.00")
    html = response.content.decode()
    assert "sales/vendor/chartjs/chart.umd.min.js" in html and 'id="report-data"' in html


def test_staff_do_not_see_the_sales_reports(staff_browser):
    assert staff_browser.get("/admin/sales/cart/reports/").status_code == 403
    assert b'id="sales-reports"' not in staff_browser.get(admin_url(Cart, "changelist")).content
