"""Never lose the last active ADMIN: every path that changes staff accounts refuses a change that
would leave nobody able to manage users, with one message, and writes nothing."""

import io
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from beils.lib.formats import CSV
from beils.lib.models import Status
from crm.models import LAST_ADMIN_MESSAGE, CrmError, Role, User
from maintenance.models import RetentionPolicy
from tests.factories import UserFactory
from tests.helpers import admin_url, api_as
from transfer.resources.crm import UserResource

pytestmark = pytest.mark.django_db

MESSAGE = str(LAST_ADMIN_MESSAGE)


def _still_the_active_admin(user):
    user.refresh_from_db()
    assert (user.role, user.status, user.is_active) == (Role.ADMIN, Status.ON, True)


# --- The API -----------------------------------------------------------------------------------


@pytest.mark.parametrize("change", [{"status": "OFF"}, {"role": "MANAGER"}, {"role": "STAFF", "status": "OFF"}])
def test_the_last_admin_cannot_switch_themselves_off_or_demote_themselves_through_the_api(admin_user, change):
    response = api_as(admin_user).patch(f"/api/users/{admin_user.pk}", change, format="json")
    assert response.status_code == 400
    assert MESSAGE in response.json()["detail"]
    _still_the_active_admin(admin_user)


def test_the_last_admin_cannot_demote_themselves_with_a_put(admin_user):
    body = {"email": admin_user.email, "name": admin_user.name, "role": "MANAGER", "status": "ON"}
    response = api_as(admin_user).put(f"/api/users/{admin_user.pk}", body, format="json")
    assert response.status_code == 400
    _still_the_active_admin(admin_user)


def test_with_a_second_admin_an_admin_may_step_down(admin_user):
    UserFactory(role=Role.ADMIN)
    response = api_as(admin_user).patch(f"/api/users/{admin_user.pk}", {"role": "MANAGER"}, format="json")
    assert response.status_code == 200
    admin_user.refresh_from_db()
    assert admin_user.role == Role.MANAGER


def test_the_last_admin_cannot_delete_themselves_for_good_through_the_api(admin_user):
    response = api_as(admin_user).delete(f"/api/users/{admin_user.pk}?hard=1")
    assert response.status_code == 400
    _still_the_active_admin(admin_user)


# --- The model: the one place every path goes through ------------------------------------------


def test_the_model_refuses_every_write_that_would_leave_no_active_admin(admin_user, staff_user):
    admins = User.all_objects.filter(pk=admin_user.pk)
    attempts = [
        lambda: admin_user.deactivate(),
        lambda: admins.deactivate(),
        lambda: admins.update(role=Role.STAFF),
        lambda: User.all_objects.all().delete(),
        lambda: User.all_objects.get(pk=admin_user.pk).delete(),
        lambda: User.all_objects.bulk_update([User(pk=admin_user.pk, role=Role.MANAGER)], ["role"]),
    ]
    for attempt in attempts:
        with pytest.raises(CrmError, match="active ADMIN"):
            attempt()
        _still_the_active_admin(admin_user)
    assert User.all_objects.filter(pk=staff_user.pk).exists()


def test_other_accounts_change_freely_while_an_admin_remains(admin_user, staff_user, manager_user):
    User.all_objects.filter(pk__in=[staff_user.pk, manager_user.pk]).deactivate()
    assert set(User.objects.values_list("pk", flat=True)) == {admin_user.pk}


# --- The admin ---------------------------------------------------------------------------------


def _user_form(user, **changes):
    return {
        "email": user.email, "name": user.name, "surname": user.surname or "", "phone": "",
        "role": user.role, "status": user.status, **changes,
    }  # fmt: skip


@pytest.mark.parametrize("change", [{"status": "OFF"}, {"role": "MANAGER"}])
def test_the_last_admin_cannot_switch_themselves_off_in_the_change_form(admin_browser, admin_user, change):
    response = admin_browser.post(admin_url(User, "change", admin_user.pk), _user_form(admin_user, **change))
    assert response.status_code in (200, 302)
    assert MESSAGE in response.content.decode() or MESSAGE in _messages(admin_browser)
    _still_the_active_admin(admin_user)


def _messages(browser):
    return " ".join(str(m) for m in browser.get(admin_url(User, "changelist")).context["messages"])


@pytest.mark.parametrize("action", ["deactivate_selected", "delete_selected"])
def test_the_last_admin_cannot_be_switched_off_or_deleted_from_the_changelist(admin_browser, admin_user, action):
    response = admin_browser.post(
        admin_url(User, "changelist"),
        {"action": action, "index": "0", "_selected_action": [admin_user.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert MESSAGE in " ".join(str(m) for m in response.context["messages"])
    _still_the_active_admin(admin_user)


def test_the_last_admin_cannot_delete_their_own_account_in_the_admin(admin_browser, admin_user):
    response = admin_browser.post(admin_url(User, "delete", admin_user.pk), {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert MESSAGE in " ".join(str(m) for m in response.context["messages"])
    _still_the_active_admin(admin_user)


# --- Import and management commands -------------------------------------------------------------


def test_an_import_cannot_demote_the_last_admin(admin_user):
    raw = f"Email,Name,Role,Status\r\n{admin_user.email},Alba,STAFF,OFF\r\n".encode()
    result = UserResource().import_data(CSV().create_dataset(raw))
    assert result.has_errors() or result.has_validation_errors()
    errors = [str(e.error) for _, row in result.row_errors() for e in row] + [
        str(error) for row in result.invalid_rows for error in row.error_dict.values()
    ]
    assert any("active ADMIN" in e for e in errors), errors
    _still_the_active_admin(admin_user)


def test_the_inactive_users_policy_never_switches_off_the_last_admin(admin_user, staff_user):
    # A transactional test elsewhere may have emptied the migration's policies.
    RetentionPolicy.objects.get_or_create(
        code="inactive-users",
        defaults={"name": "Inactive staff", "target": "crm.User", "action": "DEACTIVATE", "after_days": 730},
    )
    long_ago = timezone.now() - timedelta(days=3 * 365)
    User.all_objects.filter(pk__in=[admin_user.pk, staff_user.pk]).update(last_login=long_ago, created_at=long_ago)

    call_command("archive", "--noinput", stdout=io.StringIO())

    _still_the_active_admin(admin_user)
    staff_user.refresh_from_db()
    assert staff_user.status == Status.OFF


def test_cleaning_up_demo_data_keeps_the_last_admin():
    demo_admin = UserFactory(role=Role.ADMIN, is_demo=True, email="admin@example.com")

    call_command("cleanup", "--test-data", "--noinput", stdout=io.StringIO())

    _still_the_active_admin(demo_admin)


# --- Two admins demoting each other at the same moment -------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "mysql", reason="row locks: MariaDB only")
def test_two_admins_demoting_each_other_at_once_cannot_both_succeed():
    first, second = UserFactory(role=Role.ADMIN), UserFactory(role=Role.ADMIN)
    barrier, outcomes = threading.Barrier(2), [None, None]

    def demote(n, target_pk):
        try:
            target = User.all_objects.get(pk=target_pk)
            target.role = Role.MANAGER
            barrier.wait(timeout=10)
            target.save()
            outcomes[n] = "demoted"
        except CrmError as error:
            outcomes[n] = error
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=demote, args=(0, second.pk)),
        threading.Thread(target=demote, args=(1, first.pk)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(type(o).__name__ for o in outcomes) == ["CrmError", "str"], outcomes
    assert User.objects.filter(role=Role.ADMIN).count() == 1
