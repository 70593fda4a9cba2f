"""The admin's "Clients due to be forgotten": MANAGER and ADMIN review it, only ADMIN forgets, after a
confirmation page that says who and why; STAFF, a switched-off account and strangers are refused."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEntry
from crm.erasure import ERASED_ACTION
from crm.models import Client
from maintenance.models import ForgettableClient, RetentionPolicy
from tests import factories as f
from tests.helpers import admin_url
from tests.maintenance.forget_support import switch_on

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - timedelta(days=7 * 365)
CHANGELIST = "admin:maintenance_forgettableclient_changelist"


@pytest.fixture
def policy_on():
    switch_on(5 * 365)


@pytest.fixture
def due(policy_on):
    """Dolores bought once, six years ago; nothing since."""
    client = f.ClientFactory(name="Dolores", surname="<b>Ruiz</b>", created_at=LONG_AGO)
    sold = timezone.now() - timedelta(days=6 * 365)
    f.CompletedCartFactory(client=client, completed_at=sold, created_at=sold)
    return client


def url() -> str:
    return admin_url(ForgettableClient, "changelist")


def forget(browser, client, **extra):
    return browser.post(url(), {"action": "forget_selected", "_selected_action": [client.pk], **extra})


@pytest.mark.parametrize("who, status", [("admin", 200), ("manager", 200), ("staff", 403), ("outsider", 302)])
def test_each_role_gets_the_review_list_status(request, due, who, status):
    browser = Browser()
    browser.force_login(request.getfixturevalue(f"{who}_user" if who != "outsider" else "outsider"))
    assert browser.get(url()).status_code == status


def test_strangers_are_sent_to_the_login_page(due, anonymous_browser):
    assert anonymous_browser.get(url()).status_code == 302


def test_the_list_shows_who_is_due_and_why_escaped(due, manager_browser):
    active = f.ClientFactory(name="Activa", created_at=LONG_AGO)
    f.BookingFactory(client=active)
    page = manager_browser.get(url())
    assert list(page.context["cl"].result_list) == [due]
    text = page.content.decode()
    assert "Dolores" in text and "&lt;b&gt;Ruiz&lt;/b&gt;" in text and "<b>Ruiz</b>" not in text
    assert "purchase" in text and "Activa" not in text


def test_with_the_policy_off_the_list_is_empty_and_says_how_to_switch_it_on(admin_browser):
    f.ClientFactory(created_at=LONG_AGO)
    page = admin_browser.get(url(), follow=True)
    assert list(page.context["cl"].result_list) == []
    assert "switched off" in page.content.decode()


def test_the_list_costs_the_same_queries_for_one_client_or_many(due, admin_browser):
    admin_browser.get(url())  # warm the session and content types
    with CaptureQueriesContext(connection) as one:
        admin_browser.get(url())
    for _ in range(10):
        f.ClientFactory(created_at=LONG_AGO)
    with CaptureQueriesContext(connection) as eleven:
        page = admin_browser.get(url())
    assert len(page.context["cl"].result_list) == 11
    assert len(eleven.captured_queries) == len(one.captured_queries) <= 12


def test_managers_do_not_see_the_forget_action_and_cannot_run_it(due, manager_browser):
    page = manager_browser.get(url())
    form = page.context["action_form"]  # no action left for a manager: no action form at all
    assert form is None or "forget_selected" not in dict(form.fields["action"].choices)
    forget(manager_browser, due, confirm="yes")
    assert Client.all_objects.get(pk=due.pk).erased_at is None


def test_the_admin_confirms_on_a_page_listing_who_and_why_then_forgets(due, admin_browser, admin_user):
    page = forget(admin_browser, due)
    assert page.status_code == 200 and Client.all_objects.get(pk=due.pk).erased_at is None
    text = page.content.decode()
    assert f"#{due.pk}" in text and "Dolores" in text and "purchase" in text and "&lt;b&gt;" in text
    done = forget(admin_browser, due, confirm="yes")
    assert done.status_code == 302
    assert Client.all_objects.get(pk=due.pk).erased_at is not None
    assert AuditEntry.objects.get(action=ERASED_ACTION).actor == admin_user
    assert AuditEntry.objects.get(action="maintenance.forget.done").detail["forgotten"] == [due.pk]


def test_a_client_who_became_active_after_the_confirmation_page_is_left_alone(due, admin_browser):
    forget(admin_browser, due)
    f.BookingFactory(client=due)
    page = forget(admin_browser, due, confirm="yes")
    assert page.status_code == 302
    assert Client.all_objects.get(pk=due.pk).erased_at is None
    assert not AuditEntry.objects.filter(action=ERASED_ACTION).exists()


def test_posting_a_client_who_is_not_due_or_nonsense_erases_nothing_and_is_no_500(due, admin_browser):
    busy = f.ClientFactory(created_at=LONG_AGO)
    f.BookingFactory(client=busy)
    for selected in ([busy.pk], ["abc"], ["999999"], ["-1"]):
        response = admin_browser.post(
            url(), {"action": "forget_selected", "_selected_action": selected, "confirm": "yes"}
        )
        assert response.status_code in (200, 302)
    assert not Client.all_objects.exclude(erased_at=None).exists()
    assert not AuditEntry.objects.filter(action=ERASED_ACTION).exists()


def test_the_admin_can_switch_the_policy_on_and_change_its_days(admin_browser):
    policy = switch_on(None, enabled=False)
    page = admin_browser.get(admin_url(RetentionPolicy, "change", policy.pk))
    assert page.status_code == 200
    data = {"name": policy.name, "after_days": "2190", "purge_after_days": "", "enabled": "on", "notes": policy.notes}
    assert admin_browser.post(admin_url(RetentionPolicy, "change", policy.pk), data).status_code == 302
    policy.refresh_from_db()
    assert (policy.enabled, policy.after_days) == (True, 2190)
    entry = AuditEntry.objects.get(action="maintenance.retention_policy.changed")
    assert entry.detail == {"code": "clients-forget", "changed": {"enabled": [False, True], "after_days": [None, 2190]}}


def test_switching_the_policy_on_from_the_list_is_audited_and_a_manager_cannot(admin_browser, manager_browser):
    policy = switch_on(None, enabled=False)
    data = {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(policy.pk), "form-0-enabled": "on",
        "_save": "Save",
    }  # fmt: skip
    manager_browser.post(admin_url(RetentionPolicy, "changelist"), data)
    policy.refresh_from_db()
    assert policy.enabled is False
    assert admin_browser.post(admin_url(RetentionPolicy, "changelist"), data).status_code == 302
    policy.refresh_from_db()
    assert policy.enabled is True
    assert AuditEntry.objects.get(action="maintenance.retention_policy.changed").actor is not None


def test_more_clients_than_one_request_can_erase_are_refused_with_the_command_named(due, admin_browser, monkeypatch):
    from maintenance import forget_admin

    monkeypatch.setattr(forget_admin, "ADMIN_BATCH", 1)
    other = f.ClientFactory(name="Remedios", created_at=LONG_AGO)

    page = admin_browser.post(
        url(), {"action": "forget_selected", "_selected_action": [due.pk, other.pk], "confirm": "yes"}, follow=True
    )
    across = admin_browser.post(
        url(), {"action": "forget_selected", "_selected_action": [due.pk], "select_across": "1", "confirm": "yes"},
        follow=True,
    )  # fmt: skip

    assert "forget_clients" in page.content.decode() and "forget_clients" in across.content.decode()
    assert not Client.all_objects.filter(erased_at__isnull=False).exists()
