"""Validated imports in batches: the database is asked a few questions per 1 000 rows, not per row.

django-import-export validates each row with ``full_clean()``, which asks the database whether
the row's unique values are taken (one query per unique field) and whether it satisfies each
constraint (one query per constraint), then saves it with its own savepoint and INSERT: four to
eight statements a row. :class:`ImportBatch` keeps the library's per-row cleaning and its
``full_clean()`` of every field, and replaces the per-row database work with, per batch:

- one query per unique field (or unique set of fields) for the values the batch holds, plus an
  in-memory check for two rows of the file claiming the same value;
- one ``bulk_create`` and one ``bulk_update`` inside a savepoint. Check constraints and anything
  else the database refuses roll the savepoint back, and only then is every row of that batch
  validated one by one, so that each offending row gets its own message.

Once one row is invalid the file will be rolled back anyway, so later batches are validated but
not written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError, connections, models, transaction
from django.utils import timezone
from import_export import exceptions
from import_export.results import Error, RowResult


def fold(value):
    """Compare text as the database's case-insensitive collation does (MariaDB, SQLite NOCASE)."""
    return value.casefold() if isinstance(value, str) else value


@dataclass
class Entry:
    number: int
    row: dict
    row_result: RowResult
    instance: models.Model | None = None
    new: bool = False


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
    def __init__(self, resource, result, *, size: int, raise_errors: bool, collect_failed_rows: bool):
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
        self.seen = {names: {} for _, names in self.unique_checks}
        self.update_fields = [
            f.name for f in self.model._meta.concrete_fields if not f.primary_key and f.name != "created_at"
        ]

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
        if len(self.entries) >= self.size:
            self.flush()

    def flush(self):
        pending = [entry for entry in self.entries if entry.instance is not None]
        for model_class, names in self.unique_checks:
            self._check_unique(model_class, names, [e for e in pending if e.instance is not None])
        pending = [entry for entry in pending if entry.instance is not None]
        if pending and not self.failed:
            self._write(pending)
        for entry in self.entries:
            self._report(entry)
        self.entries = []

    # --- validation -----------------------------------------------------------------------

    def _check_unique(self, model_class, names, pending):
        fields = [self.model._meta.get_field(name) for name in names]
        keyed = {}
        for entry in pending:
            values = tuple(getattr(entry.instance, f.attname) for f in fields)
            if any(value in (None, "") for value in values):
                continue  # NULLs never collide
            key = tuple(fold(value) for value in values)
            seen = self.seen[names]
            if key in seen:
                message = entry.instance.unique_error_message(model_class, names).messages[0]
                self._invalidate(entry, self._error(names, f"{message} (also on row {seen[key]} of this file)"))
                continue
            seen[key] = entry.number
            keyed[key] = entry
        attnames = [f.attname for f in fields]
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

    def _insert(self, instances):
        """``bulk_create`` without its per-value compiler work (a third of its time): one
        multi-row INSERT … RETURNING id per chunk the database accepts, with every value prepared
        exactly as Django prepares it (``pre_save`` for ``auto_now``, ``get_db_prep_save``)."""
        connection = connections[self.manager.db]
        pk = self.model._meta.pk
        if not connection.features.can_return_rows_from_bulk_insert or any(i.pk is not None for i in instances):
            self.manager.bulk_create(instances, batch_size=self.size)
            return
        fields = [f for f in self.model._meta.concrete_fields if f is not pk]
        quote = connection.ops.quote_name
        head = f"INSERT INTO {quote(self.model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES "  # noqa: S608 - quoted identifiers; values are parameters
        row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        tail = f" RETURNING {quote(pk.column)}"
        size = max(1, min(self.size, connection.ops.bulk_batch_size(fields, instances)))
        preparers = [_preparer(f, connection) for f in fields]
        with connection.cursor() as cursor:
            for start in range(0, len(instances), size):
                chunk = instances[start : start + size]
                params = [prepare(obj) for obj in chunk for prepare in preparers]
                cursor.execute(head + ", ".join([row_sql] * len(chunk)) + tail, params)
                for obj, (value,) in zip(chunk, cursor.fetchall(), strict=True):
                    obj.pk = value
                    obj._state.adding, obj._state.db = False, self.manager.db

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
        if row_result.errors:
            result.append_error_row(number, row, row_result.errors)
            if self.collect_failed_rows:
                result.append_failed_row(row, row_result.errors[0])
            if self.raise_errors:
                raise exceptions.ImportError(row_result.errors[-1].error, number=number, row=row)
        elif row_result.validation_error is not None:
            result.append_invalid_row(number, row, row_result.validation_error)
            if self.collect_failed_rows:
                result.append_failed_row(row, row_result.validation_error)
            if self.raise_errors:
                raise exceptions.ImportError(row_result.validation_error, number=number, row=row)
        if row_result.import_type != RowResult.IMPORT_TYPE_SKIP or self.resource._meta.report_skipped:
            result.append_row_result(row_result)
