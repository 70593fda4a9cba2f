"""``GET /api/<resource>/export?format=csv|json``: the whole filtered set, streamed."""

import csv
import io
import json

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEntry
from tests.factories import CartFactory, ClientFactory, ProductFactory
from tests.helpers import api_as

pytestmark = pytest.mark.django_db


def content(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("url", ["/api/clients/export", "/api/clients/export/"])
def test_a_manager_exports_clients_as_csv(manager_user, url):
    ClientFactory.create_batch(3)
    response = api_as(manager_user).get(url, {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(content(response).decode("utf-8-sig"))))
    assert len(rows) == 3 and {"email", "name", "document_number"} <= set(rows[0])
    assert AuditEntry.objects.get(action="maintenance.export.done").detail["rows"] == 3


def test_the_seed_guides_exports_work_as_documented(admin_user):
    ProductFactory.create_batch(2)
    api = api_as(admin_user)
    for url in (
        "/api/users/export?format=json",
        "/api/clients/export?format=json",
        "/api/catalog/products/export?format=json",
    ):
        response = api.get(url)
        assert response.status_code == 200, url
        assert isinstance(json.loads(content(response)), list)
    products = json.loads(content(api.get("/api/catalog/products/export?format=json")))
    assert len(products) == 2 and "password" not in json.loads(content(api.get("/api/users/export?format=json")))[0]


def test_filters_apply_to_the_export(admin_user):
    ClientFactory(city="Bilbao")
    ClientFactory(city="Vigo")
    response = api_as(admin_user).get("/api/clients/export", {"format": "json", "city": "Bilbao"})
    assert response.status_code == 200
    assert [row["city"] for row in json.loads(content(response))] == ["Bilbao"]


def test_staff_and_strangers_cannot_export(staff_user):
    CartFactory()
    assert api_as(staff_user).get("/api/clients/export?format=csv").status_code == 403
    assert api_as(staff_user).get("/api/sales/carts/export?format=csv").status_code == 403
    assert APIClient().get("/api/clients/export?format=csv").status_code == 401
    assert not AuditEntry.objects.filter(action__startswith="maintenance.export").exists()


def test_nested_resources_export_their_own_rows(admin_user):
    cart = CartFactory()
    rows = json.loads(content(api_as(admin_user).get("/api/sales/carts/export?format=json")))
    assert [row["id"] for row in rows] == [cart.pk]
