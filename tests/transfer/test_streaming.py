"""Imports read their file one batch at a time (issue 17): memory holds a batch of rows, the
keys seen so far as 12-byte hashes, and the failing rows in a temporary file, whatever the
file's size; every bad row is still named in one pass, and a bad file writes nothing."""

import io

import pytest

from beils.lib.formats import CSV
from crm.models import Client
from tests import factories as f
from transfer.import_results import BoundedResult, SeenKeys
from transfer.importing import ImportBatch
from transfer.resources.crm import ClientResource

pytestmark = pytest.mark.django_db


class Rows:
    """A file's rows as a generator would give them, counting how many were read."""

    def __init__(self, count, bad=()):
        self.headers, self.count, self.bad, self.read = ["Email", "Name"], count, set(bad), 0

    def __len__(self):
        return self.count

    def __iter__(self):
        for i in range(1, self.count + 1):
            self.read += 1
            yield ["not-an-email" if i in self.bad else f"c{i}@mail.example", f"Client {i}"]


def _resource(batch_size=10, **kwargs):
    resource = ClientResource(invalid_rows_are_errors=False, keep_rows=False, **kwargs)
    resource._meta.batch_size = batch_size
    return resource


def test_the_file_is_read_as_it_is_written_not_before(monkeypatch):
    rows, read_when_written = Rows(100), []
    flush = ImportBatch.flush

    def spy(batch):
        if batch.entries:
            read_when_written.append((rows.read, len(batch.entries)))
        return flush(batch)

    monkeypatch.setattr(ImportBatch, "flush", spy)

    result = _resource().import_data(rows)

    assert result.totals["new"] == 100 and Client.all_objects.count() == 100
    # Each batch of 10 is written when the next 10 have been read (and looked up), never later.
    assert read_when_written == [(20, 10), (30, 10), (40, 10), (50, 10), (60, 10),
                                 (70, 10), (80, 10), (90, 10), (100, 10), (100, 10)]  # fmt: skip


def test_a_large_import_keeps_totals_and_failing_rows_not_a_result_per_row():
    result = _resource().import_data(Rows(250))

    assert isinstance(result, BoundedResult)
    assert result.totals["new"] == 250
    assert result.rows == [] and result.invalid_rows == []


def test_every_bad_row_goes_to_the_failing_rows_file_and_nothing_is_written(monkeypatch):
    monkeypatch.setattr(BoundedResult, "KEPT", 3)
    bad = {5, 17, 18, 60, 99}

    result = _resource().import_data(Rows(100, bad=bad))

    assert not Client.all_objects.exists()
    assert result.totals["invalid"] == 5
    assert [row.number for row in result.invalid_rows] == [5, 17, 18]  # the first few, for the screen
    lines = result.failing_rows.open().read().decode("utf-8-sig").splitlines()
    # Numbered as the import page numbers them (1: the first row under the headers).
    assert lines[0] == "Row,Errors,Email,Name"
    assert [line.split(",")[0] for line in lines[1:]] == [str(n) for n in sorted(bad)]
    assert lines[1] == "5,Email: Enter a valid email address.,not-an-email,Client 5"


def test_a_duplicate_key_in_a_later_batch_names_both_rows():
    raw = "Email,Name\r\n" + "".join(f"c{i}@mail.example,Client {i}\r\n" for i in range(1, 31))
    raw += "C3@Mail.example,Again\r\n"

    result = _resource().import_data(CSV().open_rows(io.BytesIO(raw.encode())))

    assert not Client.all_objects.exists()
    [row] = result.invalid_rows
    assert row.number == 31
    assert "is on rows 3 and 31" in " ".join(row.error.messages)


def test_a_re_import_in_batches_updates_and_skips_as_a_whole_file_does():
    f.ClientFactory(email="c3@mail.example", name="Old")
    f.ClientFactory(email="c25@mail.example", name="Client 25")

    result = _resource().import_data(Rows(30))

    assert (result.totals["new"], result.totals["update"], result.totals["skip"]) == (28, 1, 1)
    assert Client.all_objects.get(email="c3@mail.example").name == "Client 3"


def test_a_dry_run_validates_every_batch_and_writes_nothing():
    result = _resource().import_data(Rows(45), dry_run=True)

    assert result.totals["new"] == 45
    assert not Client.all_objects.exists()


def test_seen_keys_are_made_at_the_size_the_file_needs():
    assert SeenKeys(expected=1_000_000)._mask + 1 == 1 << 21  # 24 MiB, never grown
    assert SeenKeys(expected=10)._mask + 1 == 1 << 12


def test_seen_keys_remember_the_first_row_of_each_key_through_growth():
    seen = SeenKeys()
    for number in range(1, 10_001):
        assert seen.setdefault(f"k{number}", number) == number
    assert len(seen) == 10_000
    assert seen.setdefault("k1", 20_000) == 1
    assert seen.setdefault(("k9999",), 1) == 1 and seen.setdefault("k9999", 5) == 9999


def test_a_key_the_collation_matches_to_a_row_of_an_earlier_batch_is_refused_not_merged():
    from django.db import connection

    if connection.vendor != "mysql":
        pytest.skip("accent-insensitive collation: MariaDB only")
    raw = "Email,Name\r\nc@manana.example,First\r\n"
    raw += "".join(f"c{i}@mail.example,Client {i}\r\n" for i in range(2, 25))
    raw += "c@mañana.example,Second\r\n"

    result = _resource().import_data(CSV().open_rows(io.BytesIO(raw.encode())))

    [row] = result.invalid_rows
    assert row.number == 25 and "already exists" in " ".join(row.error.messages)
    assert not Client.all_objects.exists()


def test_a_batch_never_takes_a_row_this_import_wrote_for_one_that_was_there():
    from transfer.resources.loading import BatchInstanceLoader

    there = f.ClientFactory(email="there@mail.example")
    rows = Rows(1)
    loader = BatchInstanceLoader(_resource(), rows)
    written = f.ClientFactory(email="written@mail.example")  # as an earlier batch of the file would

    loader.load([{"Email": "there@mail.example"}, {"Email": "written@mail.example"}])

    assert loader.cache == {"there@mail.example": there}
    assert loader.holders == {"there@mail.example": there, "written@mail.example": written}
