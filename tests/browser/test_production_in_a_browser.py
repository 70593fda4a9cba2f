"""The admin behind real gunicorn with DEBUG off, in a real headless Chromium: the page's
stylesheets arrive (WhiteNoise, hashed names) and apply, and signing in works."""

import pytest
from selenium.webdriver.common.by import By

from crm.models import Role, User
from tests.browser.support import BROWSER, shot
from tests.production import production_server  # noqa: F401 (a fixture)

pytestmark = [*BROWSER, pytest.mark.slow]

TRANSPARENT = "rgba(0, 0, 0, 0)"


def test_the_admin_is_styled_and_signs_in_behind_gunicorn(production_server, browser, transactional_db, settings):  # noqa: F811
    # The server runs production settings: the password must be hashed the way they verify it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    User.objects.create_user("alba@salon.test", "a long admin password", name="Alba", role=Role.ADMIN)

    browser.get(f"{production_server.url}/admin/login/")
    header = browser.find_element(By.ID, "header")
    assert header.value_of_css_property("background-color") != TRANSPARENT
    assert header.value_of_css_property("display") == "flex"
    stylesheets = [
        link.get_attribute("href") for link in browser.find_elements(By.CSS_SELECTOR, "link[rel=stylesheet]")
    ]
    assert any("/static/admin/css/base." in href and not href.endswith("/base.css") for href in stylesheets)
    shot(browser, "production-login")

    browser.find_element(By.NAME, "username").send_keys("alba@salon.test")
    browser.find_element(By.NAME, "password").send_keys("a long admin password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    assert browser.find_element(By.ID, "beils-dashboard").is_displayed()
    assert browser.find_element(By.ID, "header").value_of_css_property("background-color") != TRANSPARENT
    log = [entry["message"] for entry in browser.get_log("browser")]
    assert not [line for line in log if "/static/" in line and "Failed to load resource" in line]
    shot(browser, "production-dashboard")
