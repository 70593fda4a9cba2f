"""Reading import files: limits checked before parsing, and the encodings spreadsheets write."""

import io
import json
import time
import tracemalloc

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from audit.models import AuditEntry
from beils.lib.formats import CSV, JSON, XLSX, UnreadableFileError
from crm.models import Client
from tests.helpers import bomb_xlsx

ACCENTED = "Email;Name;Surname\r\npena@mail.example;Begoña;Peña\r\njose@mail.example;José;Muñoz\r\n"


def _xlsx(rows: int) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["Email", "Name"])
    for i in range(rows):
        sheet.append([f"c{i}@mail.example", f"Client {i}"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- decompression bombs and row limits -------------------------------------------------------


def test_an_xlsx_bomb_is_refused_in_seconds_with_bounded_memory_before_it_is_parsed():
    raw = bomb_xlsx(3_000_000)  # ~0.4 MB that expands to ~170 MB of sheet XML
    assert len(raw) < 1024 * 1024

    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(UnreadableFileError) as refused:
            XLSX().create_dataset(raw)
        elapsed = time.monotonic() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert "more than 1000000 rows" in str(refused.value)
    assert "IMPORT_MAX_ROWS" in str(refused.value)
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert peak < 40 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"


def test_an_xlsx_that_declares_more_expanded_bytes_than_allowed_is_refused_unopened(settings):
    settings.IMPORT_MAX_EXPANDED_MB = 1

    with pytest.raises(UnreadableFileError, match=r"expands to 1?\d\.\d MB.*up to 1 MB \(IMPORT_MAX_EXPANDED_MB\)"):
        XLSX().create_dataset(bomb_xlsx(200_000))


def test_an_xlsx_whose_archive_understates_its_sizes_is_refused():
    with pytest.raises(UnreadableFileError):
        XLSX().create_dataset(bomb_xlsx(50_000, declared_size=100))


@pytest.mark.parametrize(
    ("file_format", "raw"),
    [
        (CSV, b"Email,Name\r\n" + b"a@mail.example,A\r\n" * 11),
        (JSON, json.dumps([{"Email": f"c{i}@mail.example"} for i in range(11)]).encode()),
        (XLSX, _xlsx(11)),
    ],
    ids=["csv", "json", "xlsx"],
)
def test_a_file_with_more_rows_than_import_max_rows_is_refused_with_the_limit(settings, file_format, raw):
    settings.IMPORT_MAX_ROWS = 10

    with pytest.raises(UnreadableFileError, match=r"more than 10 rows.*IMPORT_MAX_ROWS"):
        file_format().create_dataset(raw)

    settings.IMPORT_MAX_ROWS = 11
    assert len(file_format().create_dataset(raw)) == 11


def test_a_csv_whose_quoted_cells_hold_line_breaks_counts_records_not_lines(settings):
    settings.IMPORT_MAX_ROWS = 2

    dataset = CSV().create_dataset(b'Email,Notes\r\na@mail.example,"one\r\ntwo\r\nthree"\r\nb@mail.example,x\r\n')

    assert len(dataset) == 2


@pytest.mark.django_db
def test_the_import_command_refuses_an_xlsx_bomb_and_writes_nothing(tmp_path):
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(bomb_xlsx(3_000_000))

    with pytest.raises(CommandError, match="more than 1000000 rows"):
        call_command(
            "import",
            "transfer.resources.crm.ClientResource",
            str(path),
            format="beils.lib.formats.XLSX",
            interactive=False,
        )

    assert not Client.all_objects.exists()


# --- encodings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        ACCENTED.encode("utf-16"),  # with its BOM, as Excel's "Unicode text" writes it
        ACCENTED.encode("utf-16-be"),
        ACCENTED.encode("utf-16-le"),
        ACCENTED.encode("latin-1"),
        ACCENTED.encode("cp1252"),
        ACCENTED.encode("utf-8-sig"),
        ACCENTED.encode("utf-8"),
    ],
    ids=["utf-16-bom", "utf-16-be-no-bom", "utf-16-le-no-bom", "latin-1", "cp1252", "utf-8-bom", "utf-8"],
)
def test_csv_files_in_the_encodings_spreadsheets_write_are_read_with_their_accents(raw):
    dataset = CSV().create_dataset(raw)

    assert dataset.headers == ["Email", "Name", "Surname"]
    assert dataset.dict == [
        {"Email": "pena@mail.example", "Name": "Begoña", "Surname": "Peña"},
        {"Email": "jose@mail.example", "Name": "José", "Surname": "Muñoz"},
    ]


