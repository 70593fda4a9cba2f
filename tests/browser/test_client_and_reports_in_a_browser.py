"""Two screens a manager reads every day, in Spanish in a real browser: a client's whole story
(allergies flagged first, what they owe, their bonos) and the sales reports for a chosen period,
with each table downloadable."""

import time
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

from crm.models import Role, User
from sales.services import LineRequest, PaymentRequest, cart_checkout
from tests.browser.support import BROWSER, shot, sign_in
from tests.factories import ClientBonusFactory, ClientFactory, DebtFactory, QuestionnaireFactory, ServiceFactory

pytestmark = BROWSER

PASSWORD = "una contraseña larga # y 'rara'"


def test_a_manager_reads_a_client_s_story_and_the_month_s_reports(live_server, browser, transactional_db):
    User.objects.create_user("marta@salon.test", PASSWORD, name="Marta", role=Role.MANAGER, language="es")
    client = ClientFactory(name="Begoña", surname="Íñiguez")
    QuestionnaireFactory(client=client, answers={"¿Alergias?": "látex", "Embarazo": "no"})
    ClientBonusFactory(client=client, name="Bono 10 manicuras", sessions_total=10, sessions_remaining=4)
    DebtFactory(client=client, amount=Decimal("40.00"), remaining=Decimal("25.50"))
    service = ServiceFactory(name="Manicura semipermanente", price=Decimal("19.90"))
    for _ in range(3):
        cart_checkout(lines=[LineRequest(service=service)], payments=[PaymentRequest("CARD", None)], client=client)

    sign_in(browser, live_server, "marta@salon.test", PASSWORD)
    browser.get(f"{live_server.url}/admin/crm/client/{client.pk}/change/")
    alert = browser.find_element(By.CSS_SELECTOR, ".client-alert[role=alert]")
    assert "látex" in alert.text and "Alergias" in alert.text
    story = browser.find_element(By.CSS_SELECTOR, ".client-story").text.replace("\xa0", " ")
    assert "59,70 €" in story  # three sales of 19,90 €
    assert "25,50 €" in story  # what she still owes
    assert "Bono 10 manicuras" in story
    shot(browser, "client-story")

    today = timezone.localdate()
    browser.get(f"{live_server.url}/admin/sales/cart/reports/")
    start = browser.find_element(By.NAME, "start")
    browser.execute_script("arguments[0].value = arguments[1]", start, (today - timedelta(days=6)).isoformat())
    browser.find_element(By.CSS_SELECTOR, "#report-period input[type=submit]").click()
    WebDriverWait(browser, 15).until(until.staleness_of(start))  # the period's page, not the old one
    revenue = browser.find_element(By.ID, "report-revenue").text.replace("\xa0", " ")
    assert revenue == "59,70 €"
    assert "Manicura semipermanente" in browser.find_element(By.ID, "report-services").text
    time.sleep(1.5)  # the charts' drawing animation, for the screenshot
    shot(browser, "reports-period")
    link = browser.find_element(By.CSS_SELECTOR, "a[href*='export=services']").get_attribute("href")
    fetched = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.text().then(t => done([r.status, r.headers.get('content-type'), t])));",
        link,
    )
    assert fetched[0] == 200 and fetched[1].startswith("text/csv") and "Manicura semipermanente" in fetched[2]
