"""The import engine with the generic profile: everything checked before anything is written,
a second run creates nothing, a killed run carries on, a dry run writes nothing, and the money
reconciles to the cent."""

from decimal import Decimal
from unittest import mock

import pytest

from audit.models import AuditEntry
from crm.models import Client
from legacy.models import LegacyKey
from legacy.peers import clients as peers_clients
from marketing.models import ClientBonus, GiftCard
from sales.chain import invoice_chain_verify
from sales.models import Cart, CartStatus, Invoice, Payment
from tests.legacy.peers.helpers import counts, run, write

pytestmark = pytest.mark.django_db

CLIENTS = """ID;Nombre;Apellidos;Correo electrónico;Teléfono;Fecha de nacimiento
C1;Ana;García;ana@example.com;600 111 222;31/12/1990
C2;Luis;Pérez;luis@example.com;+34 600 333 444;01/02/1985
C3;Marta;Ruiz;;611 222 333;
"""
APPOINTMENTS = """ID;ID cliente;Fecha;Hora;Duración;Servicio;Estado
A1;C1;02/03/2024;10:30;45;Corte;Completada
A2;C2;03/03/2030;11:00;1h 30m;Tinte;Confirmada
A3;C9;03/03/2030;12:00;30;Corte;Confirmada
"""
SALES = """Nº ticket;Fecha;ID cliente;Concepto;Tipo;Cantidad;Importe;IVA;Forma de pago
T1;02/03/2024 10:30;C1;Corte;service;1;25,00;21;Efectivo
T1;02/03/2024 10:30;C1;Champú;product;2;12,50;21;Efectivo
T2;03/03/2024 12:00;;Manicura;;1;18,00;10;Tarjeta
T3;04/03/2024 12:00;C2;Corte;;1;-25,00;21;Tarjeta
"""
BALANCES = """Código;Tipo;ID cliente;Valor inicial;Saldo;Sesiones restantes;Nombre;Caduca
GC-001;Tarjeta regalo;C1;50,00;30,50;;;31/12/2030
GC-002;Tarjeta regalo;;20,00;0,00;;;
B-1;Bono;C2;120,00;;4;Bono 5 masajes;
"""


@pytest.fixture
def files(tmp_path):
    return [write(tmp_path, name, text) for name, text in
            (("clientes.csv", CLIENTS), ("citas.csv", APPOINTMENTS), ("ventas.csv", SALES), ("bonos.csv", BALANCES))]  # fmt: skip


def test_it_imports_every_entity_and_reconciles_to_the_cent(files):
    code, report = run("generic", *files)

    assert code == 0, report
    assert report["entities"]["clients"] == {"read": 3, "created": 3, "updated": 0, "already": 0, "skipped": 0}
    assert report["entities"]["appointments"]["created"] == 2
    assert report["entities"]["appointments"]["skipped"] == 1
    assert report["entities"]["sales"] == {"read": 3, "created": 2, "updated": 0, "already": 0, "skipped": 1}
    assert report["entities"]["balances"] == {"read": 3, "created": 2, "updated": 0, "already": 0, "skipped": 1}
    money = {m["name"]: m for m in report["money"]}
    assert money["sales"]["source"] == "30.50" and money["sales"]["skipped"] == "-25.00"
    assert money["sales"]["beils"] == "55.50" and money["sales"]["ok"]
    assert money["gift_cards"]["beils"] == "30.50" and money["gift_cards"]["ok"]
    assert money["bono_sessions"]["beils"] == "4"
    assert report["reconciled"]
    ana = Client.objects.get(email="ana@example.com")
    assert str(ana.birth_date) == "1990-12-31"
    sale = Cart.objects.get(client=ana)
    assert sale.status == CartStatus.COMPLETED and sale.total == Decimal("37.50")
    assert sale.tax_total == Decimal("6.51") and sale.items.count() == 2
    assert Payment.objects.get(cart=sale).amount == Decimal("37.50")
    card = GiftCard.objects.get(code="GC-001")
    assert card.current_balance == Decimal("30.50") and card.initial_balance == Decimal("50.00")
    assert sum(m.amount for m in card.movements.all()) == Decimal("30.50")
    assert ClientBonus.objects.get().sessions_remaining == 4
    skipped = {(s["entity"], s["row"]): s["reason"] for s in report["skipped"]}
    assert "no client" in skipped[("appointments", 4)]
    assert "refund" in skipped[("sales", 5)]
    assert "nothing left" in skipped[("balances", 3)]


