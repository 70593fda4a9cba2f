"""Booksy documents no export of its data (its reports are downloaded as workbooks with no
published columns, and migration tools ask Booksy's support for the client list:
https://support.booksy.com/hc/en-us). Its files go through the mapping step: the common
spellings are guessed, ``--map`` fixes the rest and the mapping is remembered per source."""

import pytest

from crm.models import Client
from tests.legacy.peers.helpers import counts, run, write
from transfer.models import SavedMapping

pytestmark = pytest.mark.django_db

# A client list as Booksy's support might send it: no documented columns, so nothing assumed.
LIST = "Customer;E-mail address;Mobile;Remarks\r\nRocío Prieto;rocio@example.com;+34 611 000 111;Prefiere mañanas\r\n"


def test_a_booksy_file_is_guessed_where_it_can_be_and_refused_with_the_missing_field_where_not(tmp_path):
    path = write(tmp_path, "booksy.csv", "Kunde;Kontakt\nRocío;rocio@example.com\n")

    code, text = run("booksy", path, json_report=False, entity="clients")

    assert code == 1 and "first name" in text and "--map" in text
    assert counts()["Client"] == 0


def test_a_booksy_client_list_imports_with_map_and_the_mapping_is_kept_for_the_source(tmp_path):
    path = write(tmp_path, "clientes booksy.csv", LIST)

    code, report = run("booksy", path, entity="clients", map=["Customer=name", "Remarks=notes"])

    assert code == 0, report
    rocio = Client.objects.get(email="rocio@example.com")
    assert rocio.name == "Rocío Prieto" and rocio.phone == "+34 611 000 111" and rocio.notes == "Prefiere mañanas"
    assert not SavedMapping.objects.exists()  # the command remembers nothing; the admin's step does
