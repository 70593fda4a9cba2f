"""The catalogue: unique codes, prices that cannot go negative, and what deleting does."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from beils.lib.models import Status
from catalog.models import Category, Pack, PackItem, Product, Service, Subcategory
from tests.factories import (
    CartItemFactory,
    CategoryFactory,
    PackFactory,
    ProductFactory,
    ServiceFactory,
    SubcategoryFactory,
)

pytestmark = pytest.mark.django_db


def test_it_refuses_duplicate_sku():
    ProductFactory(sku="SH-001")
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.create(name="Other shampoo", sku="SH-001", price=Decimal("5.00"))


def test_it_refuses_duplicate_barcode():
    ProductFactory(barcode="8410000000017")
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.create(name="Other", sku="SH-002", barcode="8410000000017", price=Decimal("5.00"))


def test_products_without_a_barcode_do_not_collide():
    first = Product.objects.create(name="A", sku="A-1", barcode="", price=Decimal("1.00"))
    second = Product.objects.create(name="B", sku="B-1", barcode=None, price=Decimal("1.00"))
    assert Product.objects.filter(pk__in=[first.pk, second.pk], barcode__isnull=True).count() == 2


def test_it_refuses_a_blank_sku():
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.create(name="No SKU", sku="", price=Decimal("1.00"))


def test_it_refuses_a_deactivated_products_sku_for_a_new_product():
    ProductFactory(sku="OLD-1", status=Status.OFF)
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.create(name="New", sku="OLD-1", price=Decimal("1.00"))


@pytest.mark.parametrize("model", [Product, Service, Pack])
def test_it_refuses_a_negative_price(model):
    extra = {"sku": "NEG-1"} if model is Product else {"code": "NEG-1"}
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(name="Negative", price=Decimal("-0.01"), **extra)


def test_it_refuses_a_tax_rate_above_100():
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.create(name="Odd", sku="ODD-1", price=Decimal("1.00"), tax_rate=Decimal("121.00"))


def test_a_new_product_is_taxed_at_21_percent_by_default():
    product = Product.objects.create(name="Cream", sku="CR-1", price=Decimal("10.00"))
    product.refresh_from_db()
    assert product.tax_rate == Decimal("21.00")


def test_it_refuses_duplicate_service_code():
    ServiceFactory(code="FACIAL")
    with pytest.raises(IntegrityError), transaction.atomic():
        Service.objects.create(name="Facial 2", code="FACIAL", price=Decimal("30.00"))


def test_it_refuses_a_service_of_zero_minutes():
    with pytest.raises(IntegrityError), transaction.atomic():
        Service.objects.create(name="Instant", code="INST", price=Decimal("1.00"), duration_minutes=0)


def test_it_refuses_duplicate_pack_code():
    PackFactory(code="BRIDE")
    with pytest.raises(IntegrityError), transaction.atomic():
        Pack.objects.create(name="Bride 2", code="BRIDE", price=Decimal("10.00"))


def test_it_refuses_duplicate_category_name():
    CategoryFactory(name="Hair")
    with pytest.raises(IntegrityError), transaction.atomic():
        Category.objects.create(name="Hair")


def test_it_refuses_duplicate_subcategory_name_within_a_category():
    sub = SubcategoryFactory(name="Shampoo")
    with pytest.raises(IntegrityError), transaction.atomic():
        Subcategory.objects.create(category=sub.category, name="Shampoo")


def test_it_allows_the_same_subcategory_name_in_another_category():
    SubcategoryFactory(name="Shampoo")
    SubcategoryFactory(name="Shampoo")
    assert Subcategory.objects.filter(name="Shampoo").count() == 2


@pytest.mark.parametrize(
    "targets",
    [{}, {"product": True, "service": True}],
    ids=["no target", "two targets"],
)
def test_a_pack_line_names_exactly_one_product_or_service(targets):
    pack = PackFactory()
    kwargs = {
        "product": ProductFactory() if targets.get("product") else None,
        "service": ServiceFactory() if targets.get("service") else None,
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        PackItem.objects.create(pack=pack, quantity=1, **kwargs)


def test_deleting_a_category_keeps_its_products():
    product = ProductFactory()
    product.category.delete()
    product.refresh_from_db()
    assert product.category is None


def test_deleting_a_category_takes_its_subcategories_and_keeps_their_products():
    sub = SubcategoryFactory()
    product = ProductFactory(category=sub.category, subcategory=sub)
    sub.category.delete()
    product.refresh_from_db()
    assert (product.category, product.subcategory) == (None, None)
    assert not Subcategory.objects.filter(pk=sub.pk).exists()


def test_deleting_a_brand_keeps_its_products():
    product = ProductFactory()
    product.brand.delete()
    product.refresh_from_db()
    assert product.brand is None


def test_it_refuses_to_delete_a_product_that_was_sold():
    product = ProductFactory()
    CartItemFactory(product=product, service=None, name=product.name)
    with pytest.raises(ProtectedError), transaction.atomic():
        product.delete()
    assert Product.all_objects.filter(pk=product.pk).exists()


def test_it_refuses_to_delete_a_service_that_was_sold():
    item = CartItemFactory()
    with pytest.raises(ProtectedError), transaction.atomic():
        item.service.delete()


def test_low_stock_lists_active_products_at_or_below_their_minimum():
    at_minimum = ProductFactory(stock=2, min_stock=2)
    below = ProductFactory(stock=0, min_stock=3)
    ProductFactory(stock=5, min_stock=2)
    ProductFactory(stock=0, min_stock=5, status=Status.OFF)

    assert set(Product.objects.low_stock()) == {at_minimum, below}
    assert at_minimum.is_low_stock and below.is_low_stock


def test_a_negative_stock_is_refused_by_validation_and_by_the_database():
    from django.core.exceptions import ValidationError

    product = ProductFactory(stock=2)
    product.stock = -1
    with pytest.raises(ValidationError) as refused:
        product.full_clean()
    assert "stock" in refused.value.message_dict

    with pytest.raises(IntegrityError), transaction.atomic():
        Product.all_objects.filter(pk=product.pk).update(stock=-1)
    product.refresh_from_db()
    assert product.stock == 2
