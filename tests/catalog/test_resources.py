"""Importing the catalogue: bad files are refused with a clear message and write nothing."""

import pytest

from beils.lib.formats import CSV
from catalog.models import Product
from tests import factories as f
from transfer.resources.catalog import ProductResource

pytestmark = pytest.mark.django_db

HEADER = "SKU,Name,Price,Category,Tags\r\n"


def _import(text: str, dry_run=False):
    return ProductResource().import_data(CSV().create_dataset(text.encode()), dry_run=dry_run)


def _messages(result):
    return " ".join(
        [str(e.error) for e in result.base_errors] + [str(e.error) for _, errors in result.row_errors() for e in errors]
    )


def test_products_are_upserted_by_sku_with_category_and_tags_by_name():
    category = f.CategoryFactory(name="Hair")
    f.TagFactory(name="vegan")
    f.ProductFactory(sku="SH-1", name="Old name")

    result = _import(HEADER + 'SH-1,Shampoo,12.50,Hair,vegan\r\nSH-2,Conditioner,"9,90",Hair,\r\n')

    assert not result.has_errors(), _messages(result)
    assert Product.all_objects.get(sku="SH-1").name == "Shampoo"
    new = Product.all_objects.get(sku="SH-2")
    assert (new.category, str(new.price)) == (category, "9.90")
    assert list(Product.all_objects.get(sku="SH-1").tags.values_list("name", flat=True)) == ["vegan"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("OK-1,Fine,1.00,Hair,\r\nDUP,One,1.00,Hair,\r\nDUP,Two,2.00,Hair,\r\n", "is on rows 2 and 3"),
        ("OK-1,Fine,1.00,Hair,\r\nX-1,Lost,1.00,Nowhere,\r\n", "There is no category with name 'Nowhere'"),
        ('OK-1,Fine,1.00,Hair,\r\nX-1,Bad price,"12,5x",Hair,\r\n', "'12,5x' is not a number"),
        ("OK-1,Fine,1.00,Hair,\r\nX-1,Untagged,1.00,Hair,nosuchtag\r\n", "There is no tag with name 'nosuchtag'"),
        ("OK-1,Fine,-1.00,Hair,\r\n", "Price"),
    ],
    ids=["duplicate-sku", "unknown-category", "wrong-decimal", "unknown-tag", "negative-price"],
)
def test_a_file_with_one_bad_row_writes_nothing(rows, message):
    f.CategoryFactory(name="Hair")
    before = Product.all_objects.count()

    result = _import(HEADER + rows)

    assert result.has_errors()
    assert message in _messages(result)
    assert Product.all_objects.count() == before


def test_a_missing_required_column_is_named():
    result = _import("SKU,Name\r\nX-1,No price\r\n")

    assert "Missing required column(s): Price." in _messages(result)
    assert not Product.all_objects.exists()


def test_a_dry_run_writes_nothing():
    result = _import(HEADER + "SH-9,Shampoo,12.50,,\r\n", dry_run=True)

    assert not result.has_errors()
    assert result.totals["new"] == 1
    assert not Product.all_objects.exists()


def test_every_bad_row_of_a_file_is_named_in_one_pass_and_nothing_is_written():
    f.CategoryFactory(name="Hair")
    f.ProductFactory(sku="OLD-1", barcode="8400000000001")
    rows = [
        "SKU,Name,Price,Category,Barcode",
        "OK-1,Fine,1.00,Hair,",  # row 1
        "DUP-1,One,1.00,Hair,",  # 2
        "DUP-1,Again,1.00,Hair,",  # 3: in-file duplicate of row 2
        "DUP-2,Two,1.00,Hair,",  # 4
        "dup-2,Two again,1.00,Hair,",  # 5: the same SKU in other letters
        "NEW-1,Taken barcode,1.00,Hair,8400000000001",  # 6: a barcode the database holds
        "NEW-2,Bad price,abc,Hair,",  # 7
        "NEW-3,Lost,1.00,Nowhere,",  # 8
        "DUP-1,Third,1.00,Hair,",  # 9: row 2's SKU once more
    ]

    result = ProductResource().import_data(CSV().create_dataset("\r\n".join(rows).encode()))

    errors = {number: " ".join(str(e.error) for e in row_errors) for number, row_errors in result.row_errors()}
    # Data rows are numbered from 1 (the header is not a row).
    assert sorted(errors) == [3, 5, 6, 7, 8, 9], errors
    assert "is on rows 2 and 3" in errors[3]
    assert "is on rows 4 and 5" in errors[5]
    assert "Barcode" in errors[6]
    assert "'abc' is not a number" in errors[7]
    assert "There is no category with name 'Nowhere'" in errors[8]
    assert "is on rows 2 and 9" in errors[9]
    assert not result.base_errors or "invalid row" in str(result.base_errors[-1].error)
    assert list(Product.all_objects.values_list("sku", flat=True)) == ["OLD-1"]
