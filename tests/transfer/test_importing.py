"""Validated imports in batches (transfer/importing.py): the same verdicts as row-by-row
validation, in a number of queries that does not grow with the file."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from beils.lib.formats import CSV
from catalog.models import Service
from crm.models import Client
from tests import factories as f
from transfer.resources.catalog import ServiceResource
from transfer.resources.crm import ClientResource

pytestmark = pytest.mark.django_db


def _dataset(text: str):
    return CSV().create_dataset(text.encode())


def _services_csv(count: int, category="Hair") -> str:
    lines = ["Code,Name,Category,Price,Duration minutes"]
    lines += [f"S-{i},Service {i},{category},{10 + i}.50,30" for i in range(count)]
    return "\r\n".join(lines) + "\r\n"


def _invalid(result) -> dict[int, str]:
    return {row.number: " ".join(str(m) for m in row.error.messages) for row in result.invalid_rows}


def _import_queries(text: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        result = ServiceResource(invalid_rows_are_errors=False).import_data(_dataset(text))
    assert not result.has_errors() and not result.has_validation_errors(), _invalid(result)
    return len(queries)


def test_a_valid_file_costs_a_handful_of_queries_not_one_per_row():
    f.CategoryFactory(name="Hair")
    small = _import_queries(_services_csv(30))
    Service.all_objects.all().delete()

    large = _import_queries(_services_csv(600))

    assert Service.all_objects.count() == 600
    # Only the INSERT is split, by the database's limit on parameters per statement.
    assert large - small < 600 / 50
    assert Service.all_objects.get(code="S-599").category.name == "Hair"


def test_updates_are_written_in_bulk_and_unchanged_rows_are_skipped():
    category = f.CategoryFactory(name="Hair")
    f.ServiceFactory(code="S-0", name="Old", category=category, price="10.50", duration_minutes=30)
    f.ServiceFactory(code="S-1", name="Service 1", category=category, price="11.50", duration_minutes=30)

    result = ServiceResource().import_data(_dataset(_services_csv(3)))

    assert (result.totals["update"], result.totals["skip"], result.totals["new"]) == (1, 1, 1)
    assert Service.all_objects.get(code="S-0").name == "Service 0"


def test_two_rows_claiming_one_unique_value_are_refused_with_both_row_numbers():
    csv = "Email,Name,Legacy ID\r\na@salon.es,Ana,L-1\r\nb@salon.es,Bea,L-2\r\nc@salon.es,Carla,l-1\r\n"

    result = ClientResource(invalid_rows_are_errors=False).import_data(_dataset(csv))

    assert _invalid(result) == {3: "Client with this Legacy id already exists. (also on row 1 of this file)"}
    assert not Client.all_objects.exists()


def test_a_unique_value_already_held_by_another_row_is_refused():
    f.ClientFactory(email="old@salon.es", legacy_id="L-9")
    claim = "Email,Name,Legacy ID\r\nnew@salon.es,Nora,L-9\r\n"
    holder = "Email,Name,Legacy ID\r\nold@salon.es,Olga,L-9\r\n"

    result = ClientResource(invalid_rows_are_errors=False).import_data(_dataset(claim))
    assert _invalid(result) == {1: "Client with this Legacy id already exists."}
    assert Client.all_objects.count() == 1

    # The client that holds L-9 may keep it.
    result = ClientResource(invalid_rows_are_errors=False).import_data(_dataset(holder))
    assert not result.has_validation_errors()
    assert Client.all_objects.get().name == "Olga"


def test_a_row_the_database_refuses_is_named_and_nothing_is_written():
    csv = "Email,Name,Document type,Document number\r\nok@salon.es,Ok,DNI,1X\r\nbad@salon.es,Bad,,2Y\r\n"

    result = ClientResource(invalid_rows_are_errors=False).import_data(_dataset(csv))

    assert list(_invalid(result)) == [2]
    assert "crm_client_document_has_type" in _invalid(result)[2]
    assert not Client.all_objects.exists()


def test_an_invalid_row_in_a_later_batch_rolls_back_the_earlier_batches(monkeypatch):
    f.CategoryFactory(name="Hair")
    resource = ServiceResource()
    monkeypatch.setattr(resource._meta, "batch_size", 10)
    text = _services_csv(35).replace("S-33,Service 33,Hair,43.50", "S-33,Service 33,Hair,-1")

    result = resource.import_data(_dataset(text))

    assert result.has_errors()
    assert [row.number for row in result.invalid_rows] == [34]
    assert not Service.all_objects.exists()


def test_the_batch_size_is_the_resource_s_own_and_never_changes_the_class():
    resource = ServiceResource()
    resource._meta.batch_size = 10
    assert ServiceResource()._meta.batch_size == 1000
