"""The batched import's per-file shortcuts (transfer/importing.py) give Django's own answers:
field validation as full_clean(), new instances as Model(), INSERT literals as MySQLdb, and
a batch whose INSERT runs while the next batch is read is settled before anything else."""

from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from beils.lib.formats import CSV
from catalog.models import Product, Service
from crm.models import Client
from transfer.importing import ImportBatch, _mysql_literal
from transfer.resources.crm import ClientResource
from transfer.validation import RowValidator, instance_factory

mariadb_only = pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB only")


def _full_clean_errors(instance, exclude=()):
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as e:
        return e.message_dict
    return {}


def _compiled_errors(instance, exclude=()):
    try:
        RowValidator(type(instance))(instance, exclude=set(exclude))
    except ValidationError as e:
        return e.message_dict
    return {}


CASES = [
    {},
    {"email": "not-an-email"},
    {"email": "ana@salon.es", "name": ""},
    {"name": None},
    {"name": "x" * 101},
    {"gender": "Q"},
    {"gender": "F", "document_type": "DNI", "document_number": "1X"},
    {"country": "ESP", "postal_code": "2" * 21, "email": "a" * 250 + "@salon.es"},
    {"status": "MAYBE"},
    {"birth_date": "not a date"},
    {"birth_date": date(1990, 2, 3), "created_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)},
    {"created_at": "2024-13-01 10:00"},
    {"surname": "", "phone": "", "notes": ""},
    {"name": 12345},
]


@pytest.mark.parametrize("values", CASES)
def test_the_compiled_validation_says_what_full_clean_says(values):
    kwargs = {"name": "Ana", "email": "ana@salon.es", "created_at": timezone.now(), **values}
    expected, compiled = Client(**kwargs), Client(**kwargs)

    assert _compiled_errors(compiled) == _full_clean_errors(expected)
    # And leaves the instance as full_clean() does (to_python's conversions).
    assert {f.attname: getattr(compiled, f.attname) for f in Client._meta.fields} == {
        f.attname: getattr(expected, f.attname) for f in Client._meta.fields
    }


def test_the_compiled_validation_skips_excluded_fields_and_runs_the_model_s_clean(monkeypatch):
    calls = []
    monkeypatch.setattr(Client, "clean", lambda self: calls.append(self) or None, raising=False)
    instance = Client(name="", email="bad")

    compiled = _compiled_errors(instance, exclude={"email"})
    assert calls == [instance]
    assert compiled == _full_clean_errors(instance, exclude={"email"})
    assert set(compiled) == {"name"}


def test_new_instances_are_what_the_model_s_constructor_makes():
    make = instance_factory(Client)
    made, built = make(), Client()

    plain = {f.attname for f in Client._meta.concrete_fields} - {"created_at"}
    assert {a: getattr(made, a) for a in plain} == {a: getattr(built, a) for a in plain}
    assert made._state.adding and made._state.db is None
    # A default that is a callable is asked for every row.
    assert abs(made.created_at - timezone.now()).total_seconds() < 5
    assert make().created_at is not made.created_at
    assert make().__dict__ is not made.__dict__


def test_models_with_their_own_descriptors_keep_their_constructor():
    assert instance_factory(Product) is Product  # an image field
    assert instance_factory(Service) is not Service


@mariadb_only
@pytest.mark.django_db
def test_the_insert_literals_are_the_ones_mysqldb_writes():
    connection.ensure_connection()
    db = connection.connection
    tricky = 'O\'Brien \\ "quoted" \n\x1a ñ 😀'
    instance = Client(
        name=tricky,
        surname=None,
        email="o@salon.es",
        birth_date=date(1990, 2, 3),
        created_at=timezone.make_aware(datetime(2024, 6, 1, 10, 30, 15, 123456)),
        notes="",
    )
    for field in Client._meta.concrete_fields:
        if field.primary_key or field.name == "updated_at":
            continue
        expected = db.literal(field.get_db_prep_save(field.pre_save(instance, True), connection))
        assert _mysql_literal(field, connection)(instance) == expected, field.name


def _csv(rows):
    return CSV().create_dataset(("Email,Name,ID,Document type,Document number\r\n" + "".join(rows)).encode())


def _count_sends(monkeypatch):
    """The batches whose INSERT ran while the next batch was read (MariaDB only)."""
    sent, send = [], ImportBatch._send
    monkeypatch.setattr(ImportBatch, "_send", lambda self, *args: sent.append(1) or send(self, *args))
    return sent


@pytest.mark.django_db
def test_a_row_refused_by_the_database_in_a_later_batch_is_named_and_nothing_is_written(monkeypatch):
    resource = ClientResource(invalid_rows_are_errors=False)
    monkeypatch.setattr(resource._meta, "batch_size", 10)
    rows = [f"c{i}@salon.es,Client {i},,,\r\n" for i in range(35)]
    rows[23] = "c23@salon.es,Client 23,,,99Z\r\n"  # a document number without its type: CHECK
    sent = _count_sends(monkeypatch)

    result = resource.import_data(_csv(rows))

    assert len(sent) == (3 if connection.vendor == "mysql" else 0)  # the fourth batch is not written
    assert [row.number for row in result.invalid_rows] == [24]
    assert "crm_client_document_has_type" in " ".join(result.invalid_rows[0].error.messages)
    assert not Client.all_objects.exists()


@pytest.mark.django_db
def test_a_look_up_while_a_batch_is_being_written_waits_for_it(monkeypatch):
    kept = Client.all_objects.create(name="Kept", email=None)
    resource = ClientResource()
    monkeypatch.setattr(resource._meta, "batch_size", 10)
    rows = [f"c{i}@salon.es,Client {i},,,\r\n" for i in range(25)]
    rows[14] = f",Kept,{kept.pk},,\r\n"  # matched by ID: a query in the middle of the next batch
    sent = _count_sends(monkeypatch)

    result = resource.import_data(_csv(rows))

    assert len(sent) == (3 if connection.vendor == "mysql" else 0)
    assert not result.has_errors() and not result.has_validation_errors()
    assert (result.totals["new"], result.totals["skip"]) == (24, 1)
    assert Client.all_objects.count() == 25
    ids = [row.object_id for row in result.rows if row.import_type == "new"]
    assert sorted(ids) == sorted(Client.all_objects.exclude(pk=kept.pk).values_list("pk", flat=True))


@pytest.mark.django_db
def test_every_insert_is_in_the_query_log(monkeypatch):
    resource = ClientResource()
    monkeypatch.setattr(resource._meta, "batch_size", 10)
    with CaptureQueriesContext(connection) as queries:
        result = resource.import_data(_csv([f"c{i}@salon.es,Client {i},,,\r\n" for i in range(25)]))

    assert result.totals["new"] == 25
    inserts = [q["sql"] for q in queries if q["sql"].startswith("INSERT INTO") and "crm_client" in q["sql"]]
    assert len(inserts) == 3
    assert "c24@salon.es" in inserts[-1]


@pytest.mark.django_db
def test_a_failing_import_leaves_the_connection_usable(monkeypatch):
    resource = ClientResource()
    monkeypatch.setattr(resource._meta, "batch_size", 10)
    calls = []

    def progress(done, total):
        calls.append(done)
        raise RuntimeError("the job was cancelled")

    resource.progress = progress
    sent = _count_sends(monkeypatch)
    rows = [f"c{i}@salon.es,Client {i},,,\r\n" for i in range(600)]
    with pytest.raises(RuntimeError):
        resource.import_data(_csv(rows))

    assert calls == [500]
    assert not Client.all_objects.exists()  # and the connection still answers
    # Rows 1-490 were sent (a batch is written once the next one has been read, issue 17); the
    # last one was in flight when the import failed.
    assert len(sent) == (49 if connection.vendor == "mysql" else 0)


@pytest.mark.django_db
def test_a_key_taken_after_the_look_up_is_still_refused_by_the_database_and_named(monkeypatch):
    from transfer.resources.loading import BatchInstanceLoader

    looked_up = BatchInstanceLoader.__init__

    def look_up_then_someone_takes_a_key(self, *args, **kwargs):
        looked_up(self, *args, **kwargs)
        Client.all_objects.create(name="Quick", email="c3@salon.es")

    monkeypatch.setattr(BatchInstanceLoader, "__init__", look_up_then_someone_takes_a_key)
    resource = ClientResource(invalid_rows_are_errors=False)

    result = resource.import_data(_csv([f"c{i}@salon.es,Client {i},,,\r\n" for i in range(5)]))

    assert {row.number: row.error.messages for row in result.invalid_rows} == {
        4: ["Client with this Email already exists."]
    }
    assert not Client.all_objects.exists()  # (Quick was taken inside the import's transaction)
