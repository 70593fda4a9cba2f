"""The day's work at a 1280-pixel screen: the owner finds the salon's sections in order on the
index and in the sidebar, no page of the day (the index, the biggest lists, the maintenance
dashboard) scrolls sideways, and the header's switcher turns the admin Spanish and back."""

import pytest
from django.urls import reverse
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from crm.models import Role, User
from demo.services import demo_data_seed
from tests.beils.test_navigation import HEADINGS, HEADINGS_ES
from tests.browser.support import BROWSER, shot

pytestmark = BROWSER

WIDTH, HEIGHT = 1280, 900
PAGES = {
    "index": "admin:index",
    "clients": "admin:crm_client_changelist",
    "sales": "admin:sales_cart_changelist",
    "bookings": "admin:bookings_booking_changelist",
    "maintenance-dashboard": "admin:maintenance_dashboard",
}


@pytest.fixture
def owner(live_server, browser, transactional_db):
    demo_data_seed(clients=25, random_seed=18)
    User.objects.create_user("nerea@salon.test", "the owner's long password", name="Nerea", role=Role.ADMIN)
    browser.set_window_size(WIDTH, HEIGHT)
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("nerea@salon.test")
    browser.find_element(By.NAME, "password").send_keys("the owner's long password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.ID, "beils-dashboard")  # waits for the page after login
    return browser


def section_headings(browser, where: str) -> list[str]:
    """The headings as written (the admin's style shows them in capitals)."""
    captions = browser.find_elements(By.CSS_SELECTOR, f"{where} .module caption .section")
    return [caption.get_attribute("textContent").strip() for caption in captions]


def test_the_owner_finds_the_sections_in_order(live_server, owner):
    assert section_headings(owner, "#content-main") == HEADINGS
    assert owner.find_element(By.ID, "link-calendar").is_displayed()
    owner.find_element(By.CSS_SELECTOR, "#section-clients #crm-client a").click()
    # The sidebar of every list shows the same sections.
    owner.find_element(By.ID, "nav-sidebar")
    assert section_headings(owner, "#nav-sidebar") == HEADINGS
    shot(owner, "navigation-clients-with-sidebar")


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("name", PAGES)
def test_no_page_of_the_day_scrolls_sideways_at_1280_pixels(live_server, owner, name, language):
    User.objects.filter(email="nerea@salon.test").update(language=language)
    owner.get(f"{live_server.url}{reverse(PAGES[name])}")
    WebDriverWait(owner, 10).until(lambda b: b.execute_script("return document.readyState") == "complete")
    assert owner.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
    assert owner.execute_script("return window.innerWidth") == WIDTH
    page_width = owner.execute_script("return document.documentElement.scrollWidth")
    # A list wider than its box scrolls inside it, hiding its last columns: as bad as the page.
    list_overflow = owner.execute_script(
        "const r = document.querySelector('#changelist .results');return r ? r.scrollWidth - r.clientWidth : 0"
    )
    shot(owner, f"navigation-1280-{name}-{language}")
    assert page_width <= WIDTH, f"{name} is {page_width} px wide"
    assert list_overflow <= 0, f"{name}'s list is {list_overflow} px wider than its box"


def test_the_switcher_turns_the_admin_spanish_and_back(live_server, owner):
    assert owner.find_element(By.TAG_NAME, "html").get_attribute("lang").startswith("en")
    owner.find_element(By.CSS_SELECTOR, "#language-switcher button[value=es]").click()
    WebDriverWait(owner, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda b: b.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    )  # the page reloads while it is read
    assert section_headings(owner, "#content-main") == HEADINGS_ES
    assert "Hoy en el salón" in owner.find_element(By.ID, "content").text
    switcher = owner.find_element(By.ID, "language-switcher").text
    assert "Español" in switcher and "English" in switcher  # each language in its own name
    shot(owner, "navigation-index-in-spanish")

    owner.find_element(By.CSS_SELECTOR, "#language-switcher button[value=en]").click()
    WebDriverWait(owner, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda b: b.find_element(By.TAG_NAME, "html").get_attribute("lang").startswith("en")
    )
    assert section_headings(owner, "#content-main") == HEADINGS
    assert "Today at the salon" in owner.find_element(By.ID, "content").text
    shot(owner, "navigation-index-in-english")
