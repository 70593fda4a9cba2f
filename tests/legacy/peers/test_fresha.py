"""Fresha's client and service exports (and a plausible appointment export) reconcile as the
fixtures' README says.

Columns: Fresha's real exports read by
https://github.com/dariolr/Agenda_Project/blob/main/agenda_core/migrations/fromfresha/import_clients.php
and https://github.com/dariolr/Agenda_Project/blob/main/agenda_core/migrations/fromfresha/export_service_list.csv
(an Italian account: Fresha localises headers); Reports Overview:
https://support.fresha.com/hc/en-us/articles/115001918849-Reports-Overview . No appointment
export is documented: the appointments file borrows the Data Connector's Bookings columns
(https://www.fresha.com/help-center/knowledge-base/reports/279-data-connector-tables).
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bookings.models import Booking, BookingStatus
from catalog.models import Service
from crm.models import Client
from legacy.models import LegacyKey
from tests.legacy.peers.helpers import FILES, counts, run

pytestmark = pytest.mark.django_db
F = FILES / "fresha"


@pytest.mark.parametrize("name", ["clients.csv", "clients.xlsx"])
def test_the_client_list_reconciles_with_its_duplicate_linked_and_its_nameless_row_skipped(name):
    code, report = run("fresha", F / name)

    assert code == 0, report
    assert report["entities"]["clients"] == {"read": 12, "created": 10, "updated": 1, "already": 0, "skipped": 1}
    assert [(s["row"], s["reason"]) for s in report["skipped"]] == [(12, "a client with neither a name nor an e-mail")]
    lucia = Client.objects.get(email="lucia.gomez@gmail.com")
    assert report["duplicates"] == [{"by": "email", "clients": [lucia.pk], "source_ids": ["301000003", "301000004"]}]
    assert Client.objects.count() == 10
    assert str(Client.objects.get(email="mariajose.nunez@gmail.com").birth_date) == "1985-03-14"
    assert Client.objects.get(name="Ángel").surname == "Muñoz"  # blocked in Fresha: imported, not refused
    assert Client.objects.get(name="Chloé").email is None


def test_a_second_run_of_the_client_list_creates_and_updates_nothing():
    run("fresha", F / "clients.csv")
    before = counts()

    code, report = run("fresha", F / "clients.csv")

    assert counts() == before
    assert report["entities"]["clients"]["created"] == 0 and report["entities"]["clients"]["updated"] == 0


def test_the_italian_service_list_reconciles_with_durations_in_minutes():
    code, report = run("fresha", F / "services.csv")

    assert code == 0, report
    assert report["entities"]["services"] == {"read": 8, "created": 7, "updated": 0, "already": 0, "skipped": 1}
    assert report["skipped"][0]["row"] == 9 and "negative" in report["skipped"][0]["reason"]
    services = Service.objects.order_by("pk")
    assert sum(s.price for s in services) == Decimal("248.00")
    assert [s.duration_minutes for s in services] == [45, 75, 45, 60, 150, 15, 15]
    assert services.filter(name="Mechas balayage").exists()  # " - From" is Fresha's, not the name's
    assert all(s.tax_rate == Decimal("21.00") for s in services)  # "Imposta" names a tax, not a rate


def test_a_service_without_an_id_is_not_created_again_on_a_second_run():
    run("fresha", F / "services.csv")

    code, report = run("fresha", F / "services.csv")

    assert report["entities"]["services"]["created"] == 0 and report["entities"]["services"]["already"] == 7
    assert Service.objects.count() == 7


def test_appointments_after_their_clients_make_six_bookings_of_seven_services():
    code, report = run("fresha", F / "services.csv", F / "clients.csv", F / "appointments_plausible.csv")

    assert code == 0, report
    assert report["entities"]["appointments"] == {"read": 7, "created": 6, "updated": 0, "already": 0, "skipped": 1}
    skipped = [s for s in report["skipped"] if s["entity"] == "appointments"]
    assert [(s["row"], s["reason"]) for s in skipped] == [(9, "the appointment names no client")]
    assert Booking.objects.count() == 6
    assert sum(b.items.count() for b in Booking.objects.all()) == 7
    today = datetime(2026, 12, 3, tzinfo=UTC)
    by_status = {b.status for b in Booking.objects.filter(start__lt=today)}
    assert by_status == {BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.CANCELLED}
    future = Booking.objects.filter(start__gte=today)
    assert {b.status for b in future} == {BookingStatus.CONFIRMED} and future.count() == 2
    two = Booking.objects.get(items__name="Mechas balayage")
    assert two.items.count() == 2 and two.duration_minutes == 195  # 09:30 to 12:45
    assert LegacyKey.objects.filter(entity="fresha.appointments").count() == 6


def test_the_bookings_are_not_created_again_when_the_three_files_are_imported_twice():
    files = (F / "services.csv", F / "clients.csv", F / "appointments_plausible.csv")
    run("fresha", *files)
    before = counts()

    code, report = run("fresha", *files)

    assert code == 0 and counts() == before
    assert report["entities"]["appointments"]["already"] == 6


def test_a_client_erased_in_beils_is_not_brought_back_by_importing_the_file_again(admin_user):
    from crm.erasure import client_erase

    run("fresha", F / "clients.csv")
    client_erase(client=Client.objects.get(email="mariajose.nunez@gmail.com"), actor=admin_user)

    code, report = run("fresha", F / "clients.csv")

    assert code == 0, report
    assert any(s["row"] == 2 and "erased" in s["reason"] for s in report["skipped"])
    assert not Client.all_objects.filter(name="María José").exists()
    assert not Client.all_objects.filter(email="mariajose.nunez@gmail.com").exists()


def test_appointments_of_an_erased_client_are_skipped_not_recreated(admin_user):
    from crm.erasure import client_erase

    run("fresha", F / "services.csv", F / "clients.csv")
    client_erase(client=Client.objects.get(email="mariajose.nunez@gmail.com"), actor=admin_user)

    code, report = run("fresha", F / "appointments_plausible.csv")

    assert code == 0, report
    assert any(s["row"] == 2 and "erased" in s["reason"] for s in report["skipped"])
    assert Booking.objects.count() == 5


def test_fresha_phones_get_the_plus_of_their_country_code():
    run("fresha", F / "clients.csv")

    assert Client.objects.get(email="mariajose.nunez@gmail.com").phone == "+34 612 345 678"


def test_a_service_repriced_in_beils_keeps_its_price_when_the_file_is_imported_again():
    run("fresha", F / "services.csv")
    Service.objects.filter(name="Corte y peinado").update(price=Decimal("39.00"))

    code, report = run("fresha", F / "services.csv")

    assert Service.objects.get(name="Corte y peinado").price == Decimal("39.00")
    assert report["entities"]["services"]["updated"] == 0
