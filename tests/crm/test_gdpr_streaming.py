"""The GDPR export is written as it is read (issue 17): the same document as the in-memory
export it replaced, a number of queries that does not grow with the person's history, and an
audit entry whatever becomes of the download."""

import json
import os
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEntry, Outcome
from crm.gdpr import (
    EXPORTED_ACTION,
    SCHEMA,
    SCHEMA_VERSION,
    Person,
    _columns,
    _plain,
    client_data_collect,
    client_data_stream,
    client_data_zip_file,
    client_rows,
)
from crm.models import Client
from crm.personal_data import REGISTRY
from maintenance.archive import archive_run
from tests import factories as f
from tests.crm.support import client_with_everything
from tests.helpers import admin_url, api_as

pytestmark = pytest.mark.django_db


def in_memory_document(client) -> dict:
    """The export as Beils built it before issue 17: every row loaded as a model instance, the
    whole document held in memory. Kept here as the reference the stream must reproduce."""
    person = Person.of(client)  # the client and the older records merged into them
    rows = client_rows(client=person)
    sections = {
        holder.section: {
            "model": holder.get_model()._meta.label_lower,
            "personal_fields": {name: str(level) for name, level in holder.fields.items()},
            "rows": [
                {f.attname: _plain(f.value_from_object(row)) for f in _columns(holder)} for row in rows[holder.section]
            ],
        }
        for holder in REGISTRY
    }
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated_at": timezone.now().isoformat(),
        "client_id": client.pk,
        "merged_client_ids": list(person.ids[1:]),
        "counts": {name: len(section["rows"]) for name, section in sections.items()},
        "sections": sections,
    }


@pytest.fixture
def lucia():
    lucia = client_with_everything("Lucia")
    archive_run(dry_run=False)
    return lucia


def _with_bookings_and_sales(count: int):
    client, staff = f.ClientFactory(), f.UserFactory()
    start = timezone.now() + timedelta(days=1)
    for i in range(count):
        booking = f.BookingFactory(client=client, staff=staff, start=start + timedelta(hours=i), notes=f"visit {i}")
        f.BookingItemFactory(booking=booking)
        sale = f.CompletedCartFactory(client=client, booking=booking)
        f.CartItemFactory(cart=sale)
        f.PaymentFactory(cart=sale)
        f.AuditEntryFactory(target_type="bookings.booking", target_id=str(booking.pk))
    return client


def test_the_streamed_document_is_byte_for_byte_the_in_memory_one(lucia):
    expected = in_memory_document(lucia)  # first: the export's own audit entry is about her too
    streamed = b"".join(client_data_stream(client=lucia, actor=None, indent=2)).decode()
    expected["generated_at"] = json.loads(streamed)["generated_at"]
    assert streamed == json.dumps(expected, indent=2, ensure_ascii=False)


def test_the_compact_stream_parses_as_the_in_memory_document(lucia):
    expected = in_memory_document(lucia)
    streamed = b"".join(client_data_stream(client=lucia, actor=None))
    assert b"\n" not in streamed  # DRF's compact rendering, as the API gave before
    document = json.loads(streamed)
    expected["generated_at"] = document["generated_at"]
    assert document == expected
    assert all(document["counts"].values())


def test_an_empty_history_streams_empty_sections():
    client = f.ClientFactory()
    document = client_data_collect(client=client)
    assert document["counts"]["bookings"] == 0 and document["sections"]["bookings"]["rows"] == []
    assert document["counts"]["profile"] == 1


def test_the_number_of_queries_does_not_grow_with_the_history():
    def queries(client) -> int:
        with CaptureQueriesContext(connection) as captured:
            b"".join(client_data_stream(client=client, actor=None))
        return len(captured)

    small, big = _with_bookings_and_sales(10), _with_bookings_and_sales(100)
    assert client_data_collect(client=big)["counts"]["bookings"] == 100
    assert queries(small) == queries(big)


def test_the_api_streams_the_document_and_audits_once_the_last_byte_is_out(lucia, manager_user):
    response = api_as(manager_user).get(f"/api/clients/{lucia.pk}/gdpr-export")
    assert response.streaming and response["Content-Type"] == "application/json"
    assert not AuditEntry.objects.filter(action=EXPORTED_ACTION).exists()  # nothing read yet
    document = json.loads(b"".join(response.streaming_content))
    entry = AuditEntry.objects.get(action=EXPORTED_ACTION)
    assert entry.outcome == Outcome.SUCCESS and entry.detail["counts"]["bookings"] == document["counts"]["bookings"]


def test_an_abandoned_download_is_audited_as_a_failure(manager_user):
    client = _with_bookings_and_sales(60)  # more than one chunk of the document
    chunks = client_data_stream(client=client, actor=manager_user, ip_address="198.51.100.4")
    first = next(chunks)
    assert first.startswith(b'{"schema":"beils.gdpr-export"')
    chunks.close()  # what the server does when the person's browser goes away
    entry = AuditEntry.objects.get(action=EXPORTED_ACTION)
    assert (entry.outcome, entry.actor, entry.ip_address) == (Outcome.FAILURE, manager_user, "198.51.100.4")
    assert entry.detail["counts"]["bookings"] == 60 and entry.detail["bytes_sent"] > 0


def test_a_stream_failing_half_way_is_audited_as_a_failure(lucia, monkeypatch):
    import crm.gdpr

    def broken(*args, **kwargs):
        raise ConnectionError("the database went away")
        yield  # pragma: no cover

    monkeypatch.setattr(crm.gdpr, "stream_values", broken)
    with pytest.raises(ConnectionError):
        b"".join(client_data_stream(client=lucia, actor=None))
    assert AuditEntry.objects.get(action=EXPORTED_ACTION).outcome == Outcome.FAILURE


def test_the_zip_for_a_download_waits_in_a_private_unlinked_temporary_file(lucia):
    handle = client_data_zip_file(client=lucia, actor=None)
    try:
        assert os.fstat(handle.fileno()).st_mode & 0o777 == 0o600
        assert os.fstat(handle.fileno()).st_nlink == 0  # no name another process could open
        assert handle.tell() == 0 and handle.read(2) == b"PK"
    finally:
        handle.close()


def test_the_admin_and_api_zip_downloads_are_streamed(lucia, manager_user, manager_browser):
    response = api_as(manager_user).get(f"/api/clients/{lucia.pk}/gdpr-export", {"format": "zip"})
    assert response.streaming and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="client-{lucia.pk}-gdpr-export.zip"'
    data = {"action": "export_personal_data", "_selected_action": [lucia.pk]}
    response = manager_browser.post(admin_url(Client, "changelist"), data)
    assert response.streaming and b"".join(response.streaming_content).startswith(b"PK")
