"""GDPR subject access and portability: everything Beils holds about one client.

The personal-data registry (``crm.personal_data``) says which models hold rows about a client
and how each reaches them; this module only follows it, so a model added to the registry is
exported without a change here. The admin action, the API and ``manage.py gdpr_export`` all call
:func:`client_data_stream` or :func:`client_data_zip_write`.

The document is written as it is read, one section after another, from one query per section
(links between sections are subqueries, never lists of ids) on an unbuffered cursor: memory and
the number of queries stay the same whatever the size of the person's history (issue 17).

The document is about the *person*: the client and the older records merged into them (see
``ClientMergeRecord.objects.merged_into``), as an erasure erases them together. The erasure
itself reads one client record at a time (:func:`client_rows`).
"""

import csv
import hashlib
import io
import json
import logging
import operator
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import reduce
from typing import BinaryIO

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, models, transaction
from django.db.models import CharField, F, Q, QuerySet
from django.db.models.fields.files import FieldFile
from django.db.models.functions import Cast
from django.utils import timezone

from audit.models import Outcome
from audit.services import audit_log
from beils.lib.spreadsheets import escape_formula
from beils.lib.streaming import stream_values
from crm.models import Client, ClientMergeRecord
from crm.personal_data import REGISTRY, Holder, holder_for

SCHEMA = "beils.gdpr-export"
SCHEMA_VERSION = 1
EXPORTED_ACTION = "crm.client.data_exported"
#: Bytes gathered before a chunk of the document is handed on.
CHUNK = 65536

log = logging.getLogger("beils.gdpr")


def client_data_stream(
    *, client: Client, actor, ip_address: str | None = None, indent: int | None = None
) -> Iterator[bytes]:
    """Everything held about ``client`` as one JSON document, in chunks, written as it is read.
    Audited as ``crm.client.data_exported`` (ids and counts only) once the last chunk is out,
    or, should the stream fail or be abandoned half-way, with the outcome ``failure``."""
    export = ClientExport(client)
    return _audited(export, export.chunks(indent=indent), actor=actor, ip_address=ip_address, fmt="json")


def client_data_export(*, client: Client, actor, ip_address: str | None = None) -> dict:
    """The document as a dict, audited like :func:`client_data_stream`; for small callers and
    tests (it holds the whole document in memory: answer requests with the stream)."""
    return json.loads(b"".join(client_data_stream(client=client, actor=actor, ip_address=ip_address)))


def client_data_collect(*, client: Client) -> dict:
    """The document as a dict, unaudited."""
    return json.loads(b"".join(ClientExport(client).chunks()))


def client_data_zip_write(*, client: Client, actor, out: BinaryIO, ip_address: str | None = None) -> None:
    """The export as a ZIP written to ``out``: the JSON document, one CSV per section and
    ``manifest.json`` with the SHA-256 of every other file; audited like
    :func:`client_data_stream`. The CSVs wait in temporary files (0600, unlinked) while the
    JSON is written, so the database is read once and memory stays flat."""
    export = ClientExport(client)
    for _ in _audited(export, _zip_chunks(export, out), actor=actor, ip_address=ip_address, fmt="zip"):
        pass


def client_data_zip(*, client: Client, actor, ip_address: str | None = None) -> bytes:
    """:func:`client_data_zip_write` into memory, for small callers and tests."""
    out = io.BytesIO()
    client_data_zip_write(client=client, actor=actor, ip_address=ip_address, out=out)
    return out.getvalue()


def client_data_zip_file(*, client: Client, actor, ip_address: str | None = None) -> BinaryIO:
    """:func:`client_data_zip_write` into an anonymous temporary file (0600, unlinked), rewound
    for a ``FileResponse`` to send."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it once sent)
    try:
        client_data_zip_write(client=client, actor=actor, ip_address=ip_address, out=out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


# --- Following the registry -----------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Whom an export is about: a client record, then the records merged into it."""

    ids: tuple[int, ...]

    @classmethod
    def of(cls, client: Client) -> "Person":
        return cls((client.pk, *ClientMergeRecord.objects.merged_into(client.pk)))


def _ids_of(client: "Client | Person") -> tuple[int, ...]:
    return client.ids if isinstance(client, Person) else (client.pk,)


def _match(field: str, ids: tuple) -> Q:
    """``field = id``, or ``field IN (ids)`` for a person with merged records: one id keeps
    the plain equality the indexes were measured with."""
    return Q(**{field: ids[0]}) if len(ids) == 1 else Q(**{f"{field}__in": ids})


