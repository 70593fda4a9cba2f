"""What each role may do, as stated in crm/roles.py, checked on permissions and on real admin pages."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client as Browser
from django.urls import reverse

from catalog.models import Product
from crm.models import Client, Role, User
from crm.roles import GROUP_NAMES, role_permission_names
from tests.factories import PASSWORD, ClientFactory, ProductFactory
from tests.helpers import admin_url

pytestmark = pytest.mark.django_db

ADMIN, MANAGER, STAFF = Role.ADMIN, Role.MANAGER, Role.STAFF

# (permission, roles that hold it). Every other role must not hold it.
POLICY = [
    ("crm.view_client", {ADMIN, MANAGER, STAFF}),
    ("crm.add_client", {ADMIN, MANAGER, STAFF}),
    ("crm.change_client", {ADMIN, MANAGER, STAFF}),
    ("crm.delete_client", {ADMIN}),
    ("crm.export_client", {ADMIN, MANAGER}),
    ("crm.erase_client", {ADMIN}),
    ("crm.view_user", {ADMIN, MANAGER, STAFF}),
    ("crm.add_user", {ADMIN}),
    ("crm.change_user", {ADMIN}),
    ("crm.delete_consent", {ADMIN, MANAGER}),
    ("catalog.view_product", {ADMIN, MANAGER, STAFF}),
    ("catalog.add_product", {ADMIN, MANAGER}),
    ("catalog.delete_product", {ADMIN, MANAGER}),
    ("catalog.change_service", {ADMIN, MANAGER}),
    ("marketing.add_clientbonus", {ADMIN}),
    ("marketing.add_coupon", {ADMIN, MANAGER}),
    ("marketing.change_bonusredemption", {ADMIN}),
    ("marketing.change_giftcardmovement", {ADMIN}),
    ("sales.add_cart", {ADMIN, MANAGER, STAFF}),
    ("sales.delete_cart", {ADMIN}),
    ("sales.delete_cartitem", {ADMIN, MANAGER, STAFF}),
    ("sales.change_debt", {ADMIN, MANAGER}),
    ("sales.view_invoice", {ADMIN, MANAGER, STAFF}),
    ("sales.add_invoice", {ADMIN}),
    ("sales.delete_invoice", {ADMIN}),
    ("bookings.add_booking", {ADMIN, MANAGER, STAFF}),
    ("bookings.delete_booking", {ADMIN, MANAGER}),
    ("audit.view_auditentry", {ADMIN, MANAGER}),
    ("transfer.export_data", {ADMIN, MANAGER}),
    ("transfer.import_data", {ADMIN}),
    ("transfer.import_catalogue", {ADMIN, MANAGER}),
    ("transfer.view_job", {ADMIN, MANAGER}),
    ("transfer.view_every_job", {ADMIN}),
    ("django_celery_beat.view_periodictask", {ADMIN, MANAGER}),
    ("django_celery_beat.add_periodictask", {ADMIN}),
    ("auth.view_group", {ADMIN}),
]

PERSONAS = {ADMIN: "admin_user", MANAGER: "manager_user", STAFF: "staff_user"}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("perm, holders", POLICY, ids=[perm for perm, _ in POLICY])
def test_each_role_holds_exactly_the_permissions_of_the_policy(request, role, perm, holders):
    user = request.getfixturevalue(PERSONAS[role])
    assert user.has_perm(perm) is (role in holders)


def test_the_admin_role_holds_every_permission_there_is():
    every = {
        f"{app}.{codename}" for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }
    assert role_permission_names(Role.ADMIN) == every
    admin_group = User.groups.field.related_model.objects.get(name=GROUP_NAMES[Role.ADMIN])
    assert admin_group.permissions.count() == len(every)


@pytest.mark.parametrize("role", [Role.MANAGER, Role.STAFF])
def test_no_role_below_admin_may_hard_delete_clients_or_touch_accounts(role):
    names = role_permission_names(role)
    assert not names & {"crm.delete_client", "crm.erase_client", "crm.add_user", "crm.change_user", "crm.delete_user"}


def test_staff_may_not_export_anything():
    assert not {name for name in role_permission_names(Role.STAFF) if "export" in name}


def test_the_groups_hold_what_the_policy_grants():
    for role, group_name in GROUP_NAMES.items():
        group = User.groups.field.related_model.objects.get(name=group_name)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert held == role_permission_names(role), role


def test_a_superuser_flag_is_not_needed_for_the_admin_persona(admin_user):
    assert admin_user.is_superuser is False
    assert admin_user.has_perm("crm.erase_client")


# --- The same rules on the admin pages ------------------------------------------------------


# Which role gets which admin page (and API call) is the table in tests/crm/test_role_matrix.py.


def test_staff_cannot_delete_a_client_even_by_posting(staff_browser):
    client = ClientFactory()
    response = staff_browser.post(admin_url(Client, "delete", client.pk), {"post": "yes"})
    assert response.status_code == 403
    assert Client.all_objects.filter(pk=client.pk).exists()


def test_staff_may_open_the_client_list(staff_browser):
    ClientFactory(name="Visible")
    response = staff_browser.get(admin_url(Client, "changelist"))
    assert response.status_code == 200
    assert [c.name for c in response.context["cl"].result_list] == ["Visible"]


def test_staff_are_not_offered_the_bulk_delete_action(staff_browser):
    ClientFactory()
    response = staff_browser.get(admin_url(Client, "changelist"))
    actions = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions
    assert "deactivate_selected" in actions


def test_staff_cannot_change_a_product_by_posting(staff_browser):
    product = ProductFactory(name="Before")
    response = staff_browser.post(admin_url(Product, "change", product.pk), {"name": "After"})
    assert response.status_code == 403
    product.refresh_from_db()
    assert product.name == "Before"


def test_the_dashboard_shows_staff_their_cards(staff_browser):
    html = staff_browser.get(reverse("admin:index")).content.decode()
    for card in ["card-bookings", "card-revenue", "card-debts", "card-stock"]:
        assert f'id="{card}"' in html


def test_the_outsider_cannot_log_in_or_reach_the_admin(outsider):
    browser = Browser()
    assert browser.login(email=outsider.email, password=PASSWORD) is False
    response = browser.get(admin_url(Client, "changelist"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_session_stops_working_once_the_account_is_switched_off(staff_user):
    browser = Browser()
    assert browser.login(email=staff_user.email, password=PASSWORD)
    staff_user.deactivate()
    response = browser.get(admin_url(Client, "changelist"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]
