"""The till as a cashier uses it, in Spanish: split a sale over a gift card, cash and card with a
tip, watch what is left to pay, complete it, and fetch the invoice's PDF from its page."""

from decimal import Decimal

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from crm.models import Role, User
from marketing.services import gift_card_issue
from sales.models import Cart, CartItem, CartStatus
from sales.services import cart_reprice
from tests.browser.support import BROWSER, shot, sign_in
from tests.factories import ClientBonusFactory, ClientFactory, ServiceFactory

pytestmark = BROWSER

PASSWORD = "una contraseña larga # con 'comillas'"


def _row(browser, index, method, amount="", code=""):
    Select(browser.find_element(By.NAME, f"payment-{index}-method")).select_by_value(method)
    field = browser.find_element(By.NAME, f"payment-{index}-amount")
    field.clear()
    field.send_keys(amount)
    if code:
        browser.find_element(By.NAME, f"payment-{index}-gift_card_code").send_keys(code)


def test_a_cashier_splits_a_sale_with_a_tip_and_prints_the_invoice(live_server, browser, transactional_db):
    User.objects.create_user("sara@salon.test", PASSWORD, name="Sara", role=Role.STAFF, language="es")
    client = ClientFactory(name="Zoë", surname="Peña", email="zoe@example.com")
    ClientBonusFactory(client=client, name="Bono 5 masajes", expires_on="2020-01-31")
    card = gift_card_issue(amount=Decimal("20.00"))
    service = ServiceFactory(name="Tinte y corte", price=Decimal("60.00"))
    cart = Cart.objects.create(client=client)
    CartItem.objects.create(cart=cart, service=service, name=service.name, unit_price=service.price)
    cart_reprice(cart=cart)

    sign_in(browser, live_server, "sara@salon.test", PASSWORD)
    browser.get(f"{live_server.url}/admin/sales/cart/{cart.pk}/change/")
    browser.find_element(By.ID, "check-out").click()

    left = browser.find_element(By.ID, "till-left")
    assert browser.find_element(By.ID, "till-total").text.replace("\xa0", " ") == "60,00 €"
    assert "Bono 5 masajes" in browser.find_element(By.ID, "till-bonos").text  # expired, and said so
    _row(browser, 0, "GIFT_CARD", "20", card.code)
    _row(browser, 1, "CASH", "15")
    browser.find_element(By.NAME, "tip").send_keys("5")
    assert left.text.replace("\xa0", " ") == "30,00 €"  # 60 + 5 of tip - 35 entered
    _row(browser, 2, "CARD")  # no amount: it pays the rest
    assert left.text.replace("\xa0", " ") == "0,00 €"
    shot(browser, "till-split-payment")
    browser.find_element(By.ID, "till-submit").click()

    pdf_link = browser.find_element(By.ID, "invoice-pdf")  # the new invoice's page
    shot(browser, "till-invoice")
    cart.refresh_from_db()
    assert cart.status == CartStatus.COMPLETED and cart.tip == Decimal("5.00")
    assert sorted(cart.payments.values_list("method", "amount")) == [
        ("CARD", Decimal("30.00")), ("CASH", Decimal("15.00")), ("GIFT_CARD", Decimal("20.00"))
    ]  # fmt: skip
    fetched = browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then(r => r.arrayBuffer().then(b => done([r.status, r.headers.get("content-type"),
            String.fromCharCode(...new Uint8Array(b.slice(0, 5))), b.byteLength])));""",
        pdf_link.get_attribute("href"),
    )
    assert fetched[:3] == [200, "application/pdf", "%PDF-"] and fetched[3] > 1000
