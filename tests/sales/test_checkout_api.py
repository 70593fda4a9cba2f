"""The checkout and debt-payment endpoints: thin adapters over the sales services."""

from decimal import Decimal

import pytest

from catalog.models import Product
from sales.models import Cart, CartStatus, Debt, DebtStatus, Invoice
from tests.factories import CartFactory, ClientFactory, CouponFactory, ProductFactory, ServiceFactory
from tests.helpers import api_as

pytestmark = pytest.mark.django_db

D = Decimal


def test_staff_check_out_a_sale_and_the_server_sets_the_prices(staff_user):
    product = ProductFactory(price=D("12.10"), stock=3)
    service = ServiceFactory(price=D("30.00"))
    body = {
        "client": ClientFactory().pk,
        "lines": [{"product": product.pk, "quantity": 2, "unit_price": "0.01"}, {"service": service.pk}],
        "payments": [{"method": "CARD", "amount": "50.00"}, {"method": "CASH", "amount": "4.20"}],
    }
    response = api_as(staff_user).post("/api/sales/carts/checkout", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "COMPLETED" and data["total"] == "54.20" and data["created_by"] == staff_user.pk
    assert [i["gross"] for i in data["items"]] == ["24.20", "30.00"]
    assert data["invoice"] == Invoice.objects.get().number and data["debt"] is None
    assert Product.objects.get().stock == 1


def test_a_refused_checkout_is_a_400_with_the_reason_and_writes_nothing(staff_user):
    CouponFactory(code="GONE", max_uses=1, uses=1)
    body = {"lines": [{"service": ServiceFactory().pk}], "payments": [{"method": "CASH", "amount": "27.00"}],
            "coupon": "gone"}  # fmt: skip
    response = api_as(staff_user).post("/api/sales/carts/checkout", body, format="json")
    assert response.status_code == 400
    assert "maximum of 1" in response.json()["detail"]
    assert not Cart.objects.exists()


def test_a_checkout_line_names_exactly_one_thing(staff_user):
    body = {"lines": [{"service": ServiceFactory().pk, "product": ProductFactory().pk}], "payments": []}
    response = api_as(staff_user).post("/api/sales/carts/checkout", body, format="json")
    assert response.status_code == 400 and "lines" in response.json()


def test_payments_that_do_not_add_up_are_refused(staff_user):
    body = {"lines": [{"service": ServiceFactory().pk}], "payments": [{"method": "CASH", "amount": "1.00"}]}
    response = api_as(staff_user).post("/api/sales/carts/checkout", body, format="json")
    assert response.status_code == 400 and "not the total" in response.json()["detail"]


def test_an_open_cart_is_checked_out_and_can_no_longer_be_cancelled(staff_user):
    cart = CartFactory()
    body = {
        "cart": cart.pk,
        "lines": [{"service": ServiceFactory().pk}],
        "payments": [{"method": "CASH", "amount": "30"}],
    }
    api = api_as(staff_user)
    assert api.post("/api/sales/carts/checkout", body, format="json").status_code == 201
    assert api.post(f"/api/sales/carts/{cart.pk}/cancel").status_code == 400
    other = CartFactory()
    assert api.post(f"/api/sales/carts/{other.pk}/cancel").json()["status"] == CartStatus.CANCELLED


def test_a_sale_on_credit_and_its_debt_paid_in_two_goes(staff_user):
    client = ClientFactory()
    body = {"client": client.pk, "lines": [{"service": ServiceFactory(price=D("80.00")).pk}],
            "payments": [{"method": "CASH", "amount": "20.00"}], "on_credit": True, "due_date": "2030-01-31"}  # fmt: skip
    api = api_as(staff_user)
    response = api.post("/api/sales/carts/checkout", body, format="json")
    assert response.status_code == 201, response.json()
    debt_id = response.json()["debt"]
    first = api.post(f"/api/sales/debts/{debt_id}/pay", {"amount": "50.00", "method": "CARD"}, format="json")
    assert first.status_code == 201 and first.json()["amount"] == "50.00"
    assert Debt.objects.get().status == DebtStatus.PARTIAL
    last = api.post(f"/api/sales/debts/{debt_id}/pay", {"amount": "99.00", "method": "BIZUM"}, format="json")
    assert last.status_code == 201 and last.json()["amount"] == "10.00"
    debt = Debt.objects.get()
    assert (debt.remaining, debt.status, str(debt.due_date)) == (D("0.00"), DebtStatus.PAID, "2030-01-31")
    again = api.post(f"/api/sales/debts/{debt_id}/pay", {"amount": "1.00", "method": "CASH"}, format="json")
    assert again.status_code == 400 and "already paid" in again.json()["detail"]


def test_a_debt_is_not_paid_with_a_gift_card(staff_user):
    debt = Debt.objects.create(client=ClientFactory(), amount=D("10"), remaining=D("10"))
    response = api_as(staff_user).post(f"/api/sales/debts/{debt.pk}/pay", {"amount": "5", "method": "GIFT_CARD"})
    assert response.status_code == 400


def test_only_the_admin_role_rectifies_an_invoice_through_the_api(admin_user, manager_user):
    body = {"lines": [{"service": ServiceFactory().pk}], "payments": [{"method": "CASH", "amount": "30.00"}]}
    api_as(admin_user).post("/api/sales/carts/checkout", body, format="json")
    invoice = Invoice.objects.get()
    url = f"/api/sales/invoices/{invoice.pk}/rectify"
    assert api_as(manager_user).post(url, {"reason": "Wrong"}, format="json").status_code == 403
    response = api_as(admin_user).post(url, {"reason": "Wrong price"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "R" and response.json()["total"] == "-30.00"
    assert response.json()["rectifies"] == invoice.pk and response.json()["reason"] == "Wrong price"
    assert api_as(admin_user).post(url, {"reason": "Again"}, format="json").status_code == 400
