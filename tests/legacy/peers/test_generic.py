"""The generic profile: any CSV or XLSX, its columns guessed from Spanish or English headers,
remembered per source, overridden with --map; a required field without a column is refused with
its name."""

from decimal import Decimal
from io import BytesIO

import openpyxl
import pytest

from crm.models import Client
from sales.models import Cart
from tests.legacy.peers.helpers import counts, run, write
from transfer.mapping import remember_mapping

pytestmark = pytest.mark.django_db

MESSY = (
    "Nombre y apellidos;Correo electrónico;Teléfono;Fecha de nacimiento;Observaciones\r\n"
    "Pilar Sanz;PILAR@Example.com ;+34 600-123-456;31/12/1990;Piel sensible\r\n"
    "Jesús Peña;;600 999 888;01/02/1985;\r\n"
)


def test_a_messy_spanish_csv_is_mapped_and_imported_as_it_will_be_stored(tmp_path):
    path = write(tmp_path, "export clientes.csv", MESSY, encoding="cp1252")

    code, report = run("generic", path)

    assert code == 0, report
    assert report["files"][0]["mapping"] == {
        "Nombre y apellidos": "name", "Correo electrónico": "email", "Teléfono": "phone",
        "Fecha de nacimiento": "birth_date", "Observaciones": "notes",
    }  # fmt: skip
    pilar = Client.objects.get(email="pilar@example.com")
    assert pilar.name == "Pilar Sanz" and str(pilar.birth_date) == "1990-12-31" and pilar.notes == "Piel sensible"
    assert Client.objects.get(name="Jesús Peña").email is None


def test_a_spanish_sales_file_with_comma_decimals_reconciles(tmp_path):
    path = write(tmp_path, "ventas.csv", "Fecha;Concepto;Importe\n31/12/2024;Corte;12,50\n01/01/2025;Tinte;1.234,50\n")

    code, report = run("generic", path)

    assert code == 0, report
    assert Cart.objects.count() == 2
    assert {m["name"]: m["beils"] for m in report["money"]}["sales"] == "1247.00"


def test_the_command_prints_the_guessed_mapping(tmp_path):
    path = write(tmp_path, "clientes.csv", MESSY)

    code, text = run("generic", path, json_report=False, dry_run=True)

    assert code == 0
    assert "Correo electrónico → email" in text and "Fecha de nacimiento → birth_date" in text


def test_it_refuses_a_file_whose_required_field_has_no_column_and_names_it(tmp_path):
    path = write(tmp_path, "ventas.csv", "Concepto;Importe;Cliente\nCorte;12,50;Ana\n")

    code, text = run("generic", path, json_report=False, entity="sales")

    assert code == 1
    assert "ventas.csv" in text and "date" in text and "--map" in text
    assert counts()["Cart"] == 0


def test_map_overrides_the_guess(tmp_path):
    path = write(tmp_path, "raro.csv", "Col A;Col B\nAna;ana@example.com\n")

    code, report = run("generic", path, entity="clients", map=["Col A=name", "Col B=email"])

    assert code == 0, report
    assert Client.objects.get(email="ana@example.com").name == "Ana"


def test_a_mapping_remembered_for_the_source_is_used_for_its_next_file(tmp_path):
    remember_mapping(source="Mi peluquería", resource="peers.clients", mapping={"Col A": "name", "Col B": "email"})
    path = write(tmp_path, "raro.csv", "Col A;Col B\nAna;ana@example.com\n")

    code, report = run("generic", path, entity="clients", source="Mi peluquería")

    assert code == 0, report
    assert Client.objects.filter(email="ana@example.com").exists()


def test_an_xlsx_file_is_read_like_a_csv(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Fecha", "Concepto", "Importe"])
    sheet.append(["31/12/2024", "Corte", 12.5])
    buffer = BytesIO()
    book.save(buffer)
    path = tmp_path / "ventas.xlsx"
    path.write_bytes(buffer.getvalue())

    code, report = run("generic", path)

    assert code == 0, report
    assert Cart.objects.get().total == Decimal("12.50")


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x01\x02PK\x03\x04garbage" * 10, b"PK\x03\x04 not really a zip", "solo una línea".encode()],
)
def test_unreadable_files_are_refused_with_a_message_and_nothing_written(tmp_path, content):
    path = tmp_path / "basura.csv"
    path.write_bytes(content)

    code, text = run("generic", path, json_report=False)

    assert code == 1 and "basura.csv" in text
    assert counts()["Client"] == 0


def test_an_unknown_profile_is_refused_with_the_known_ones(tmp_path):
    code, text = run("vagaro", write(tmp_path, "a.csv", MESSY), json_report=False)

    assert code == 1 and "fresha" in text and "generic" in text