def client_rows(*, client: "Client | Person") -> dict[str, list[models.Model]]:
    """Every row held about ``client``, by the registry's section, in primary-key order: about
    one client record, or about a :class:`Person` (every record of theirs), as an export reads
    them. Erasure (``crm.erasure``) works from these rows, one record at a time."""
    rows: dict[str, list[models.Model]] = {}
    for holder in REGISTRY:
        rows[holder.section] = list(_rows(holder, client, rows).order_by("pk"))
    return rows


def _rows(holder: Holder, client: "Client | Person", found: dict) -> models.QuerySet:
    condition = Q(pk__in=[])
    for part in _parts(holder, client, found):
        condition |= part
    # The base manager: deactivated rows (an old gift card) are the person's data as well.
    return holder.get_model()._base_manager.filter(condition)


def _parts(holder: Holder, client: "Client | Person", found: dict) -> list[Q]:
    """The holder's links as conditions, any of which makes a row the client's."""
    parts = []
    for link in holder.links:
        parts += audit_target_parts(client, found) if link == "target" else [_condition(holder, link, client, found)]
    return parts


def _condition(holder: Holder, link: str, client: "Client | Person", found: dict) -> Q:
    ids = _ids_of(client)
    if link.endswith("()"):
        # A manager method that finds the rows itself (they name the client in a JSON list).
        method = getattr(holder.get_model().objects, link[:-2])
        pks = sorted({pk for one in ids for pk in method(one).values_list("pk", flat=True)})
        # "pk IN ()" is no SQL: the streamed MariaDB read compiles the query itself.
        return Q(pk__in=pks) if pks else Q(pk=None)
    column, _, label = link.partition(" in ")
    if label:
        other = holder_for(label)
        if other is None or other.section not in found:
            raise ImproperlyConfigured(f"{link!r}: {label} must be registered before the holder that names it.")
        return Q(**{f"{column}__in": _ids(found[other.section])})
    first, _, rest = link.partition("__")
    if rest:
        # Redundant (a null key reaches no one), but it lets MariaDB see, from the index, that
        # few rows have the key at all: without it, it scanned every invoice for the few that
        # rectify another (its statistics count all the NULLs as one value).
        return _match(link, ids) & Q(**{f"{first}__isnull": False})
    return _match(link, ids)


def audit_targets(client: "Client | Person", found: dict) -> Q:
    """Entries about the client, or about any live row held about them (a consent signed, a
    sale archived). History tables are never an audit target."""
    condition = Q(pk__in=[])
    for part in audit_target_parts(client, found):
        condition |= part
    return condition


def audit_target_parts(client: "Client | Person", found: dict) -> list[Q]:
    """:func:`audit_targets` one target type at a time. ``found`` holds each section's rows
    (lists), or its :class:`_Lazy` querysets: the ids then stay subqueries, one per link."""
    parts = [Q(target_type=Client._meta.label_lower) & _match("target_id", tuple(str(pk) for pk in _ids_of(client)))]
    for holder in REGISTRY:
        rows = found.get(holder.section)
        if rows and holder.history_of is None and holder.model != "crm.Client":
            label = holder.get_model()._meta.label_lower
            for some in rows.querysets if isinstance(rows, _Lazy) else [rows]:
                parts.append(Q(target_type=label, target_id__in=_ids(some, text=True)))
    return parts


class _Lazy:
    """A section's rows not read yet: one queryset per link of its holder (an ``OR`` of links
    across tables is a condition no index serves, so each stays its own subquery)."""

    def __init__(self, holder: Holder, client: "Client | Person", found: dict):
        model = holder.get_model()
        self.querysets = [model._base_manager.filter(part) for part in _parts(holder, client, found)]

    def __bool__(self):
        return True  # unknown until read: followed as if there were rows


def _ids(rows, *, text: bool = False):
    if isinstance(rows, _Lazy):
        rows = rows.querysets[0] if len(rows.querysets) == 1 else reduce(operator.or_, rows.querysets)
    if isinstance(rows, QuerySet):
        # Audit entries name their target by text; the cast keeps the comparison on the index.
        return rows.annotate(_text_id=_TextId("pk")).values("_text_id") if text else rows.values("pk")
    return [str(row.pk) if text else row.pk for row in rows]


class _TextId(Cast):
    """A primary key as text, to compare with ``AuditEntry.target_id`` on its index."""

    def __init__(self, expression):
        super().__init__(expression, CharField())

    def as_mysql(self, compiler, connection, **extra):
        # CAST(id AS char) takes the connection's collation, which need not be the column's
        # ("Illegal mix of collations"); CONCAT's result is coercible and takes the column's.
        return self.as_sql(compiler, connection, template="CONCAT(%(expressions)s, '')", **extra)


