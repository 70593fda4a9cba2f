"""The import writes a batch of rows in a fixed number of statements, whatever the batch's size
(bench/peers_bench.py measures it at a group's size), and what it writes is what a row-by-row
save wrote: each new client with its history row, its e-mail lower-cased, blanks as NULL."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Client
from legacy.models import LegacyKey
from legacy.peers.engine import peers_import
from sales.models import Cart, Payment
from tests.legacy.peers.helpers import write

pytestmark = pytest.mark.django_db

HEADER = "ID;Nombre;Apellidos;Correo electrónico;Teléfono\n"


def _clients(count: int, start: int = 1) -> str:
    return "".join(f"C{i};Ana{i};García;Ana{i}@Example.com;6{i:08d}\n" for i in range(start, start + count))


def _import(tmp_path, text: str, name: str = "clientes.csv") -> tuple[dict, dict[str, int]]:
    """The report, and the statements run: INSERTs and the others."""
    path = write(tmp_path, name, HEADER + text)
    with CaptureQueriesContext(connection) as queries:
        report = peers_import(profile="generic", files=[(path.name, path.read_bytes())])
    assert report["ok"], report
    inserts = sum(1 for q in queries if q["sql"].lstrip().upper().startswith("INSERT"))
    return report, {"inserts": inserts, "others": len(queries) - inserts}


def test_a_batch_of_new_clients_takes_the_same_number_of_queries_whatever_its_size(tmp_path):
    _import(tmp_path, _clients(1, start=1000), "una.csv")  # the caches (content types, audit chain) warm
    _report, ten = _import(tmp_path, _clients(10), "diez.csv")
    _report, two_hundred = _import(tmp_path, _clients(200, start=100), "doscientos.csv")

    assert two_hundred["others"] == ten["others"]
    # The clients, their history rows and their keys: a few INSERTs (more on SQLite, which caps
    # the values of one statement), not 400 or more as a save() per client took.
    assert two_hundred["inserts"] <= 20, two_hundred
    assert Client.all_objects.count() == 211


def test_a_second_run_looks_up_a_batch_of_clients_in_the_same_number_of_queries_whatever_its_size(tmp_path):
    _import(tmp_path, _clients(1, start=1000), "una.csv")
    _import(tmp_path, _clients(10), "diez.csv")
    _import(tmp_path, _clients(200, start=100), "doscientos.csv")

    report, ten = _import(tmp_path, _clients(10), "diez.csv")
    report, two_hundred = _import(tmp_path, _clients(200, start=100), "doscientos.csv")

    assert two_hundred == ten
    assert report["entities"]["clients"]["already"] == 200


def test_each_imported_client_has_one_creation_in_its_history_as_a_save_wrote_it(tmp_path):
    report, _queries = _import(tmp_path, _clients(3) + "C4;Marta;;;\n")

    assert report["entities"]["clients"]["created"] == 4
    ana = Client.all_objects.get(email="ana2@example.com")
    assert [h.history_type for h in ana.history.all()] == ["+"]
    assert ana.history.get().name == "Ana2"
    marta = Client.all_objects.get(name="Marta")
    assert marta.surname is None and marta.email is None and marta.phone is None
    keys = dict(LegacyKey.objects.filter(entity="generic.clients").values_list("legacy_id", "object_id"))
    assert keys["C2"] == ana.pk and keys["C4"] == marta.pk


def test_a_row_of_a_batch_with_the_e_mail_of_an_earlier_row_of_it_is_linked_to_that_client(tmp_path):
    report, _queries = _import(tmp_path, "C1;Lucía;Gómez;lucia@example.com;\nC2;Lucía;;LUCIA@example.com;600111222\n")

    lucia = Client.all_objects.get()
    assert report["entities"]["clients"]["created"] == 1 and report["entities"]["clients"]["updated"] == 1
    assert lucia.phone == "600111222"  # the second row's phone filled the blank
    assert [h.history_type for h in lucia.history.order_by("history_id")] == ["+", "~"]
    assert set(LegacyKey.objects.filter(entity="generic.clients").values_list("object_id", flat=True)) == {lucia.pk}


SALES_HEADER = "Nº ticket;Fecha;ID cliente;Email del cliente;Concepto;Cantidad;Importe;IVA;Forma de pago\n"


def _sales(count: int, start: int) -> str:
    return "".join(
        f"T{i};02/03/2024 10:30;C{i % 5 + 1};ana{i % 5 + 1}@example.com;Corte;1;25,00;21;Efectivo\n"
        f"T{i};02/03/2024 10:30;C{i % 5 + 1};ana{i % 5 + 1}@example.com;Champú;1;12,50;21;Tarjeta\n"
        for i in range(start, start + count)
    )


def _import_sales(tmp_path, text: str, name: str) -> tuple[dict, dict[str, int]]:
    path = write(tmp_path, name, SALES_HEADER + text)
    with CaptureQueriesContext(connection) as queries:
        report = peers_import(profile="generic", files=[(path.name, path.read_bytes())], entity="sales")
    assert report["ok"], report
    inserts = sum(1 for q in queries if q["sql"].lstrip().upper().startswith("INSERT"))
    return report, {"inserts": inserts, "others": len(queries) - inserts}


def test_a_batch_of_sales_takes_the_same_number_of_queries_whatever_its_size(tmp_path):
    _import(tmp_path, _clients(5))
    _import_sales(tmp_path, _sales(1, start=1000), "una.csv")  # the catalogue items made, the caches warm
    report, ten = _import_sales(tmp_path, _sales(10, start=1), "diez.csv")
    report, two_hundred = _import_sales(tmp_path, _sales(200, start=100), "doscientos.csv")

    assert two_hundred["others"] == ten["others"]
    # Carts, lines, payments and three kinds of keys (more on SQLite, which caps the values of
    # one statement): not the 1 200 or so of a sale at a time.
    assert two_hundred["inserts"] <= 40, two_hundred
    assert report["entities"]["sales"]["created"] == 200 and report["reconciled"]
    carts = Cart.objects.filter(notes__contains="sale T150.")
    assert carts.get().client.email == "ana1@example.com"
    assert carts.get().total == Decimal("37.50")
    assert LegacyKey.objects.filter(entity="generic.sale_lines").count() == 2 * 211
    assert LegacyKey.objects.filter(entity="generic.payments", legacy_id="T150#1").get().object_id == (
        Payment.objects.get(cart=carts.get()).pk
    )


def test_reading_a_file_keeps_the_mapped_values_not_every_cell():
    """A wide export (Phorest's sales file has 35 columns) is read a row at a time: what stays
    in memory is each row's values for the mapped columns, not every cell of every row."""
    import tracemalloc

    from legacy.peers.profiles import get_profile
    from legacy.peers.reading import parse_file

    unmapped = [f"Extra {n}" for n in range(30)]
    head = ";".join(["ID", "Nombre", "Correo electrónico", *unmapped])
    rows = (";".join([f"C{i}", f"Ana{i}", f"ana{i}@example.com", *(f"valor {n} de la fila {i}" for n in range(30))])
            for i in range(10_000))  # fmt: skip
    content = "\n".join([head, *rows]).encode()
    every_cell = 10_000 * 33 * 60  # a dict of 33 strings a row, at the least, had every cell been kept

    tracemalloc.start()
    try:
        parsed = parse_file(get_profile("generic"), "clientes.csv", content, entity="clients")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert parsed.rows_read == 10_000 and len(parsed.rows) == 10_000 and not parsed.errors
    assert parsed.rows[-1].values["email"] == "ana9999@example.com"
    assert peak < every_cell / 2, f"{peak / 2**20:.1f} MiB held while reading"
