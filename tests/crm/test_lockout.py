"""Login throttling: five wrong passwords lock an e-mail on one address, and the trail says so."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client as Browser
from django.urls import reverse

from audit.models import AuditEntry, Outcome
from tests.factories import PASSWORD
from tests.helpers import admin_url, api_as

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
HOME = "203.0.113.7"
ELSEWHERE = "198.51.100.9"


def attempt(email, password, ip=HOME):
    browser = Browser(REMOTE_ADDR=ip)
    response = browser.post(LOGIN, {"username": email, "password": password, "next": "/admin/"})
    return browser, response


def logged_in(browser) -> bool:
    return SESSION_KEY in browser.session


def fail_five_times(email, ip=HOME):
    for _ in range(5):
        _, response = attempt(email, "wrong-password", ip)
        assert response.status_code in (200, 429)


def test_a_right_password_logs_in(staff_user):
    browser, response = attempt(staff_user.email, PASSWORD)
    assert response.status_code == 302
    assert logged_in(browser)


def test_four_wrong_passwords_do_not_lock_the_account(staff_user):
    for _ in range(4):
        _, response = attempt(staff_user.email, "wrong-password")
        assert response.status_code == 200
    browser, response = attempt(staff_user.email, PASSWORD)
    assert response.status_code == 302
    assert logged_in(browser)


def test_five_wrong_passwords_lock_out_even_the_right_one(staff_user):
    fail_five_times(staff_user.email)
    browser, response = attempt(staff_user.email, PASSWORD)
    assert response.status_code == 429
    assert not logged_in(browser)
    page = response.content.decode()
    assert "Too many failed logins" in page
    assert "locked on this device after 5 wrong passwords" in page
    assert "0:30:00" in page


def test_the_lockout_is_audited_with_the_email_and_address(staff_user):
    fail_five_times(staff_user.email)
    attempt(staff_user.email, PASSWORD)
    entries = AuditEntry.objects.filter(action="crm.login.locked_out")
    # The fifth failure locks; the sixth attempt is refused during the cool-off.
    assert entries.count() == 2
    entry = entries.first()
    assert entry.actor is None
    assert entry.actor_label == staff_user.email
    assert entry.ip_address == HOME
    assert entry.outcome == Outcome.FAILURE


def test_the_same_person_from_another_address_is_not_affected(staff_user):
    fail_five_times(staff_user.email)
    browser, response = attempt(staff_user.email, PASSWORD, ip=ELSEWHERE)
    assert response.status_code == 302
    assert logged_in(browser)


def test_another_person_from_the_same_address_is_not_affected(staff_user, manager_user):
    fail_five_times(staff_user.email)
    browser, response = attempt(manager_user.email, PASSWORD)
    assert response.status_code == 302
    assert logged_in(browser)


def test_failed_attempts_are_listed_in_the_admin(staff_user, admin_browser):
    fail_five_times(staff_user.email)
    attempts = admin_browser.get(admin_url(AccessAttempt, "changelist"))
    failures = admin_browser.get(admin_url(AccessFailureLog, "changelist"))
    assert attempts.status_code == failures.status_code == 200
    [row] = attempts.context["cl"].result_list
    assert (row.username, row.ip_address, row.failures_since_start) == (staff_user.email, HOME, 5)
    assert failures.context["cl"].result_count == 5


def test_an_admin_unlocks_by_deleting_the_attempt_in_the_admin(staff_user, admin_browser):
    fail_five_times(staff_user.email)
    locked = AccessAttempt.objects.get(username=staff_user.email)
    response = admin_browser.post(admin_url(AccessAttempt, "delete", locked.pk), {"post": "yes"})
    assert response.status_code == 302
    browser, response = attempt(staff_user.email, PASSWORD)
    assert response.status_code == 302
    assert logged_in(browser)


def test_an_operator_unlocks_with_the_axes_reset_command(staff_user):
    fail_five_times(staff_user.email)
    call_command("axes_reset_username", staff_user.email)
    browser, response = attempt(staff_user.email, PASSWORD)
    assert response.status_code == 302
    assert logged_in(browser)


def test_a_lockout_does_not_revoke_the_persons_api_token(staff_user):
    fail_five_times(staff_user.email)
    _, response = attempt(staff_user.email, PASSWORD)
    assert response.status_code == 429
    assert api_as(staff_user).get("/api/clients").status_code == 200


def test_session_authentication_of_the_api_still_works(staff_browser):
    assert staff_browser.get("/api/clients").status_code == 200


PROXY = "127.0.0.1"  # nginx on the same machine: every request reaches Django from here


def attempt_through_proxy(email, password, client_ip):
    browser = Browser(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=client_ip)
    response = browser.post(LOGIN, {"username": email, "password": password, "next": "/admin/"})
    return browser, response


@pytest.fixture
def behind_one_proxy(settings):
    """AXES_PROXY_COUNT=1, as docs/deploy.md sets it behind nginx."""
    settings.TRUSTED_PROXY_COUNT = 1


def test_behind_the_proxy_an_attacker_cannot_lock_a_colleague_out(staff_user, behind_one_proxy):
    """Every request comes from nginx's address: the lockout must key on the address nginx
    forwards, or five wrong passwords from anywhere would lock the person out everywhere."""
    for _ in range(5):
        attempt_through_proxy(staff_user.email, "wrong-password", ELSEWHERE)
    assert not logged_in(attempt_through_proxy(staff_user.email, PASSWORD, ELSEWHERE)[0])

    browser, response = attempt_through_proxy(staff_user.email, PASSWORD, HOME)
    assert response.status_code == 302 and logged_in(browser)


def test_without_a_declared_proxy_a_forged_forwarded_address_changes_nothing(staff_user):
    for n in range(5):
        attempt_through_proxy(staff_user.email, "wrong-password", f"192.0.2.{n + 1}")
    assert not logged_in(attempt_through_proxy(staff_user.email, PASSWORD, "192.0.2.99")[0])


def test_behind_the_proxy_a_forged_forwarded_address_changes_nothing(staff_user, behind_one_proxy):
    """nginx appends the real address to whatever X-Forwarded-For the client sent."""
    for n in range(5):
        attempt_through_proxy(staff_user.email, "wrong-password", f"192.0.2.{n + 1}, {ELSEWHERE}")
    assert not logged_in(attempt_through_proxy(staff_user.email, PASSWORD, f"192.0.2.99, {ELSEWHERE}")[0])
    entry = AuditEntry.objects.filter(action="crm.login.locked_out").latest("pk")
    assert entry.ip_address == ELSEWHERE