def _columns(holder: Holder) -> list[models.Field]:
    return [f for f in holder.get_model()._meta.concrete_fields if f.name not in holder.exclude]


@dataclass
class _Section:
    """How to read one section: its rows, in primary-key order, and how many there are."""

    rows: QuerySet
    ids: QuerySet
    mysql: tuple[str, tuple] | None = None


def _section_query(holder: Holder, client: "Client | Person", found: dict) -> _Section:
    """One query for the section's rows, and one for their ids. A holder reached by several
    links (audit entries by target type, invoices by live, archived or rectified sale) is a
    UNION of one indexed query per link rather than one OR that no index serves: a UNION of
    ids, which MariaDB keeps in memory, joined to the table (a UNION of whole rows went
    through an on-disk temporary table, because of their text columns, and took 4 times as
    long; ``id IN (UNION …)`` scanned the table)."""
    model = holder.get_model()
    names = [f.attname for f in _columns(holder)]
    conditions = _parts(holder, client, found)
    ordered = model._base_manager.order_by(model._meta.pk.attname)
    if len(conditions) == 1:
        return _Section(rows=ordered.filter(conditions[0]).values_list(*names), ids=ordered.filter(conditions[0]))
    parts = [
        model._base_manager.filter(part).order_by().annotate(_part_id=F("pk")).values_list("_part_id")
        for part in conditions
    ]
    ids = parts[0].union(*parts[1:])
    rows = ordered.filter(pk__in=ids).values_list(*names)
    return _Section(rows=rows, ids=ids, mysql=_joined(ordered.values_list(*names), ids))


def _joined(rows: QuerySet, ids: QuerySet) -> tuple[str, tuple]:
    """``rows`` (a whole table) joined to the derived table ``ids``, as SQL."""
    sql, params = rows.query.sql_with_params()
    ids_sql, ids_params = ids.query.sql_with_params()
    qn = connections[rows.db].ops.quote_name
    model = rows.model
    table = f"FROM {qn(model._meta.db_table)}"
    if params or sql.count(table) != 1:
        raise ImproperlyConfigured(f"Cannot join ids to {sql!r}.")
    on = f"{qn(model._meta.db_table)}.{qn(model._meta.pk.column)} = {qn('_ids')}.{qn('_part_id')}"
    return sql.replace(table, f"{table} INNER JOIN ({ids_sql}) {qn('_ids')} ON {on}"), tuple(ids_params)


# --- Writing the document -------------------------------------------------------------------


class ClientExport:
    """One reading of everything held about a client. :meth:`chunks` reads every section in one
    transaction, so each comes from the same snapshot (MariaDB's REPEATABLE READ) even while the
    salon keeps working; :attr:`counts` is filled in before the first row is written."""

    def __init__(self, client: Client):
        self.client = client
        self.generated_at = timezone.now()
        self.counts: dict[str, int] | None = None
        self.bytes = 0

    def chunks(
        self, *, indent: int | None = None, on_row: Callable[[str, dict], None] | None = None
    ) -> Iterator[bytes]:
        """The JSON document: with ``indent``, byte for byte what ``json.dumps(document,
        indent=indent, ensure_ascii=False)`` gives; without, compact (DRF's rendering).
        ``on_row(section, row)`` sees every row as it goes by (the ZIP's CSVs)."""
        with transaction.atomic():
            person = Person.of(self.client)
            found, queries = {}, {}
            for holder in REGISTRY:
                # Each holder sees only those before it, as client_rows does (so audit entries
                # about audit entries are not followed).
                queries[holder.section] = _section_query(holder, person, found)
                found[holder.section] = _Lazy(holder, person, found)
            self.counts = {section: query.ids.count() for section, query in queries.items()}
            document = {
                "schema": SCHEMA,
                "schema_version": SCHEMA_VERSION,
                "generated_at": self.generated_at.isoformat(),
                "client_id": self.client.pk,
                # The same person's older records, merged into this one: their rows are here too.
                "merged_client_ids": list(person.ids[1:]),
                "counts": self.counts,
                "sections": {
                    h.section: {
                        "model": h.get_model()._meta.label_lower,
                        "personal_fields": {name: str(level) for name, level in h.fields.items()},
                        "rows": _Rows(h, queries[h.section], on_row),
                    }
                    for h in REGISTRY
                },
            }
            buffer, size = [], 0
            for text in _encode(document, indent, 0):
                buffer.append(text)
                size += len(text)
                if size >= CHUNK:
                    data = "".join(buffer).encode()
                    self.bytes += len(data)
                    yield data
                    buffer, size = [], 0
            data = "".join(buffer).encode()
            self.bytes += len(data)
            yield data


