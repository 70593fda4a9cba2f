"""The admin as a person uses it: a real headless Chromium against a live server."""

from selenium.webdriver.common.by import By

from crm.models import Role, User
from demo.services import demo_data_seed
from tests.browser.support import BROWSER, shot

pytestmark = BROWSER


def test_a_manager_logs_in_and_browses_the_salon(live_server, browser, transactional_db):
    demo_data_seed(clients=25, random_seed=5)
    User.objects.create_user("marta@salon.test", "a long manager password", name="Marta", role=Role.MANAGER)

    browser.get(f"{live_server.url}/admin/")
    browser.find_element(By.NAME, "username").send_keys("marta@salon.test")
    browser.find_element(By.NAME, "password").send_keys("a long manager password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    dashboard = browser.find_element(By.ID, "beils-dashboard")  # waits for the page after login
    assert dashboard.is_displayed()
    assert "Today at the salon" in browser.page_source
    for card in ("card-bookings", "card-revenue", "card-debts", "card-stock", "card-jobs"):
        assert browser.find_element(By.ID, card).is_displayed()
    shot(browser, "dashboard")

    browser.get(f"{live_server.url}/admin/crm/client/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) > 0
    shot(browser, "clients")

    browser.get(f"{live_server.url}/admin/sales/cart/")
    assert browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr th a").click()
    assert browser.find_element(By.ID, "items-group").is_displayed()
    assert browser.find_element(By.ID, "payments-group").is_displayed()
    shot(browser, "sale")


def test_a_deactivated_user_cannot_log_in(live_server, browser, transactional_db):
    user = User.objects.create_user("gone@salon.test", "a long staff password", name="Gone", role=Role.STAFF)
    user.deactivate()

    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("gone@salon.test")
    browser.find_element(By.NAME, "password").send_keys("a long staff password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    assert "Please enter the correct email" in browser.find_element(By.CLASS_NAME, "errornote").text
