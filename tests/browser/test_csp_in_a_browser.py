"""The Content-Security-Policy in a real Chromium: the pages that matter load with no violation
in the console, and still work (styles applied, scripts ran)."""

import pytest
from django.urls import reverse
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from crm.models import Role, User
from tests.browser.support import BROWSER, csp_violations, shot
from tests.factories import BookingFactory, ClientFactory

pytestmark = BROWSER

EMAIL, PASSWORD = "ada@salon.test", "a long admin password"


@pytest.fixture
def signed_in(live_server, browser, transactional_db):
    User.objects.create_user(EMAIL, PASSWORD, name="Ada", role=Role.ADMIN)
    browser.get(f"{live_server.url}/admin/login/")
    assert csp_violations(browser) == []
    browser.find_element(By.NAME, "username").send_keys(EMAIL)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.ID, "site-name")
    return browser


def open_page(browser, url: str, name: str) -> None:
    browser.get_log("browser")  # start from an empty console
    browser.get(url)
    browser.find_element(By.TAG_NAME, "body")
    shot(browser, f"csp-{name}")


def admin_css_applied(browser) -> bool:
    # The admin's stylesheet gives the header its dark background; unstyled it is transparent.
    colour = browser.execute_script("return getComputedStyle(document.getElementById('header')).backgroundColor")
    return colour not in ("rgba(0, 0, 0, 0)", "transparent")


def test_the_admin_index_and_a_changelist_load_without_violations(live_server, signed_in):
    browser = signed_in
    ClientFactory(name="Lucía")
    for name, path in (("index", "/admin/"), ("clients", "/admin/crm/client/"), ("users", "/admin/crm/user/")):
        open_page(browser, f"{live_server.url}{path}", name)
        assert csp_violations(browser) == [], name
        assert admin_css_applied(browser), name
    # The changelist's JavaScript ran: ticking a row highlights it (admin/js/actions.js).
    browser.find_element(By.CSS_SELECTOR, "input.action-select").click()
    assert "selected" in browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr").get_attribute("class")


def test_the_maintenance_dashboard_runs_its_scripts_without_violations(live_server, signed_in):
    browser = signed_in
    open_page(browser, f"{live_server.url}{reverse('admin:maintenance_dashboard')}", "dashboard")
    browser.find_element(By.ID, "maintenance-dashboard")
    assert browser.execute_script("return Chart.getChart('chart-timeline') !== undefined")
    assert csp_violations(browser) == []
    assert admin_css_applied(browser)
    # The archive's confirmation, once an inline onsubmit="", still asks (and cancelling keeps
    # the page where it is).
    browser.find_element(By.ID, "start-archive").click()
    alert = browser.switch_to.alert
    assert "retention" in alert.text
    alert.dismiss()
    assert browser.find_element(By.ID, "maintenance-dashboard")


def test_the_bookings_calendar_loads_without_violations(live_server, signed_in):
    browser = signed_in
    BookingFactory()
    open_page(browser, f"{live_server.url}{reverse('admin:bookings_booking_calendar')}", "calendar")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#booking-calendar .ec-resource"))
    assert csp_violations(browser) == []
    assert admin_css_applied(browser)
    # The vendored calendar's stylesheet applied (its grid), and so did the legend's own styles.
    assert (
        browser.find_element(By.CSS_SELECTOR, "#booking-calendar .ec-body").value_of_css_property("display") == "grid"
    )
    swatch = browser.find_element(By.CSS_SELECTOR, ".calendar-legend .swatch")
    assert swatch.value_of_css_property("background-color") not in ("rgba(0, 0, 0, 0)", "transparent")


def test_the_swagger_ui_renders_without_violations(live_server, signed_in):
    browser = signed_in
    open_page(browser, f"{live_server.url}/api/docs", "api-docs")

    # Swagger UI rendered the schema: an operation block for the clients endpoint.
    # Read in one script, and again until the schema's operations are all there: Swagger UI
    # renders the list after the page loads, and may re-render it while it is read.
    def rendered_paths(driver):
        return driver.execute_script(
            "return [...document.querySelectorAll('.opblock-summary-path')].map(e => e.getAttribute('data-path'))"
        )

    # The schema Swagger UI reads answers in this session (a failure here names its status,
    # rather than leaving the wait below to time out on an empty page).
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/schema', {headers: {Accept: 'application/vnd.oai.openapi+json'}})"
        ".then(r => done(r.status), e => done(String(e)));"
    )
    assert status == 200, status

    def explain(driver) -> str:
        text = driver.execute_script("return document.body.innerText.slice(0, 500)")
        return f"no /api/auth/token rendered; the page says {text!r}; console: {driver.get_log('browser')}"

    try:
        WebDriverWait(browser, 60).until(lambda driver: "/api/auth/token" in rendered_paths(driver))
    except TimeoutException:
        shot(browser, "csp-api-docs-timeout")
        raise AssertionError(explain(browser)) from None
    paths = rendered_paths(browser)
    assert "/api/auth/token" in paths and len(paths) > 5, paths[:5]
    assert csp_violations(browser) == []