def test_imported_sales_are_not_invoiced_and_the_invoice_chain_still_verifies(files):
    run("generic", *files)

    assert Invoice.objects.count() == 0
    assert invoice_chain_verify().ok


def test_a_second_run_creates_nothing_and_reports_every_row_as_already_imported(files):
    run("generic", *files)
    before = counts()

    code, report = run("generic", *files)

    assert code == 0
    assert counts() == before
    assert all(c["created"] == 0 for c in report["entities"].values())
    assert report["entities"]["clients"]["already"] == 3
    assert report["entities"]["sales"]["already"] == 2
    assert report["entities"]["balances"]["already"] == 2
    assert report["reconciled"]


def test_a_run_killed_after_the_clients_carries_on_without_duplicates(files):
    with mock.patch.object(peers_clients.Booking.objects, "create", side_effect=RuntimeError("killed")):
        code, text = run("generic", *files, json_report=False)
    assert code == 1 and "running it again" in text.lower()
    assert Client.objects.count() == 3 and Cart.objects.count() == 0

    code, report = run("generic", *files)

    assert code == 0, report
    assert report["entities"]["clients"]["already"] == 3
    assert report["entities"]["appointments"]["created"] == 2
    assert Client.objects.count() == 3 and Cart.objects.count() == 2
    assert AuditEntry.objects.filter(action="legacy.peers.failed").count() == 1


def test_a_dry_run_writes_nothing_and_reports_what_it_would_create(files):
    before = counts()

    code, report = run("generic", *files, dry_run=True)

    assert code == 0
    assert counts() == before
    assert report["dry_run"] and report["entities"]["clients"]["created"] == 3
    assert {m["name"]: m["beils"] for m in report["money"]}["sales"] == "55.50"
    assert AuditEntry.objects.filter(action="legacy.peers.dry_run").count() == 1


def test_one_bad_row_writes_nothing_and_every_bad_row_is_named(tmp_path, files):
    bad = write(
        tmp_path, "ventas.csv", SALES + "T4;31/02/2024;C1;Corte;;1;doce;21;Efectivo\nT5;xx;C1;Corte;;1;1,00;21;\n"
    )
    before = counts()

    code, report = run("generic", files[0], bad)

    assert code == 1
    assert counts() == before
    errors = {(e["file"], e["row"], e["column"]) for e in report["errors"]}
    assert errors == {("ventas.csv", 6, "Fecha"), ("ventas.csv", 6, "Importe"), ("ventas.csv", 7, "Fecha")}
    assert AuditEntry.objects.filter(action="legacy.peers.failed").exists()


def test_the_text_report_names_each_bad_row(tmp_path):
    bad = write(tmp_path, "clientes.csv", "Nombre;Correo\nAna;no-es-un-correo\n")

    code, text = run("generic", bad, json_report=False)

    assert code == 1
    assert "clientes.csv" in text and "row 2" in text and "Correo" in text and "Nothing was imported" in text


def test_a_client_already_in_beils_with_the_same_email_is_linked_not_duplicated(files):
    Client.objects.create(name="Ana", surname="G.", email="ana@example.com")

    code, report = run("generic", files[0])

    assert Client.objects.filter(email="ana@example.com").count() == 1
    assert report["entities"]["clients"]["created"] == 2 and report["entities"]["clients"]["updated"] == 1
    assert LegacyKey.objects.filter(entity="generic.clients").count() == 3


def test_likely_duplicate_clients_are_listed_by_phone_and_by_name_and_birth_date(tmp_path, files):
    twin = Client.objects.create(name="ANA", surname="garcía", birth_date="1990-12-31")
    other = Client.objects.create(name="Marta R.", phone="0034 611-222-333")
    gone = Client.all_objects.create(name="Marta", phone="611 222 333", status="OFF")  # deactivated: not listed

    code, report = run("generic", files[0])

    groups = {(g["by"], tuple(g["clients"])) for g in report["duplicates"]}
    assert not [g for g in report["duplicates"] if gone.pk in g["clients"]]
    ana = Client.objects.get(email="ana@example.com").pk
    marta = Client.objects.get(name="Marta").pk
    assert ("name and birth date", tuple(sorted((ana, twin.pk)))) in groups
    assert ("phone", tuple(sorted((marta, other.pk)))) in groups


def test_a_second_import_while_one_is_writing_is_refused_and_writes_nothing(files):
    from backups.locks import single_run_lock

    with single_run_lock("import_from"):
        code, text = run("generic", *files, json_report=False)

    assert code == 1 and "import_from" in text
    assert Client.objects.count() == 0