class _Rows:
    """A section's rows, read when the encoder reaches them."""

    def __init__(self, holder: Holder, query: _Section, on_row):
        self.holder, self.query, self.on_row = holder, query, on_row

    def __iter__(self) -> Iterator[dict]:
        columns = _columns(self.holder)
        names = [f.attname for f in columns]
        raw = connections[self.query.rows.db].vendor == "mysql"
        # Only the columns whose values need it go through a conversion: most are text or ids.
        convert = [(i, c) for i, c in enumerate(_converter(f, raw=raw) for f in columns) if c is not None]
        for values in stream_values(self.query.rows, mysql=self.query.mysql):
            if convert:
                values = list(values)
                for i, c in convert:
                    if values[i] is not None:
                        values[i] = c(values[i])
            row = dict(zip(names, values, strict=True))
            if self.on_row is not None:
                self.on_row(self.holder.section, row)
            yield row


def _encode(value, indent: int | None, depth: int) -> Iterator[str]:
    """``json.dumps(value, indent=indent, ensure_ascii=False)`` in pieces, rows as they come."""
    if isinstance(value, _Rows):
        yield from _encode_rows(value, indent, depth)
        return
    if not isinstance(value, dict) or not value:
        yield _leaf(value, indent, depth)
        return
    newline = "\n" + " " * (indent * (depth + 1)) if indent else ""
    key_separator = _separators(indent)[1]
    first = True
    for key, item in value.items():
        yield ("{" if first else ",") + newline + json.dumps(key, ensure_ascii=False) + key_separator
        first = False
        yield from _encode(item, indent, depth + 1)
    yield ("\n" + " " * (indent * depth) if indent else "") + "}"


def _encode_rows(rows: Iterable[dict], indent: int | None, depth: int, batch: int = 500) -> Iterator[str]:
    """A list of rows, written a batch at a time: one ``json.dumps`` of 500 rows, spliced into
    the list, costs a fraction of 500 calls (most of the time went on calls, not on JSON)."""
    closing = "\n" + " " * (indent * depth) + "]" if indent else "]"
    pending, first = [], True
    for row in rows:
        pending.append(row)
        if len(pending) == batch:
            text = _leaf(pending, indent, depth)
            yield ("[" if first else ",") + text[1 : -len(closing)]
            pending, first = [], False
    if pending:
        text = _leaf(pending, indent, depth)
        yield ("[" if first else ",") + text[1 : -len(closing)]
        first = False
    yield "[]" if first else closing


def _leaf(value, indent: int | None, depth: int) -> str:
    text = json.dumps(value, indent=indent, ensure_ascii=False, separators=_separators(indent))
    return text.replace("\n", "\n" + " " * (indent * depth)) if indent and depth else text


def _separators(indent: int | None) -> tuple[str, str]:
    return (",", ": ") if indent else (",", ":")


#: Fields whose database values are already the document's (text, numbers, ids), on either path.
_AS_IS = {
    "AutoField", "BigAutoField", "SmallAutoField", "ForeignKey", "OneToOneField", "IntegerField",
    "BigIntegerField", "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField",
    "PositiveSmallIntegerField", "CharField", "TextField", "EmailField", "SlugField", "URLField",
    "GenericIPAddressField",
}  # fmt: skip
#: ... and on the unbuffered MariaDB cursor, which answers dates and decimals as text.
_AS_IS_RAW = {"DateField", "DecimalField"}
#: ... and through Django's conversions.
_AS_IS_DJANGO = {"BooleanField", "JSONField"}


def _converter(model_field: models.Field, *, raw: bool) -> Callable | None:
    """How a database value of ``model_field`` becomes the document's (None: as it is):
    decimals as strings (no float rounding), dates in ISO 8601, files by name. ``raw`` for the
    unbuffered MariaDB cursor, which skips Django's conversions."""
    kind = model_field.get_internal_type()
    if kind in _AS_IS or kind in (_AS_IS_RAW if raw else _AS_IS_DJANGO):
        return None
    if kind in ("FileField", "ImageField"):
        return lambda value: value or None
    if not raw:
        return _plain
    if kind == "DateTimeField":
        return _mariadb_datetime
    if kind == "JSONField":
        return lambda value: json.loads(value) if isinstance(value, str | bytes) else value
    if kind == "BooleanField":
        return bool
    if kind == "UUIDField":
        return lambda value: str(uuid.UUID(value))
    return _plain