def test_a_declared_encoding_wins_over_the_guess():
    raw = "Email,Name\r\na@mail.example,Ŝarlo\r\n".encode("iso-8859-3")

    assert CSV(encoding="iso-8859-3").create_dataset(raw).dict == [{"Email": "a@mail.example", "Name": "Ŝarlo"}]


def test_a_json_file_in_utf_16_is_read():
    raw = json.dumps([{"Email": "pena@mail.example", "Name": "Peña"}], ensure_ascii=False).encode("utf-16")

    assert JSON().create_dataset(raw).dict == [{"Email": "pena@mail.example", "Name": "Peña"}]


def test_a_file_with_null_bytes_that_is_not_utf_16_is_called_binary():
    with pytest.raises(UnreadableFileError, match="binary file"):
        CSV().create_dataset(b"Email,Name\r\na@mail.example,\x00\x01\x02\x03\xff\xfe\x00\x00\x9c")


@pytest.mark.django_db
def test_the_import_command_imports_a_latin_1_csv_with_its_accents(tmp_path):
    path = tmp_path / "clients.csv"
    path.write_bytes(ACCENTED.encode("latin-1"))

    call_command(
        "import", "transfer.resources.crm.ClientResource", str(path), format="beils.lib.formats.CSV", interactive=False
    )

    assert sorted(Client.all_objects.values_list("name", "surname")) == [("Begoña", "Peña"), ("José", "Muñoz")]
    assert AuditEntry.objects.for_action("maintenance.import.done").exists()


# --- read as a stream (background imports) ----------------------------------------------------

STREAMED = {
    "utf-16-bom": ACCENTED.encode("utf-16"),
    "utf-16-le-no-bom": ACCENTED.encode("utf-16-le"),
    "cp1252": ACCENTED.encode("cp1252"),
    "utf-8-bom": ACCENTED.encode("utf-8-sig"),
    "line-breaks-in-cells": b'Email,Notes\r\na@mail.example,"one\r\ntwo"\r\n\r\nb@mail.example\r\n',
    "undefined-in-cp1252": b"Email,Name\r\na@mail.example,\x81\x8d\r\n",
}


@pytest.mark.parametrize("raw", STREAMED.values(), ids=STREAMED.keys())
def test_a_csv_read_as_a_stream_gives_the_rows_and_hash_of_the_whole_file_read(raw):
    whole = CSV().create_dataset(raw)

    streamed = CSV().open_rows(io.BytesIO(raw))

    assert streamed.headers == whole.headers
    assert (len(streamed), [list(row) for row in streamed]) == (len(whole), [list(row) for row in whole])
    assert list(streamed) == list(streamed)  # read again from the file
    assert streamed.beils_sha256 == whole.beils_sha256


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"Email,Name\r\na@mail.example,\x00\x01\x02\x03\xff\xfe\x00\x00\x9c", "binary file"),
        (b"Email,Name\r\n" + b"a@mail.example,A\r\n" * 11, "more than 10 rows"),
        (b"Email,Name\r\na@mail.example,A,extra\r\n", "could not be read as CSV"),
    ],
    ids=["binary", "too-many-rows", "ragged"],
)
def test_a_csv_read_as_a_stream_is_refused_before_any_row_is_read(settings, raw, message):
    settings.IMPORT_MAX_ROWS = 10

    with pytest.raises(UnreadableFileError, match=message):
        CSV().open_rows(io.BytesIO(raw))


