"""Validated imports in batches: the database is asked a few questions per 1 000 rows, not per row.

django-import-export validates each row with ``full_clean()``, which asks the database whether
the row's unique values are taken (one query per unique field) and whether it satisfies each
constraint (one query per constraint), then saves it with its own savepoint and INSERT: four to
eight statements a row. :class:`ImportBatch` keeps the validation of every field as
``full_clean()`` does it (:class:`RowValidator`: the same checks, decided once per file, and
Django's own ``Field.clean()`` for any value that does not pass them), and replaces the per-row
database work with, per batch:

- one query per unique field (or unique set of fields) for the values the batch holds, plus an
  in-memory check for two rows of the file claiming the same value; the natural key's values
  were already looked up by the instance loader, and are not asked again;
- one ``bulk_create`` and one ``bulk_update`` inside a savepoint. Check constraints and anything
  else the database refuses roll the savepoint back, and only then is every row of that batch
  validated one by one, so that each offending row gets its own message.

On MariaDB the INSERT is written with its literals already made, and runs on the server while
the next batch is read and validated in Python; any other statement waits for it first.

Once one row is invalid the file will be rolled back anyway, so later batches are validated but
not written.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from functools import reduce
from operator import or_

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError, connections, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import exceptions
from import_export.results import Error, RowResult

from transfer.import_results import SeenKeys
from transfer.validation import fold

logger = logging.getLogger("django.db.backends")


@dataclass
class InFlight:
    sid: str
    pending: list
    chunk: list
    sql: bytes
    started: float


@dataclass
class Entry:
    number: int
    row: dict
    row_result: RowResult
    instance: models.Model | None = None
    new: bool = False


_TEXT_PREP = (models.CharField.get_prep_value, models.TextField.get_prep_value)
_PRE_SAVE = (models.Field.pre_save, models.DateField.pre_save, models.DateTimeField.pre_save)
_INTEGERS = (
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)


def _prepares_as_django(field) -> bool:
    cls = type(field)
    return cls.get_db_prep_save is models.Field.get_db_prep_save and cls.get_db_prep_value in (
        models.Field.get_db_prep_value,
        models.DateField.get_db_prep_value,
        models.DateTimeField.get_db_prep_value,
        models.IntegerField.get_db_prep_value,
    )


def _mysql_literal(field, connection):
    """How one column's value is written into a MariaDB/MySQL INSERT: the SQL literal (bytes)
    that MySQLdb would interpolate for the value Django prepares (``pre_save``,
    ``get_db_prep_save``), made directly for the common cases (text, aware datetimes in UTC,
    dates, booleans, integers, NULL) and by Django and MySQLdb themselves for anything else."""
    db = connection.connection
    literal, string_literal, encoding = db.literal, db.string_literal, db.encoding
    attname, pre_save, prep = field.attname, field.pre_save, field.get_db_prep_save
    cls = type(field)

    def by_django(obj):
        return literal(prep(pre_save(obj, True), connection))

    if not _prepares_as_django(field) or cls.pre_save not in _PRE_SAVE:
        return by_django
    if isinstance(field, models.CharField | models.TextField) and cls.get_prep_value in _TEXT_PREP:

        def text(obj):
            value = getattr(obj, attname)
            if value is None:
                return b"NULL"
            if value.__class__ is str:
                return string_literal(value.encode(encoding))
            return by_django(obj)

        return text
    if cls is models.DateTimeField and settings.USE_TZ:
        tz, auto = connection.timezone, field.auto_now or field.auto_now_add

        def moment(obj):
            value = pre_save(obj, True) if auto else getattr(obj, attname)
            if value is None:
                return b"NULL"
            if value.__class__ is datetime and value.utcoffset() is not None:
                return f"'{value.astimezone(tz).replace(tzinfo=None)}'".encode()  # make_naive(), str()
            return by_django(obj)

        return moment
    if cls is models.DateField and not (field.auto_now or field.auto_now_add):

        def day(obj):
            value = getattr(obj, attname)
            if value.__class__ is date:
                return f"'{value.isoformat()}'".encode()
            return b"NULL" if value is None else by_django(obj)

        return day
    if cls is models.BooleanField:

        def boolean(obj):
            value = getattr(obj, attname)
            return b"1" if value is True else b"0" if value is False else by_django(obj)

        return boolean
    if cls in _INTEGERS:

        def integer(obj):
            value = getattr(obj, attname)
            return str(value).encode() if value.__class__ is int else by_django(obj)

        return integer
    return by_django


def _preparer(field, connection):
    """How one column's value goes to the database. Text is passed as it is (what Django's
    ``get_db_prep_save`` returns for a ``str``); everything else goes through Django."""
    if field.get_internal_type() in ("CharField", "TextField", "EmailField") and not getattr(field, "auto_now", False):
        attname = field.attname

        def text(obj):
            value = getattr(obj, attname)
            return value if value is None or isinstance(value, str) else field.get_db_prep_save(value, connection)

        return text
    return lambda obj: field.get_db_prep_save(field.pre_save(obj, True), connection)


class ImportBatch:
    def __init__(self, resource, result, *, size: int, raise_errors: bool, collect_failed_rows: bool, known=None):
        self.resource, self.result, self.size = resource, result, size
        self.raise_errors, self.collect_failed_rows = raise_errors, collect_failed_rows
        self.model = resource._meta.model
        self.manager = self.model._default_manager
        self.entries: list[Entry] = []
        self.failed = False
        self.unique_checks = [
            (model_class, names)
            for model_class, names in self.model()._get_unique_checks(include_meta_constraints=True)[0]
            if not (len(names) == 1 and self.model._meta.get_field(names[0]).primary_key)
        ]
        #: The values of each unique field seen so far in the file. The natural key's are the
        #: resource's (its duplicate rows never reach the batch: BeilsResource._find_duplicate_keys).
        self.seen = {names: SeenKeys() for _model, names in self.unique_checks}
        #: ``(field name, folded keys, {folded key: instance})``: the rows of the database that
        #: hold any of the keys the instance loader looked up for this batch, by one query per
        #: 1 000 keys (set by the resource before each batch's rows are added). A unique check
        #: of that field asks the database only about other values.
        self.known = known
        self.update_fields = [
            f.name for f in self.model._meta.concrete_fields if not f.primary_key and f.name != "created_at"
        ]
        self.connection = connections[self.manager.db]
        #: The batch whose INSERT the database is still running (see _send); its rows, and the
        #: rows of the batch that carried it, are reported once it has settled.
        self.in_flight: InFlight | None = None
        self.unreported: list[Entry] = []
        self._literals = None

    @contextmanager
    def running(self):
        """Around the whole import: a batch's INSERT may still be running on the server while
        the next batch's rows are read and validated in Python. Any other statement on the
        connection (a look-up, a savepoint, the commit at the end) first waits for it."""
        with self.connection.execute_wrapper(self._settle_first):
            try:
                yield self
                self.finish()
            except BaseException:
                self._abandon()
                raise

    def _settle_first(self, execute, sql, params, many, context):
        self._settle()
        return execute(sql, params, many, context)

    def add(self, number, row, row_result, pending):
        entry = Entry(number, row, row_result)
        if row_result.errors or row_result.validation_error is not None:
            self.failed = True
        elif pending is not None and row_result.import_type in (
            RowResult.IMPORT_TYPE_NEW,
            RowResult.IMPORT_TYPE_UPDATE,
        ):
            entry.instance, entry.new = pending
        self.entries.append(entry)

    def flush(self):
        """Check and write the rows added since the last flush (the caller adds up to ``size``)."""
        self._settle()
        self._report_settled()
        pending = [entry for entry in self.entries if entry.instance is not None]
        for model_class, names in self.unique_checks:
            self._check_unique(model_class, names, [e for e in pending if e.instance is not None])
        pending = [entry for entry in pending if entry.instance is not None]
        if pending and not self.failed:
            self._write(pending)
        self.unreported.extend(self.entries)
        self.entries = []
        if self.in_flight is None:
            self._report_settled()

    def finish(self):
        """The last rows: written, settled and reported."""
        self.flush()
        self._settle()
        self._report_settled()

    def _report_settled(self):
        entries, self.unreported = self.unreported, []
        for entry in entries:
            self._report(entry)

    # --- validation -----------------------------------------------------------------------

    def _check_unique(self, model_class, names, pending):
        fields = [self.model._meta.get_field(name) for name in names]
        natural_key = self.known is not None and names == (self.known[0],)
        keyed = {}
        for entry in pending:
            values = tuple(getattr(entry.instance, f.attname) for f in fields)
            if any(value in (None, "") for value in values):
                continue  # NULLs never collide
            key = tuple(fold(value) for value in values)
            if not natural_key:
                first = self.seen[names].setdefault(key, entry.number)
                if first != entry.number:
                    message = entry.instance.unique_error_message(model_class, names).messages[0]
                    also = _("%(message)s (also on row %(row)s of this file)") % {"message": message, "row": first}
                    self._invalidate(entry, self._error(names, also))
                    continue
            keyed[key] = entry
        attnames = [f.attname for f in fields]
        if natural_key:
            # Answered by the loader's look-up (the unique index still has the last word: a row
            # taken since is refused by the database and named by _explain).
            _name, looked_up, holders = self.known
            for key, entry in list(keyed.items()):
                if key[0] in looked_up:
                    del keyed[key]
                    holder = holders.get(key[0])
                    if holder is not None and holder.pk != entry.instance.pk:
                        self._invalidate(entry, entry.instance.unique_error_message(model_class, names))
        items = list(keyed.values())
        for start in range(0, len(items), 1000):
            chunk = items[start : start + 1000]
            if len(fields) == 1:
                condition = models.Q(**{f"{attnames[0]}__in": [getattr(e.instance, attnames[0]) for e in chunk]})
            else:
                condition = reduce(or_, (models.Q(**{a: getattr(e.instance, a) for a in attnames}) for e in chunk))
            for pk, *values in self.manager.filter(condition).order_by().values_list("pk", *attnames):
                entry = keyed.get(tuple(fold(value) for value in values))
                if entry is not None and entry.instance is not None and entry.instance.pk != pk:
                    self._invalidate(entry, entry.instance.unique_error_message(model_class, names))

    def _error(self, names, message):
        key = names[0] if len(names) == 1 else NON_FIELD_ERRORS
        return ValidationError({key: [message]})

    def _invalidate(self, entry, error: ValidationError):
        row_result = entry.row_result
        row_result.import_type = RowResult.IMPORT_TYPE_INVALID
        if row_result.validation_error is not None:
            error = ValidationError(error.update_error_dict(row_result.validation_error.update_error_dict({})))
        row_result.validation_error = error
        entry.instance = None
        self.failed = True

    # --- writing --------------------------------------------------------------------------

    def _write(self, pending):
        creates = [entry.instance for entry in pending if entry.new]
        updates = [entry.instance for entry in pending if not entry.new]
        if updates and any(f.name == "updated_at" for f in self.model._meta.concrete_fields):
            now = timezone.now()  # bulk_update does not run auto_now
            for instance in updates:
                instance.updated_at = now
        if creates and self._can_send(creates):
            self._send(pending, creates, updates)
            return
        try:
            with transaction.atomic(using=self.manager.db):
                if creates:
                    self._insert(creates)
                if updates:
                    self.manager.bulk_update(updates, self.update_fields, batch_size=self.size)
        except DatabaseError as exc:
            self._explain(pending, exc)
            return
        for entry in pending:
            entry.row_result.add_instance_info(entry.instance)

    # --- writing while the next batch is read (MariaDB) ------------------------------------

    def _can_send(self, creates) -> bool:
        """The INSERT may run on the server while Python goes on: MySQLdb can send a statement
        and read its result later, the import runs in a transaction (so a refused batch can be
        rolled back to its savepoint), every new row gets its id from the database, and no other
        execute wrapper watches the connection's statements (it would miss one sent past
        Django's cursor; the debug cursor's log is written by _settle)."""
        connection = self.connection
        return (
            connection.vendor == "mysql"
            and connection.in_atomic_block
            and connection.features.uses_savepoints
            and connection.execute_wrappers == [self._settle_first]
            and connection.features.can_return_rows_from_bulk_insert
            and hasattr(connection.connection, "send_query")
            and all(instance.pk is None for instance in creates)
        )

    def _send(self, pending, creates, updates):
        connection, db = self.connection, self.connection.connection
        sid = transaction.savepoint(using=self.manager.db)
        try:
            if updates:
                self.manager.bulk_update(updates, self.update_fields, batch_size=self.size)
            chunks = self._insert_statements(creates)
            with connection.cursor() as cursor:
                for chunk, sql in chunks[:-1]:
                    cursor.execute(sql)
                    self._adopt(chunk, cursor.fetchall())
            chunk, sql = chunks[-1]
            started = time.monotonic()
            with connection.wrap_database_errors:
                db.send_query(sql)
        except DatabaseError as exc:
            transaction.savepoint_rollback(sid, using=self.manager.db)
            self._explain(pending, exc)
            return
        self.in_flight = InFlight(sid, pending, chunk, sql, started)

    def _settle(self):
        """Wait for the INSERT in flight: its rows get their ids, or, if the database refused
        it, the batch is rolled back to its savepoint and its offending rows are named."""
        flight, self.in_flight = self.in_flight, None
        if flight is None:
            return
        try:
            try:
                rows = self._receive()
            finally:
                self._log(flight)
        except DatabaseError as exc:
            transaction.savepoint_rollback(flight.sid, using=self.manager.db)
            self._explain(flight.pending, exc)
            return
        self._adopt(flight.chunk, rows)
        transaction.savepoint_commit(flight.sid, using=self.manager.db)
        for entry in flight.pending:
            entry.row_result.add_instance_info(entry.instance)

    def _log(self, flight):
        # What Django's debug cursor records for a statement (DEBUG, CaptureQueriesContext).
        connection = self.connection
        if connection.queries_logged:
            duration, sql = time.monotonic() - flight.started, flight.sql.decode(errors="replace")
            connection.queries_log.append({"sql": sql, "time": f"{duration:.3f}"})
            logger.debug(
                "(%.3f) %s; args=%s; alias=%s",
                duration,
                sql,
                None,
                connection.alias,
                extra={"duration": duration, "sql": sql, "params": None, "alias": connection.alias},
            )

    def _receive(self):
        db = self.connection.connection
        with self.connection.wrap_database_errors:
            try:
                db.read_query_result()
            except db.OperationalError as e:
                # As Django's MySQL cursor does: a refused CHECK or NOT NULL is an integrity error.
                from django.db.backends.mysql.base import CursorWrapper

                if e.args and e.args[0] in CursorWrapper.codes_for_integrityerror:
                    raise db.IntegrityError(*e.args) from e
                raise
            result = db.store_result()
            return result.fetch_row(0) if result is not None else ()

    def _abandon(self):
        # The import is failing for another reason: read what the server says, keep nothing.
        if self.in_flight is not None:
            self.in_flight = None
            with suppress(DatabaseError):
                self._receive()

    def _insert(self, instances):
        """``bulk_create`` without its per-value compiler work (a third of its time): one
        multi-row INSERT … RETURNING id per chunk the database accepts, with every value prepared
        exactly as Django prepares it (``pre_save`` for ``auto_now``, ``get_db_prep_save``)."""
        connection = self.connection
        if not connection.features.can_return_rows_from_bulk_insert or any(i.pk is not None for i in instances):
            self.manager.bulk_create(instances, batch_size=self.size)
            return
        if connection.vendor == "mysql":
            with connection.cursor() as cursor:
                for chunk, sql in self._insert_statements(instances):
                    cursor.execute(sql)
                    self._adopt(chunk, cursor.fetchall())
            return
        fields, head, tail, size = self._insert_parts(instances)
        row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        preparers = [_preparer(f, connection) for f in fields]
        with connection.cursor() as cursor:
            for start in range(0, len(instances), size):
                chunk = instances[start : start + size]
                params = [prepare(obj) for obj in chunk for prepare in preparers]
                cursor.execute(head + ", ".join([row_sql] * len(chunk)) + tail, params)
                self._adopt(chunk, cursor.fetchall())

    def _insert_parts(self, instances):
        connection, pk = self.connection, self.model._meta.pk
        fields = [f for f in self.model._meta.concrete_fields if f is not pk]
        quote = connection.ops.quote_name
        head = f"INSERT INTO {quote(self.model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES "  # noqa: S608 - quoted identifiers; values are parameters
        tail = f" RETURNING {quote(pk.column)}"
        size = max(1, min(self.size, connection.ops.bulk_batch_size(fields, instances)))
        return fields, head, tail, size

    def _insert_statements(self, instances):
        """MariaDB: each chunk's INSERT written here, with the literals MySQLdb would have
        interpolated (its per-value conversion was a fifth of an import's time)."""
        fields, head, tail, size = self._insert_parts(instances)
        self.connection.ensure_connection()
        if self._literals is None:
            self._literals = [_mysql_literal(f, self.connection) for f in fields]
        literals, head, tail = self._literals, head.encode() + b"(", b")" + tail.encode()
        statements = []
        for start in range(0, len(instances), size):
            chunk = instances[start : start + size]
            rows = b"),(".join([b",".join([make(obj) for make in literals]) for obj in chunk])
            statements.append((chunk, b"".join((head, rows, tail))))
        return statements

    def _adopt(self, chunk, rows):
        db = self.manager.db
        for obj, (value,) in zip(chunk, rows, strict=True):
            obj.pk = value
            obj._state.adding, obj._state.db = False, db

    def _explain(self, pending, exc):
        # The database refused the batch: find the rows it refused, one by one.
        blamed = False
        for entry in pending:
            try:
                entry.instance.validate_unique()
                entry.instance.validate_constraints()
            except ValidationError as error:
                self._invalidate(entry, error)
                blamed = True
        if not blamed:
            self.result.append_base_error(Error(exc))
            self.failed = True

    # --- the library's result -------------------------------------------------------------

    def _report(self, entry):
        result, row_result, number, row = self.result, entry.row_result, entry.number, entry.row
        result.increment_row_result_total(row_result)
        failing = getattr(result, "failing_rows", None)
        if row_result.errors:
            if failing is not None:
                failing.add_errors(number, row, row_result.errors)
            result.append_error_row(number, row, row_result.errors)
            if self.collect_failed_rows:
                result.append_failed_row(row, row_result.errors[0])
            if self.raise_errors:
                raise exceptions.ImportError(row_result.errors[-1].error, number=number, row=row)
        elif row_result.validation_error is not None:
            if failing is not None:
                failing.add_invalid(number, row, row_result.validation_error)
            result.append_invalid_row(number, row, row_result.validation_error)
            if self.collect_failed_rows:
                result.append_failed_row(row, row_result.validation_error)
            if self.raise_errors:
                raise exceptions.ImportError(row_result.validation_error, number=number, row=row)
        if row_result.import_type != RowResult.IMPORT_TYPE_SKIP or self.resource._meta.report_skipped:
            result.append_row_result(row_result)
