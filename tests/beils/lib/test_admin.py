"""Soft delete in the admin: deactivated rows are hidden by default, one click away, and restorable."""

import pytest

from beils.lib.models import Status
from catalog.models import Product
from crm.models import Client
from tests.factories import ClientFactory, ProductFactory
from tests.helpers import admin_url, changelist_rows

pytestmark = pytest.mark.django_db


def _act(browser, model, action, objects, query=""):
    return browser.post(
        admin_url(model, "changelist") + query,
        {"action": action, "select_across": "0", "index": "0", "_selected_action": [obj.pk for obj in objects]},
        follow=True,
    )


def test_the_changelist_hides_deactivated_rows_by_default(admin_browser):
    active, gone = ClientFactory(), ClientFactory(status=Status.OFF)
    response = admin_browser.get(admin_url(Client, "changelist"))
    assert changelist_rows(response) == [active]
    assert gone.name not in response.content.decode()


def test_the_deactivated_filter_shows_only_deactivated_rows(admin_browser):
    ClientFactory()
    gone = ClientFactory(status=Status.OFF)
    response = admin_browser.get(admin_url(Client, "changelist") + "?active=no")
    assert changelist_rows(response) == [gone]


def test_the_all_filter_shows_everyone(admin_browser):
    active, gone = ClientFactory(), ClientFactory(status=Status.OFF)
    response = admin_browser.get(admin_url(Client, "changelist") + "?active=all")
    assert set(changelist_rows(response)) == {active, gone}


def test_the_filter_marks_active_as_the_default_choice(admin_browser):
    response = admin_browser.get(admin_url(Client, "changelist"))
    status_filter = next(spec for spec in response.context["cl"].filter_specs if spec.parameter_name == "active")
    selected = [choice["display"] for choice in status_filter.choices(response.context["cl"]) if choice["selected"]]
    assert [str(display) for display in selected] == ["Active"]


def test_the_deactivate_action_deactivates_the_selected_rows(admin_browser):
    keep, first, second = ClientFactory(), ClientFactory(), ClientFactory()

    response = _act(admin_browser, Client, "deactivate_selected", [first, second])

    assert response.status_code == 200
    assert "2 rows deactivated." in [str(m) for m in response.context["messages"]]
    assert set(Client.all_objects.inactive()) == {first, second}
    assert all(c.deactivated_at for c in Client.all_objects.inactive())
    assert list(Client.objects.all()) == [keep]


def test_the_restore_action_reactivates_rows_from_the_deactivated_list(admin_browser):
    gone = ClientFactory(status=Status.OFF)

    response = _act(admin_browser, Client, "reactivate_selected", [gone], query="?active=no")

    assert "1 row restored." in [str(m) for m in response.context["messages"]]
    gone.refresh_from_db()
    assert (gone.status, gone.deactivated_at) == (Status.ON, None)


def test_the_soft_delete_actions_work_on_products_too(admin_browser):
    product = ProductFactory()
    _act(admin_browser, Product, "deactivate_selected", [product])
    assert not Product.objects.filter(pk=product.pk).exists()
    _act(admin_browser, Product, "reactivate_selected", [product], query="?active=no")
    assert Product.objects.filter(pk=product.pk).exists()


def test_autocomplete_offers_only_active_rows(admin_browser):
    ClientFactory(name="Paula", status=Status.OFF)
    active = ClientFactory(name="Paloma")
    response = admin_browser.get(
        "/admin/autocomplete/",
        {"term": "Pa", "app_label": "sales", "model_name": "cart", "field_name": "client"},
    )
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(active.pk)]