def test_a_csv_read_as_a_stream_holds_a_buffer_not_the_file():
    raw = b"Email,Name\r\n" + b"".join(b"c%d@mail.example,Client %d\r\n" % (i, i) for i in range(100_000))
    peak = _peak_memory_of_reading(CSV().open_rows(io.BytesIO(raw)))

    assert len(raw) > 3_000_000 and peak < 1_000_000 * 4  # one read buffer (1 MiB, decoded)


def _peak_memory_of_reading(streamed) -> int:
    """The most bytes Python held at once while every row of ``streamed`` was read."""
    tracemalloc.start()
    try:
        for _row in streamed:
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _sheet(rows: list[list]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


STREAMED_OTHERS = {
    "json-objects": (
        JSON,
        json.dumps(
            [
                {"Email": "a@mail.example", "Name": "Peña", "Visits": 3, "Spent": 12.5},
                {"Email": "b@mail.example", "Name": None, "Visits": 0, "Spent": 0},
            ]
        ).encode(),
    ),  # fmt: skip
    "json-utf8-bom": (JSON, b"\xef\xbb\xbf" + json.dumps([{"Email": "a@mail.example", "Name": "José"}]).encode()),
    "json-empty": (JSON, b"[]"),
    "xlsx": (
        XLSX,
        _sheet([["Email", "Name", "Born"], ["a@mail.example", "Núñez", "1990-01-02"], ["b@mail.example", None, None]]),
    ),  # fmt: skip
}


@pytest.mark.parametrize(("file_format", "raw"), STREAMED_OTHERS.values(), ids=STREAMED_OTHERS.keys())
def test_json_and_xlsx_read_as_a_stream_give_the_rows_and_hash_of_the_whole_file_read(file_format, raw):
    whole = file_format().create_dataset(raw)

    streamed = file_format().open_rows(io.BytesIO(raw))

    assert (streamed.headers or None) == (whole.headers or None)
    assert (len(streamed), [list(row) for row in streamed]) == (len(whole), [list(row) for row in whole])
    assert list(streamed) == list(streamed)  # read again from the file
    assert streamed.beils_sha256 == whole.beils_sha256


@pytest.mark.parametrize(
    ("file_format", "raw", "message"),
    [
        (JSON, json.dumps([{"Email": f"c{i}@mail.example"} for i in range(11)]).encode(), "more than 10 rows"),
        (
            JSON,
            b'[{"Email": "a@mail.example", "Name": "A"}, {"Name": "B", "Phone": "600"}]',
            "could not be read as JSON",
        ),
        (JSON, b'[{"Email": "a@mail.example"}, 3]', "could not be read as JSON"),
        (JSON, b'[{"Email": "a@mail.example"', "could not be read as JSON"),
        (XLSX, _sheet([["Email"]] + [[f"c{i}@mail.example"] for i in range(11)]), "more than 10 rows"),
        (XLSX, b"PK\x03\x04 not a zip at all", "could not be read as XLSX"),
    ],
    ids=["json-too-many", "json-other-keys", "json-not-an-object", "json-truncated", "xlsx-too-many", "xlsx-broken"],
)
def test_json_and_xlsx_read_as_a_stream_are_refused_before_any_row_is_read(settings, file_format, raw, message):
    settings.IMPORT_MAX_ROWS = 10

    with pytest.raises(UnreadableFileError, match=message):
        file_format().open_rows(io.BytesIO(raw))


def test_a_json_array_read_as_a_stream_holds_an_object_not_the_file():
    raw = json.dumps(
        [{"Email": f"c{i}@mail.example", "Name": f"Client {i}", "Notes": "x" * 40} for i in range(100_000)]
    ).encode()
    peak = _peak_memory_of_reading(JSON().open_rows(io.BytesIO(raw)))

    assert len(raw) > 7_000_000 and peak < 1_000_000  # ijson's buffer and one object
