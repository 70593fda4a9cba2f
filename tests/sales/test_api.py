"""The REST API of sales: carts (tickets) with their lines and payments, debts and invoices."""

from decimal import Decimal as D

from sales.models import Cart, CartStatus, Debt, Invoice
from tests.factories import (
    CartFactory,
    CartItemFactory,
    ClientFactory,
    CompletedCartFactory,
    DebtFactory,
    DebtPaymentFactory,
    InvoiceFactory,
    PaymentFactory,
)
from tests.helpers import api_as


def test_a_cart_shows_its_lines_and_payments_with_decimal_money(staff_user):
    cart = CompletedCartFactory()
    line = CartItemFactory(cart=cart)
    PaymentFactory(cart=cart)
    body = api_as(staff_user).get(f"/api/sales/carts/{cart.pk}").json()
    assert body["total"] == "12.10"
    assert [(i["id"], i["gross"]) for i in body["items"]] == [(line.pk, "12.10")]
    assert [(p["method"], p["amount"]) for p in body["payments"]] == [("CASH", "12.10")]


def test_staff_open_a_cart_and_the_server_keeps_the_totals(staff_user):
    client = ClientFactory()
    api = api_as(staff_user)
    response = api.post("/api/sales/carts", {"client": client.pk, "total": "999.00", "items": [1]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["total"] == "0.00" and body["items"] == [] and body["created_by"] == staff_user.pk
    assert api.patch(f"/api/sales/carts/{body['id']}", {"notes": "Walk-in"}, format="json").status_code == 200
    assert api.delete(f"/api/sales/carts/{body['id']}").status_code == 403


def test_a_cart_cannot_be_completed_by_editing_its_status(manager_user):
    cart = CartFactory()
    api = api_as(manager_user)
    response = api.patch(f"/api/sales/carts/{cart.pk}", {"status": "COMPLETED"}, format="json")
    cart.refresh_from_db()
    assert response.status_code == 200 and response.json()["status"] == "OPEN"
    assert cart.status == CartStatus.OPEN and cart.completed_at is None
    assert not Invoice.objects.exists()


def test_a_completed_cart_is_frozen_but_for_its_notes(manager_user):
    cart = CompletedCartFactory()
    api = api_as(manager_user)
    assert api.patch(f"/api/sales/carts/{cart.pk}", {"client": ClientFactory().pk}, format="json").status_code == 400
    assert api.patch(f"/api/sales/carts/{cart.pk}", {"notes": "ok"}, format="json").status_code == 200


def test_carts_filter_and_order(staff_user):
    client = ClientFactory()
    mine = CartFactory(client=client)
    CompletedCartFactory()
    api = api_as(staff_user)
    assert [c["id"] for c in api.get(f"/api/sales/carts?client={client.pk}").json()["results"]] == [mine.pk]
    assert api.get("/api/sales/carts?status=COMPLETED").json()["count"] == 1
    totals = [c["total"] for c in api.get("/api/sales/carts?ordering=-total").json()["results"]]
    assert totals == ["12.10", "0.00"]


def test_a_sale_with_an_invoice_cannot_be_deleted(admin_user):
    invoice = InvoiceFactory()
    plain = CartFactory()
    api = api_as(admin_user)
    response = api.delete(f"/api/sales/carts/{invoice.cart_id}")
    assert response.status_code == 409 and response.json()["detail"]
    assert Cart.objects.filter(pk=invoice.cart_id).exists()
    assert api.delete(f"/api/sales/carts/{plain.pk}").status_code == 204


def test_invoices_are_read_only_for_everyone(admin_user, manager_user, staff_user):
    invoice = InvoiceFactory()
    for user in (admin_user, manager_user, staff_user):
        api = api_as(user)
        assert api.get("/api/sales/invoices").json()["results"][0]["number"] == invoice.number
        assert api.get(f"/api/sales/invoices/{invoice.pk}").json()["hash"] == invoice.hash
    api = api_as(admin_user)
    assert api.post("/api/sales/invoices", {"number": "X"}, format="json").status_code == 405
    assert api.patch(f"/api/sales/invoices/{invoice.pk}", {"total": "0"}, format="json").status_code == 405
    assert api.put(f"/api/sales/invoices/{invoice.pk}", {"total": "0"}, format="json").status_code == 405
    assert api.delete(f"/api/sales/invoices/{invoice.pk}").status_code == 405
    invoice.refresh_from_db()
    assert str(invoice.total) == "12.10"


def test_invoices_filter_by_series_and_year(staff_user):
    InvoiceFactory(series="F", year=2025)
    InvoiceFactory(series="R", year=2024, kind="F1")
    api = api_as(staff_user)
    assert api.get("/api/sales/invoices?series=R").json()["count"] == 1
    assert api.get("/api/sales/invoices?year=2025").json()["count"] == 1


def test_a_debt_changes_only_through_payments(manager_user, staff_user):
    debt_id = DebtFactory(amount=D("40.00"), remaining=D("40.00")).pk
    assert api_as(staff_user).patch(f"/api/sales/debts/{debt_id}", {"notes": "x"}, format="json").status_code == 403
    api = api_as(manager_user)
    forged = api.patch(
        f"/api/sales/debts/{debt_id}", {"amount": "99", "status": "PAID", "remaining": "0"}, format="json"
    )
    assert forged.status_code == 200 and forged.json()["status"] == "PENDING"
    assert forged.json()["remaining"] == forged.json()["amount"] == "40.00"


def test_a_client_with_a_debt_cannot_be_hard_deleted(admin_user):
    debt = DebtFactory()
    DebtPaymentFactory(debt=debt)
    assert api_as(admin_user).get(f"/api/sales/debts/{debt.pk}").json()["payments"][0]["amount"] == "10.00"
    assert api_as(admin_user).delete(f"/api/clients/{debt.client_id}?hard=1").status_code == 409
    assert api_as(admin_user).delete(f"/api/sales/debts/{debt.pk}").status_code == 405
    assert Debt.objects.exists()


def test_a_new_cart_is_open_whatever_status_is_sent(staff_user):
    response = api_as(staff_user).post("/api/sales/carts", {"status": "COMPLETED"}, format="json")
    assert response.status_code == 201 and response.json()["status"] == CartStatus.OPEN
