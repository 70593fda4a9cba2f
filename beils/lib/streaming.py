"""Exports that stream: rows go from the database to the client in small batches, so memory
stays flat whatever the row count.

Django's ``QuerySet.iterator()`` does not stream on MariaDB: mysqlclient's default cursor reads
the whole result into memory first (~1.2 KiB a row). Here the SQL Django builds is run on an
unbuffered server-side cursor (``SSCursor``) of the same connection, so it sees the same
transaction. While it streams, that connection must run nothing else; exports therefore audit
before they start.
"""

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time
from itertools import islice

from django.db import connections
from django.db.models import CharField, F, Func, QuerySet

from beils.lib.spreadsheets import escape_formula, needs_escape

BATCH = 2000


def stream_rows(queryset: QuerySet, fields: list[str], batch: int = BATCH) -> Iterator[tuple]:
    """``queryset.values_list(*fields)`` as database tuples, unbuffered on MariaDB."""
    yield from stream_values(queryset.prefetch_related(None).values_list(*fields), batch)


def stream_values(
    values: QuerySet, batch: int = BATCH, *, mysql: tuple[str, tuple | list] | None = None
) -> Iterator[tuple]:
    """The tuples of a ``values_list()`` queryset, unbuffered on MariaDB, where datetimes,
    dates and decimals come as the server's text (see below). ``mysql``, the same query as SQL
    and parameters, is run instead on MariaDB: for a plan the ORM cannot write."""
    connection = connections[values.db]
    if connection.vendor != "mysql":
        yield from values.iterator(chunk_size=batch)
        return
    import MySQLdb.cursors
    from MySQLdb.constants import FIELD_TYPE

    sql, params = mysql or values.query.sql_with_params()
    connection.ensure_connection()
    raw = connection.connection
    saved = raw.converter
    # Dates, times and decimals stay as the server's text: parsing them into Python objects
    # only to print them again was half the cost of an export.
    raw.converter = {**saved, **dict.fromkeys(_AS_TEXT_TYPES(FIELD_TYPE), _decode)}
    cursor = raw.cursor(MySQLdb.cursors.SSCursor)
    try:
        cursor.execute(sql, params)
        raw.converter = saved
        while rows := cursor.fetchmany(batch):
            yield from rows
    finally:
        raw.converter = saved
        cursor.close()


def _AS_TEXT_TYPES(types):  # noqa: N802
    return [types.DATETIME, types.TIMESTAMP, types.DATE, types.NEWDECIMAL, types.DECIMAL]


def _decode(value):
    return value.decode() if isinstance(value, bytes) else value


