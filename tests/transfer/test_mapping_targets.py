"""What each import list's file may carry (its targets), and how the headers salons write in
Spanish and English find them."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from transfer.import_mapping import mapped_csv, needs_mapping, stored_text, unique_headers
from transfer.mapping import guess_mapping, resource_targets
from transfer.resources.catalog import ProductResource, ServiceResource
from transfer.resources.crm import ClientResource


def targets(resource_class, language="es"):
    with translation.override(language):
        return {t.name: t for t in resource_targets(resource_class())}


def test_client_targets_are_the_columns_of_its_files_with_their_kind_and_what_is_required():
    client = targets(ClientResource)

    assert client["Email"].kind == "email" and client["Email"].required
    assert client["Birth date"].kind == "date" and not client["Birth date"].required
    assert client["Name"].required and client["Name"].label == "Nombre"
    assert "ID" not in client  # another database's ID is never imported


def test_targets_are_labelled_in_the_readers_language():
    assert targets(ProductResource, "en")["Price"].label == "Price (VAT incl.)"
    assert targets(ProductResource, "es")["Price"].label == "Precio (IVA incl.)"


def test_spanish_client_headers_map_fully():
    headers = [
        "Nombre", "Apellidos", "Correo electrónico", "Teléfono", "Fecha de nacimiento", "Notas",
        "Dirección", "Código postal", "Población", "País", "Sexo", "DNI",
    ]  # fmt: skip
    guess = guess_mapping(headers, list(targets(ClientResource).values()))

    assert guess == dict(zip(headers, [
        "Name", "Surname", "Email", "Phone", "Birth date", "Notes",
        "Address", "Postal code", "City", "Country", "Gender", "Document number",
    ], strict=True))  # fmt: skip


def test_english_client_headers_from_other_systems_map_too():
    headers = ["First Name", "Last Name", "E-mail", "Mobile Number", "Date of Birth", "Zip"]
    guess = guess_mapping(headers, list(targets(ClientResource, "en").values()))

    assert list(guess.values()) == ["Name", "Surname", "Email", "Phone", "Birth date", "Postal code"]


def test_spanish_product_headers_map_fully():
    headers = ["Referencia", "Producto", "PVP", "IVA", "Existencias", "Código de barras", "Marca", "Familia", "Coste"]
    guess = guess_mapping(headers, list(targets(ProductResource).values()))

    assert list(guess.values()) == [
        "SKU", "Name", "Price", "Tax rate", "Stock", "Barcode", "Brand", "Category", "Cost",
    ]  # fmt: skip


def test_spanish_service_headers_map_fully():
    headers = ["Código", "Servicio", "Precio", "Duración", "Categoría", "Descripción"]
    guess = guess_mapping(headers, list(targets(ServiceResource).values()))

    assert list(guess.values()) == ["Code", "Name", "Price", "Duration minutes", "Category", "Description"]


def test_kinds_come_from_the_model_fields():
    product, service = targets(ProductResource), targets(ServiceResource)

    assert (product["Price"].kind, product["Stock"].kind, product["Category"].kind) == ("decimal", "integer", "text")
    assert service["Duration minutes"].kind == "integer"


def test_cells_are_rewritten_as_the_import_reads_them():
    client, product = targets(ClientResource), targets(ProductResource)

    assert stored_text(client["Birth date"], "31/12/1990", date_order="dmy") == "1990-12-31"
    assert stored_text(client["Birth date"], "12/31/1990", date_order="mdy") == "1990-12-31"
    assert stored_text(client["Birth date"], date(1990, 12, 31), date_order="dmy") == "1990-12-31"
    assert stored_text(product["Price"], "1.234,50 €", date_order="dmy") == "1234.50"
    assert stored_text(product["Price"], 12.5, date_order="dmy") == "12.5"
    assert stored_text(client["Phone"], 600111222.0, date_order="dmy") == "600111222"
    assert stored_text(client["Email"], " ANA@Example.com ", date_order="dmy") == "ana@example.com"
    # What cannot be read is kept, for the import to name in its row error.
    assert stored_text(client["Birth date"], "ayer", date_order="dmy") == "ayer"


def test_the_mapped_file_has_beils_columns_only_in_the_files_order():
    product = list(targets(ProductResource).values())
    headers = ["Precio", "Color", "Referencia"]
    rows = [["12,50", "rojo", "A-1"], ["3", "azul"]]

    content = mapped_csv(rows, headers, {"Precio": "Price", "Color": "", "Referencia": "SKU"}, product, delimiter=";")

    assert content.decode("utf-8-sig").splitlines() == ["Price;SKU", "12.50;A-1", "3;"]
    assert Decimal(content.decode("utf-8-sig").splitlines()[1].split(";")[0]) == Decimal("12.50")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["Email", "Name", "Surname"], False),
        (["\ufeffemail", " NAME ", "birth_date", "ID", "Created at"], False),  # Beils' own, however spelled
        (["Email", "Nombre"], True),
        (["Email", ""], True),
    ],
)
def test_only_files_with_other_headers_need_the_step(headers, expected):
    assert needs_mapping(ClientResource(), headers) is expected


def test_empty_and_repeated_headers_get_a_name_each():
    assert unique_headers(["Nombre", None, "Nombre", " ", "Nombre"]) == [
        "Nombre", "(column 2)", "Nombre (2)", "(column 4)", "Nombre (3)",
    ]  # fmt: skip
