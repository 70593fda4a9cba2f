"""The REST API of the catalogue."""

import pytest
from rest_framework.test import APIClient

from beils.lib.models import Status
from catalog.models import Product
from tests.factories import (
    BrandFactory,
    CartItemFactory,
    CategoryFactory,
    PackItemFactory,
    ProductFactory,
    ServiceFactory,
    SubcategoryFactory,
    TagFactory,
)
from tests.helpers import api_as

RESOURCES = [
    ("products", ProductFactory),
    ("services", ServiceFactory),
    ("packs", PackItemFactory),
    ("categories", CategoryFactory),
    ("subcategories", SubcategoryFactory),
    ("brands", BrandFactory),
    ("tags", TagFactory),
]


@pytest.mark.parametrize(("resource", "factory"), RESOURCES)
@pytest.mark.parametrize("slash", ["", "/"])
def test_every_role_reads_the_catalogue_with_or_without_a_slash(resource, factory, slash, staff_user, manager_user):
    factory()
    for user in (staff_user, manager_user):
        response = api_as(user).get(f"/api/catalog/{resource}{slash}")
        assert response.status_code == 200 and response.json()["count"] == 1
        row_id = response.json()["results"][0]["id"]
        assert api_as(user).get(f"/api/catalog/{resource}/{row_id}{slash}").status_code == 200
    assert APIClient().get(f"/api/catalog/{resource}{slash}").status_code == 401


def test_staff_only_read_the_catalogue(staff_user):
    product = ProductFactory()
    api = api_as(staff_user)
    assert (
        api.post("/api/catalog/products", {"name": "X", "sku": "X1", "price": "1.00"}, format="json").status_code == 403
    )
    assert api.patch(f"/api/catalog/products/{product.pk}", {"price": "1.00"}, format="json").status_code == 403
    assert api.delete(f"/api/catalog/products/{product.pk}").status_code == 403


def test_a_manager_creates_and_updates_a_product_with_decimal_money(manager_user):
    category, brand, tag = CategoryFactory(), BrandFactory(), TagFactory()
    api = api_as(manager_user)
    payload = {
        "name": "Serum",
        "sku": "SER-1",
        "barcode": "8400000000001",
        "price": "24.95",
        "category": category.pk,
        "brand": brand.pk,
        "tags": [tag.pk],
        "stock": 1,
        "min_stock": 3,
    }
    response = api.post("/api/catalog/products", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["price"] == "24.95" and body["tax_rate"] == "21.00" and body["is_low_stock"] is True
    assert body["tags"] == [tag.pk]
    response = api.patch(f"/api/catalog/products/{body['id']}", {"price": "19.90"}, format="json")
    assert response.status_code == 200 and response.json()["price"] == "19.90"


def test_product_input_is_validated(manager_user):
    ProductFactory(sku="TAKEN")
    api = api_as(manager_user)
    response = api.post(
        "/api/catalog/products", {"name": "X", "sku": "TAKEN", "price": "-1", "tax_rate": "150"}, format="json"
    )
    assert response.status_code == 400
    assert {"sku", "price"} <= set(response.json())
    response = api.post(
        "/api/catalog/products", {"name": "X", "sku": "NEW", "price": "1", "tax_rate": "150"}, format="json"
    )
    assert response.status_code == 400


def test_a_subcategory_must_belong_to_the_products_category(manager_user):
    sub = SubcategoryFactory()
    response = api_as(manager_user).post(
        "/api/catalog/products",
        {"name": "X", "sku": "X", "price": "1.00", "category": CategoryFactory().pk, "subcategory": sub.pk},
        format="json",
    )
    assert response.status_code == 400 and "subcategory" in response.json()


def test_deleting_a_product_deactivates_it(manager_user):
    product = ProductFactory()
    api = api_as(manager_user)
    assert api.delete(f"/api/catalog/products/{product.pk}").status_code == 204
    assert Product.all_objects.get(pk=product.pk).status == Status.OFF
    assert api.get("/api/catalog/products").json()["count"] == 0
    assert api.get("/api/catalog/products?status=OFF").json()["count"] == 1
    assert api.get("/api/catalog/products?include_inactive=yes").json()["count"] == 1


def test_a_sold_product_cannot_be_hard_deleted(manager_user):
    sold, unsold = ProductFactory(), ProductFactory()
    CartItemFactory(product=sold, service=None, name=sold.name)
    api = api_as(manager_user)
    response = api.delete(f"/api/catalog/products/{sold.pk}?hard=1")
    assert response.status_code == 409 and "protected" in response.json()["detail"]
    assert Product.objects.filter(pk=sold.pk).exists()
    assert api.delete(f"/api/catalog/products/{unsold.pk}?hard=1").status_code == 204
    assert not Product.all_objects.filter(pk=unsold.pk).exists()


def test_a_service_in_a_pack_cannot_be_hard_deleted(manager_user):
    line = PackItemFactory()
    assert api_as(manager_user).delete(f"/api/catalog/services/{line.service_id}?hard=1").status_code == 409


def test_products_filter_order_and_search(manager_user):
    category = CategoryFactory()
    cheap = ProductFactory(name="Cheap", price="1.00", category=category)
    ProductFactory(name="Dear", price="99.00")
    api = api_as(manager_user)
    assert [p["id"] for p in api.get(f"/api/catalog/products?category={category.pk}").json()["results"]] == [cheap.pk]
    assert api.get("/api/catalog/products?ordering=-price").json()["results"][0]["name"] == "Dear"
    assert api.get(f"/api/catalog/products?search={cheap.sku}").json()["count"] == 1
    assert api.get("/api/catalog/products?ordering=nonsense").status_code == 200


def test_packs_show_their_lines(manager_user):
    line = PackItemFactory()
    body = api_as(manager_user).get(f"/api/catalog/packs/{line.pack_id}").json()
    assert body["items"] == [{"id": line.pk, "product": None, "service": line.service_id, "quantity": 2}]


def test_categories_brands_tags_have_full_crud_for_managers(manager_user, staff_user):
    api = api_as(manager_user)
    for resource, payload in [
        ("categories", {"name": "Hair"}),
        ("brands", {"name": "Acme"}),
        ("tags", {"name": "vegan", "color": "#00ff00"}),
    ]:
        response = api.post(f"/api/catalog/{resource}", payload, format="json")
        assert response.status_code == 201, response.json()
        row = response.json()["id"]
        assert api.post(f"/api/catalog/{resource}", payload, format="json").status_code == 400  # unique name
        assert api.patch(f"/api/catalog/{resource}/{row}", {"name": "Renamed"}, format="json").status_code == 200
        assert api_as(staff_user).delete(f"/api/catalog/{resource}/{row}").status_code == 403
        assert api.delete(f"/api/catalog/{resource}/{row}").status_code == 204
    assert api.post("/api/catalog/tags", {"name": "x", "color": "red"}, format="json").status_code == 400


def test_subcategory_names_are_unique_per_category(manager_user):
    sub = SubcategoryFactory()
    api = api_as(manager_user)
    payload = {"category": sub.category_id, "name": sub.name}
    assert api.post("/api/catalog/subcategories", payload, format="json").status_code == 400
    payload["category"] = CategoryFactory().pk
    assert api.post("/api/catalog/subcategories", payload, format="json").status_code == 201