def _text(value) -> str:
    """A database value as the text people expect in a file."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _iso(value: datetime | str) -> str:
    # MariaDB (see stream_rows) gives the stored UTC text, "2026-11-24 03:18:05.767571";
    # SQLite through Django gives aware datetimes.
    if isinstance(value, str):
        return value.replace(" ", "T", 1) + "+00:00"
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


_FORMULA_FIRST_SQL = "'=', '+', '-', '@', CHAR(9 USING utf8mb4), CHAR(13 USING utf8mb4)"


class _CsvText(Func):
    """A text column as :func:`beils.lib.spreadsheets.escape_formula` writes it."""

    template = (
        f"CASE WHEN LEFT(%(expressions)s, 1) IN ({_FORMULA_FIRST_SQL}) OR (LEFT(%(expressions)s, 1) = '''' "
        f"AND SUBSTRING(%(expressions)s, 2, 1) IN ({_FORMULA_FIRST_SQL})) THEN CONCAT('''', %(expressions)s) "
        "ELSE %(expressions)s END"
    )
    output_field = CharField()


class _CsvDateTime(Func):
    """A stored UTC datetime as :func:`_iso` writes it."""

    template = "CONCAT(REPLACE(%(expressions)s, ' ', 'T'), '+00:00')"
    output_field = CharField()


class _CsvBool(Func):
    template = "CASE WHEN %(expressions)s IS NULL THEN NULL WHEN %(expressions)s THEN 'true' ELSE 'false' END"
    output_field = CharField()


_CSV_SQL = {"text": _CsvText, "datetime": _CsvDateTime, "bool": _CsvBool}


def csv_rows(queryset: QuerySet, fields: list[str], kinds: list[str]) -> tuple[Iterator[tuple], list[str]]:
    """Rows for :func:`csv_chunks`, and the kinds it still has to convert.

    On MariaDB the server writes every value as the file shows it (formulas escaped, ISO
    datetimes, true/false), so the Python loop only writes rows: the per-value checks were
    half of an export's time, and the server does them on another core. Elsewhere the rows
    come as they are and :func:`csv_chunks` converts them."""
    if connections[queryset.db].vendor != "mysql":
        return stream_rows(queryset, fields), kinds
    columns = {
        f"csv_{i}": _CSV_SQL[kind](F(field)) if kind in _CSV_SQL else F(field)
        for i, (field, kind) in enumerate(zip(fields, kinds, strict=True))
    }
    values = queryset.prefetch_related(None).annotate(**columns).values_list(*columns)
    return stream_values(values), [kind if kind == "json" else "plain" for kind in kinds]


def column_kinds(model, fields: list[str]) -> list[str]:
    """For each exported lookup ('name', 'client__email'): 'text', 'datetime', 'json' or 'plain'."""
    kinds = []
    for lookup in fields:
        current, field = model, None
        for part in lookup.split("__"):
            field = current._meta.get_field(part)
            current = field.related_model or current
        if field.is_relation:
            field = field.target_field
        internal = field.get_internal_type()
        kinds.append(
            "datetime" if internal == "DateTimeField"
            else "bool" if internal == "BooleanField"
            else "json" if internal == "JSONField"
            else "text" if internal in ("CharField", "TextField", "EmailField", "URLField", "SlugField", "FileField", "ImageField")
            else "plain"
        )  # fmt: skip
    return kinds


def csv_chunks(
    headers: list[str], rows: Iterable[tuple], *, kinds: list[str] | None = None, bom: bool = True
) -> Iterator[bytes]:
    """CSV (UTF-8 with a BOM, so that Excel reads the accents) in ~64 KiB chunks; formulas
    escaped. ``kinds`` (see :func:`column_kinds`) lets the hot loop touch only the columns that
    need it; without it every value is converted."""
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(headers)
    texts = [i for i, k in enumerate(kinds or []) if k == "text"]
    others = [(i, k) for i, k in enumerate(kinds or []) if k in ("datetime", "json", "bool")]
    rows = iter(rows)
    while batch := list(islice(rows, 500)):
        if kinds is None:
            batch = [[escape_formula(_text(value)) for value in row] for row in batch]
        elif texts or others:  # else nothing to convert (see csv_rows)
            batch = [_csv_row(row, texts, others) for row in batch]
        writer.writerows(batch)
        if buffer.tell() > 65536:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _csv_row(row: tuple, texts: list[int], others: list[tuple[int, str]]) -> list:
    """``row`` with formulas escaped in its ``texts`` columns and its ``others`` as text."""
    row = list(row)
    for i in texts:
        value = row[i]
        if value and needs_escape(value):
            row[i] = "'" + value
    for i, kind in others:
        if row[i] is not None:
            row[i] = _iso(row[i]) if kind == "datetime" else _text(bool(row[i]) if kind == "bool" else row[i])
    return row


def json_chunks(headers: list[str], rows: Iterable[tuple], *, kinds: list[str] | None = None) -> Iterator[bytes]:
    """A JSON array of objects, written as it goes."""
    convert = [_JSON_CONVERTERS.get(kind, _json) for kind in (kinds or ["plain"] * len(headers))]
    parts, size, first = ["["], 1, True
    for row in rows:
        values = (c(v) if v is not None else None for c, v in zip(convert, row, strict=True))
        item = json.dumps(dict(zip(headers, values, strict=True)), ensure_ascii=False)
        parts.append(item if first else "," + item)
        first, size = False, size + len(item) + 1
        if size > 65536:
            yield "".join(parts).encode()
            parts, size = [], 0
    parts.append("]")
    yield "".join(parts).encode()


def _json(value):
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    return _text(value)


_JSON_CONVERTERS = {
    "datetime": _iso,
    "bool": bool,  # MariaDB answers 0/1
    "json": lambda value: json.loads(value) if isinstance(value, str | bytes) else value,
}

FORMATS: dict[str, tuple[str, str, Callable]] = {
    "csv": ("text/csv; charset=utf-8", "csv", csv_chunks),
    "json": ("application/json", "json", json_chunks),
}