def _mariadb_datetime(value: str | datetime) -> str:
    # The stored UTC text, "2026-11-24 03:18:05.767571", as Python's isoformat() writes it
    # (which leaves out a fraction of zero).
    if isinstance(value, datetime):
        return _plain(value)
    if value.endswith(".000000"):
        value = value[:-7]
    return value.replace(" ", "T", 1) + "+00:00"


def _plain(value):
    """A JSON value: decimals as strings (no float rounding), dates in ISO 8601, files by name."""
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, FieldFile):
        return value.name or None
    return value


# --- The ZIP ---------------------------------------------------------------------------------


def _zip_chunks(export: ClientExport, out: BinaryIO) -> Iterator[bytes]:
    """Writes the ZIP to ``out``: the JSON first (each row also goes to its section's CSV),
    then the CSVs, then the manifest. A generator so that :func:`_audited` wraps it as it wraps
    the JSON stream."""
    client_id = export.client.pk
    stamp = export.generated_at.timetuple()[:6]
    sheets = {holder.section: _Sheet(holder) for holder in REGISTRY}
    files: dict[str, dict] = {}
    try:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            name = f"client-{client_id}.json"
            chunks = export.chunks(indent=2, on_row=lambda section, row: sheets[section].write(row))
            files[name] = _zip_entry(archive, name, stamp, chunks)
            for section, sheet in sheets.items():
                files[f"csv/{section}.csv"] = _zip_entry(archive, f"csv/{section}.csv", stamp, sheet.read())
            manifest = {
                "schema": SCHEMA,
                "schema_version": SCHEMA_VERSION,
                "client_id": client_id,
                "generated_at": export.generated_at.isoformat(),
                "files": files,
            }
            _zip_entry(archive, "manifest.json", stamp, [json.dumps(manifest, indent=2).encode()])
    finally:
        for sheet in sheets.values():
            sheet.close()
    yield b""


def _zip_entry(archive: zipfile.ZipFile, name: str, stamp, chunks: Iterable[bytes]) -> dict:
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    digest, size = hashlib.sha256(), 0
    with archive.open(info, "w") as entry:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            entry.write(chunk)
    return {"sha256": digest.hexdigest(), "bytes": size}


class _Sheet:
    """One section's CSV, waiting in a temporary file while the JSON is written."""

    def __init__(self, holder: Holder):
        self.header = [f.attname for f in _columns(holder)]
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close(); 0600 and unlinked)
        self.text = io.TextIOWrapper(self.file, encoding="utf-8", newline="")
        # A BOM so that spreadsheet programs read the accents of names as UTF-8.
        self.text.write("\ufeff")
        self.writer = csv.writer(self.text)
        self.writer.writerow(self.header)

    def write(self, row: dict) -> None:
        self.writer.writerow([_cell(row[column]) for column in self.header])

    def read(self) -> Iterator[bytes]:
        self.text.flush()
        self.file.seek(0)
        while data := self.file.read(CHUNK):
            yield data

    def close(self) -> None:
        self.text.close()


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    return escape_formula(value)


# --- The audit -------------------------------------------------------------------------------


def _audited(export: ClientExport, chunks: Iterator[bytes], *, actor, ip_address, fmt: str) -> Iterator[bytes]:
    finished = False
    try:
        yield from chunks
        finished = True
    finally:
        chunks.close()  # ends the transaction and releases the cursor before the entry is written
        _audit(export, actor=actor, ip_address=ip_address, fmt=fmt, finished=finished)


def _audit(export: ClientExport, *, actor, ip_address: str | None, fmt: str, finished: bool) -> None:
    # Ids and counts only: the trail must not become a second copy of the person's data.
    detail = {
        "client_id": export.client.pk,
        "format": fmt,
        "schema_version": SCHEMA_VERSION,
        "counts": {name: count for name, count in (export.counts or {}).items() if count},
    }
    if not finished:
        detail["bytes_sent"] = export.bytes  # of the JSON document; the download stopped there
    outcome = Outcome.SUCCESS if finished else Outcome.FAILURE
    try:
        audit_log(
            action=EXPORTED_ACTION,
            actor=actor,
            target=export.client,
            outcome=outcome,
            detail=detail,
            ip_address=ip_address,
        )
    except Exception:
        if finished:
            raise
        # The stream failed first (a lost connection, say): that error is the one to see.
        log.exception("audit of a failed GDPR export of client %s", export.client.pk)
