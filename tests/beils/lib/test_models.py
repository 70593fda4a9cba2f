"""The shared bases: soft delete, NULL for unknown, and which manager Django uses."""

import pytest
from django.apps import apps

from beils.lib.models import SoftDeleteModel, Status
from catalog.models import Product
from crm.models import Client
from tests.factories import ClientFactory, ProductFactory

SOFT_DELETE_MODELS = [model for model in apps.get_models() if issubclass(model, SoftDeleteModel)]


def test_the_soft_delete_models_are_the_expected_ones():
    labels = {model._meta.label for model in SOFT_DELETE_MODELS}
    assert {
        "crm.User",
        "crm.Client",
        "catalog.Product",
        "catalog.Service",
        "catalog.Pack",
        "marketing.Coupon",
        "marketing.Bonus",
    } <= labels


@pytest.mark.parametrize("model", SOFT_DELETE_MODELS, ids=lambda m: m._meta.label)
def test_djangos_default_and_base_managers_see_deactivated_rows(model):
    assert model._default_manager.name == "all_objects"
    assert model._base_manager.name == "all_objects"
    assert model.objects.name == "objects"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model, factory", [(Client, ClientFactory), (Product, ProductFactory)], ids=["client", "product"]
)
def test_queryset_deactivate_and_reactivate_touch_only_rows_that_change(model, factory):
    active, inactive = factory(), factory(status=Status.OFF)
    stamp = model.all_objects.get(pk=inactive.pk).deactivated_at

    assert model.all_objects.filter(pk__in=[active.pk, inactive.pk]).deactivate() == 1
    assert model.all_objects.get(pk=inactive.pk).deactivated_at == stamp
    assert model.all_objects.get(pk=active.pk).deactivated_at is not None

    assert model.all_objects.all().reactivate() == 2
    assert set(model.objects.values_list("deactivated_at", flat=True)) == {None}


@pytest.mark.django_db
def test_saving_with_status_off_stamps_the_deactivation_time_and_on_clears_it():
    client = ClientFactory()
    client.status = Status.OFF
    client.save()
    client.refresh_from_db()
    assert client.deactivated_at is not None
    assert client.is_active_record is False

    client.status = Status.ON
    client.save()
    client.refresh_from_db()
    assert client.deactivated_at is None


@pytest.mark.django_db
def test_deactivate_and_reactivate_are_idempotent():
    client = ClientFactory()
    client.deactivate()
    first = Client.all_objects.get(pk=client.pk).deactivated_at
    client.deactivate()
    assert Client.all_objects.get(pk=client.pk).deactivated_at == first
    client.reactivate()
    client.reactivate()
    assert Client.objects.filter(pk=client.pk).exists()


def test_project_models_are_the_models_of_beils_own_apps_only():
    from beils.lib.models import project_models

    labels = {model._meta.app_label for model in project_models()}
    assert labels == {
        "audit", "crm", "catalog", "marketing", "sales", "bookings", "transfer", "backups", "maintenance", "legacy"
    }  # fmt: skip
    assert "legacy" not in {model._meta.app_label for model in project_models(exclude=["legacy"])}
    auto = set(project_models(include_auto_created=True)) - set(project_models())
    assert auto and all(model._meta.auto_created for model in auto)  # the many-to-many tables
