"""A change of a staff member's role is a change of their permissions: it is audited."""

import pytest

from audit.models import AuditEntry
from crm.models import Role
from tests import factories as f
from tests.helpers import admin_url, api_as

pytestmark = pytest.mark.django_db


def _form(user, **changes):
    data = {"email": user.email, "name": user.name, "surname": user.surname or "", "phone": "",
            "role": user.role, "status": user.status}  # fmt: skip
    return {**data, **changes}


def test_an_admin_changing_a_role_in_the_admin_is_audited_with_both_roles_and_the_address(admin_browser, admin_user):
    staff = f.UserFactory(role=Role.STAFF)

    response = admin_browser.post(admin_url(type(staff), "change", staff.pk), _form(staff, role=Role.MANAGER))

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    entry = AuditEntry.objects.get(action="crm.user.role_changed")
    assert (entry.actor, entry.target_id, entry.detail) == (
        admin_user,
        str(staff.pk),
        {"from": "STAFF", "to": "MANAGER"},
    )
    assert entry.ip_address == "127.0.0.1"


def test_saving_an_account_without_changing_the_role_records_nothing(admin_browser):
    staff = f.UserFactory(role=Role.STAFF)

    admin_browser.post(admin_url(type(staff), "change", staff.pk), _form(staff, name="Renamed"))

    assert not AuditEntry.objects.filter(action="crm.user.role_changed").exists()


def test_a_role_change_through_the_api_is_audited(admin_user):
    staff = f.UserFactory(role=Role.STAFF)

    response = api_as(admin_user).patch(f"/api/users/{staff.pk}", {"role": "ADMIN"}, format="json")

    assert response.status_code == 200, response.content
    entry = AuditEntry.objects.get(action="crm.user.role_changed")
    assert (entry.actor, entry.detail) == (admin_user, {"from": "STAFF", "to": "ADMIN"})
