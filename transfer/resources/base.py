"""The base of every import/export resource: natural keys, formula escaping, strict cells, audit.

One class, :class:`BeilsResource`, so that the admin, ``manage.py export`` / ``manage.py import``
and any other caller get the same rules:

- Cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage
  return) are exported with a leading ``'`` and the quote is taken off again on import, so an
  export re-imports to equal data (OWASP "CSV injection").
- Foreign keys are written and read by a business key (an email, a SKU, a code, a name); an
  unknown key is a row error that names the value, never a silent NULL.
- Imports run ``full_clean`` on every row and write all rows or none: a file with one invalid
  row writes nothing, also from the command line.
- Every export (when its file is produced) and every import is recorded in the audit trail
  with the actor, the model, the row count, the format and the SHA-256 of the file.
"""

import gc
from contextlib import contextmanager
from copy import copy
from datetime import datetime, timedelta
from functools import partial
from itertools import islice

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from import_export import resources, widgets
from import_export.fields import NOT_PROVIDED
from import_export.results import Error, RowResult

from beils.lib.spreadsheets import FORMULA_PREFIXES, escape_formula, unescape_formula  # noqa: F401
from transfer.import_results import BoundedResult, FailingRows, SeenKeys
from transfer.importing import ImportBatch
from transfer.resources.exporting import ExportingMixin, _audit, _cli_actor
from transfer.resources.fields import (
    DateTimeWidget,
    DateWidget,
    DecimalWidget,
    NaturalKeyWidget,
    header_for,
    read_only,
)
from transfer.resources.loading import BatchInstanceLoader
from transfer.validation import RowValidator, instance_factory


@contextmanager
def paused_gc():
    """The cyclic garbage collector leaves alone what existed before the file was read (Django,
    the modules, the caches: ``gc.freeze()``), so that its collections scan only the objects of
    the batches being read. It used to be paused for the whole import, when every row's objects
    lived until its end (about a tenth of a large import's time); now that a batch's rows are
    freed after it, a paused collector would keep every cycle a failing row leaves (its error's
    traceback) until the end of the file."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# --- The resource -----------------------------------------------------------------------------


class ImportRefused(Exception):
    """Raised for models that are never imported (fiscal records)."""


class BeilsResource(ExportingMixin, resources.ModelResource):
    """Base of every resource. Subclasses list ``Meta.fields`` in column order, set
    ``Meta.import_id_fields`` to the natural key (or leave ``id``), and declare foreign keys with
    :func:`natural_fk` / :func:`id_fk`."""

    WIDGETS_MAP = {
        **resources.ModelResource.WIDGETS_MAP,
        "DecimalField": DecimalWidget,
        "DateTimeField": DateTimeWidget,
        "DateField": DateWidget,
    }

    #: False for fiscal records: exported, never imported.
    importable = True

    #: ``progress(rows_done, rows_total)``, called every 500 rows of an import (background jobs).
    progress = None

    def __init__(
        self, *, actor=None, ip_address=None, invalid_rows_are_errors=True, preview_rows=0, keep_rows=True,
        mapping_detail=None, **kwargs,
    ):  # fmt: skip
        """``actor``: who exports or imports (a user, or a label); the command line when None.

        ``invalid_rows_are_errors``: the admin shows invalid rows in its own table and keeps them
        as validation errors; every other caller (``manage.py import``, scripts) gets them as
        errors, so that "has errors" is true and nothing reports success over a rolled-back file.

        ``preview_rows``: files up to this many rows get the library's per-field diff of every row
        (the admin's preview); larger files, and every file by default, only say per row whether
        it is new, updated, skipped or invalid, which is three times faster.

        ``keep_rows``: False for large files (background jobs): the result keeps the totals and
        the first failing rows only, and writes every failing row to ``result.failing_rows``
        (a temporary CSV file), instead of a result for every row of the file.
        """
        super().__init__(**kwargs)
        # Options this import may change for itself (not for every import of the class).
        self._meta = copy(self._meta)
        if any(isinstance(field.widget, widgets.ManyToManyWidget) for field in self.fields.values()):
            self._meta.use_bulk = False
        self._pending = None
        self._duplicate_rows = {}
        self._import_fields = None
        self._file_fields = None  # set per file by _prepare_file() (batched imports)
        self._untouched = []
        self._row_validator = None
        self._new_instance = None
        self._before = {}
        self.preview_rows = preview_rows
        self.actor = actor
        self.ip_address = ip_address
        self.invalid_rows_are_errors = invalid_rows_are_errors
        self.keep_rows = keep_rows
        self.mapping_detail = mapping_detail  # the column-mapping step's choices (transfer/import_mapping.py)
        self._seen_keys = SeenKeys()
        self._file_headers = frozenset()

    class Meta:
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True
        # Validated and written in batches (transfer/importing.py). Models normalise themselves
        # in prepare_to_save(), which both save() and the batch writer call. Resources with a
        # many-to-many column, or whose model's save() does more (a user's role group), set it
        # to False and save row by row.
        use_bulk = True
        batch_size = 1000
        instance_loader_class = BatchInstanceLoader

    def get_queryset(self):
        # The default manager, which sees deactivated rows: ``objects`` hides them, and an export
        # without them is not a copy of the data, an import would not find them to update.
        return self._meta.model._default_manager.all()

    @classmethod
    def field_from_django_field(cls, field_name, django_field, readonly):
        field = super().field_from_django_field(field_name, django_field, readonly)
        field.column_name = header_for(field_name)
        return field

    # --- import ---

    def required_columns(self) -> list[str]:
        """The columns a file must have: the natural key, and every field a new row needs."""
        required = [self.fields[name].column_name for name in self.get_import_id_fields() if name != "id"]
        for field in self.get_import_fields():
            if field.readonly or not field.attribute:
                continue
            try:
                model_field = self._meta.model._meta.get_field(field.attribute.removesuffix("_id"))
            except FieldDoesNotExist:  # a computed column
                continue
            if getattr(model_field, "many_to_many", False) or model_field.primary_key or not model_field.editable:
                continue
            if not model_field.blank and not model_field.has_default() and field.column_name not in required:
                required.append(field.column_name)
        return required

    def before_import(self, dataset, **kwargs):
        if not self.importable:
            raise ImportRefused(
                _("%(models)s are exported only, never imported.")
                % {"models": capfirst(self._meta.model._meta.verbose_name_plural)}
            )
        if not dataset.headers:
            raise ValueError(_("The file is empty: it has no header row."))
        dataset.headers = self._canonical_headers(dataset.headers)
        self._file_headers = frozenset(dataset.headers)
        missing = [column for column in self.required_columns() if column not in dataset.headers]
        if missing:
            raise ValueError(_("Missing required column(s): %(columns)s.") % {"columns": ", ".join(missing)})
        self._seen_keys = SeenKeys(expected=len(dataset))
        if not self._meta.use_bulk:
            # Row by row (the library's path): the whole file at once. A batched import does
            # this for each batch as it reads it (_prepare_batch).
            headers = dataset.headers
            self._prepare_batch([(n, dict(zip(headers, values, strict=True))) for n, values in enumerate(dataset, 1)])
        super().before_import(dataset, **kwargs)

    def _prepare_batch(self, rows, loader=None):
        """What the rows of one batch (``[(row number, row)]``) need before they are imported:
        their duplicate keys found, their foreign keys and existing instances loaded."""
        self._find_duplicate_keys(rows)
        for field in self.get_import_fields():
            if isinstance(field.widget, NaturalKeyWidget) and field.column_name in self._file_headers:
                column = field.column_name
                field.widget.prefetch([row.get(column) for _number, row in rows])
        if loader is not None:
            loader.load(row for _number, row in rows)

    def _find_duplicate_keys(self, rows):
        """{row number: message} for every row whose natural key (SKU, email…) an earlier row of
        the file already has: two such rows would silently become "create, then overwrite".
        Each one is reported as an invalid row (import_row), so that a file's every duplicate
        is named in one pass, with the other bad rows, and nothing is written. Called for each
        batch in file order: the keys seen so far are kept, in 12 bytes each (SeenKeys)."""
        self._duplicate_rows = {}
        names = [name for name in self.get_import_id_fields() if name != "id"]
        columns = [self.fields[name].column_name for name in names]
        if not columns:
            return
        seen = self._seen_keys
        for number, row in rows:
            values = [row.get(column) for column in columns]
            # Compared as the cells will be read (a formula's quote taken off) and as a
            # case-insensitive collation compares them.
            key = tuple(str(unescape_formula(value) or "").strip().casefold() for value in values)
            if not any(key):
                continue  # an empty key is always a new row (a client without email)
            first = seen.setdefault(key, number)
            if first != number:
                shown = " / ".join(str(value) for value in values)
                message = _("%(columns)s '%(value)s' is on rows %(first)s and %(row)s.") % {
                    "columns": " / ".join(columns), "value": shown, "first": first, "row": number,
                }  # fmt: skip
                self._duplicate_rows[number] = (names[0] if len(names) == 1 else NON_FIELD_ERRORS, message)

    def _duplicate_row_result(self, row, number):
        field, message = self._duplicate_rows[number]
        row_result = RowResult()
        row_result.import_type = RowResult.IMPORT_TYPE_INVALID
        row_result.validation_error = ValidationError({field: [message]})
        if self._meta.store_row_values:
            row_result.row_values = row
        return row_result

    def _canonical_headers(self, headers):
        # "email", " EMAIL" and "\ufeffEmail" (a byte-order mark read as text) all mean "Email".
        known = {}
        for name, field in self.fields.items():
            known.setdefault(field.column_name.lower(), field.column_name)
            known.setdefault(name.lower(), field.column_name)
        return [known.get(str(h or "").lstrip("\ufeff").strip().lower(), str(h or "").strip()) for h in headers]

    def before_import_row(self, row, **kwargs):
        # Only a text starting with ' can be an escaped formula (see unescape_formula).
        for column, value in row.items():
            if value.__class__ is not str or value[:1] == "'":
                row[column] = unescape_formula(value)
        super().before_import_row(row, **kwargs)

    def get_instance(self, instance_loader, row):
        # A row whose natural key is empty (a client without email) is always a new row: looking
        # it up would match every other row with an empty key.
        names = self.get_import_id_fields()
        if len(names) == 1 and getattr(instance_loader, "cache", None) is not None:
            # The batch loader's cache, asked with the key read once (the library reads it twice).
            field = self.fields[names[0]]
            if field.column_name not in row:
                return None
            return instance_loader.get_instance_by_key(field.clean(row))
        for name in names:
            field = self.fields[name]
            if field.column_name in row and field.clean(row) in (None, ""):
                return None
        return super().get_instance(instance_loader, row)

    def init_instance(self, row=None):
        if self._new_instance is not None:
            return self._new_instance()
        return super().init_instance(row)

    def get_import_fields(self):
        # Asked four times a row by the library; the answer never changes during an import.
        if self._import_fields is None:
            self._import_fields = super().get_import_fields()
        return self._import_fields

    def import_instance(self, instance, row, **kwargs):
        adding = instance._state.adding
        self._before = (
            {} if adding else {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}
        )
        if self._file_fields is not None:
            self._set_fields(instance, row)
        else:
            super().import_instance(instance, row, **kwargs)
        # Files carry times to the second: the same second is no change (keeps skip_unchanged
        # honest and the stored microseconds intact).
        for attname, value in self._before.items():
            if isinstance(value, datetime):
                new = getattr(instance, attname)
                if new is not None and abs(new - value) < timedelta(seconds=1):
                    setattr(instance, attname, value)
        # Normalised as it will be stored (emails, codes, NULL for ''), before it is validated.
        instance.prepare_to_save()

    def _set_fields(self, instance, row):
        # The library's import_instance() and Field.save(), for the plain columns the file has,
        # without their per-cell indirections (a third of the time of a large import).
        errors = {}
        for column, attribute, clean, empty, default, saves_null in self._file_fields:
            value = row[column]
            if clean is None:  # CharWidget.clean() with its default options: never None
                setattr(instance, attribute, "" if value is None else value if value.__class__ is str else str(value))
                continue
            try:  # Field.clean()
                value = clean(value, row=row)
            except ValueError as e:
                errors[attribute] = ValidationError(str(e), code="invalid")
                continue
            if default is not NOT_PROVIDED and value in empty:
                value = default() if callable(default) else default
            if value is not None or saves_null:
                setattr(instance, attribute, value)
        if errors:
            raise ValidationError(errors)

    def import_row(self, row, instance_loader, **kwargs):
        if kwargs.get("row_number") in self._duplicate_rows:
            return self._duplicate_row_result(row, kwargs["row_number"])
        if self._file_fields is None or not self._meta.skip_diff:
            return super().import_row(row, instance_loader, **kwargs)
        # The library's import_row() for a batched import without a diff: the same hooks in the
        # same order, without the per-row diff, delete and m2m branches it does not need.
        if not self._meta.store_instance:
            self._meta.store_instance = kwargs.get("retain_instance_in_row_result", False)
        row_result = RowResult()
        if self._meta.store_row_values:
            row_result.row_values = row
        try:
            self.before_import_row(row, **kwargs)
            instance, new = self.get_or_init_instance(instance_loader, row)
            self.after_init_instance(instance, new, row, **kwargs)
            row_result.import_type = RowResult.IMPORT_TYPE_NEW if new else RowResult.IMPORT_TYPE_UPDATE
            errors = {}
            try:
                self.import_instance(instance, row, **kwargs)
            except ValidationError as e:
                errors = e.update_error_dict(errors)
            if self.skip_row(instance, None, row, errors):
                row_result.import_type = RowResult.IMPORT_TYPE_SKIP
            else:
                self.validate_instance(instance, errors)
                self.save_instance(instance, new, row, **kwargs)
            if not new:
                row_result.add_instance_info(instance)  # new rows: once written, with their id
            if self._meta.store_instance:
                row_result.instance = instance
            self.after_import_row(row, row_result, **kwargs)
        except ValidationError as e:
            row_result.import_type = RowResult.IMPORT_TYPE_INVALID
            row_result.validation_error = e
        except Exception as e:  # noqa: BLE001 - the library's contract: a row error is a result
            row_result.import_type = RowResult.IMPORT_TYPE_ERROR
            row_result.errors.append(self.get_error_result_class()(e, row=row, number=kwargs["row_number"]))
        return row_result

    def _known_keys(self, loader):
        """What the instance loader already asked the database about the natural key: ``(field
        name, keys looked up, {key: row holding it})``, so that the batch does not ask again
        whether those keys are taken (see ImportBatch._check_unique)."""
        if getattr(loader, "cache", None) is None or loader.field is None or "__" in (loader.field.attribute or "__"):
            return None
        return loader.field.attribute, loader.looked_up, loader.holders

    def _prepare_file(self, headers):
        """What every row of this file will need: the fields it sets, and the model fields it
        cannot have changed (not validated again row after row)."""
        present = set(headers)
        model = self._meta.model
        fields = [f for f in self.get_import_fields() if f.attribute and not f.readonly and f.column_name in present]
        # Per column: where it is read from, what it sets, and its widget's clean() when it is
        # not plain text; the library's Field.clean() and Field.save(), decided once per file.
        self._file_fields = [
            (
                f.column_name,
                f.attribute,
                None
                if type(f.widget) is widgets.CharWidget and f.widget.allow_blank and f.default is NOT_PROVIDED
                else partial(f.widget.clean, tz=timezone.get_current_timezone())
                if type(f.widget) is DateTimeWidget
                else f.widget.clean,
                f.empty_values,
                f.default,
                f.saves_null_values,
            )
            for f in fields
            if "__" not in f.attribute and not isinstance(f.widget, widgets.ManyToManyWidget)
        ]
        if len(self._file_fields) != len(fields) or type(self).import_field is not resources.Resource.import_field:
            self._file_fields = None  # a column the plain path cannot set: the library's path
        attributes = {f.attribute for f in fields}
        self._untouched = [
            f.name for f in model._meta.concrete_fields if f.name not in attributes and f.attname not in attributes
        ]
        # full_clean() as validate_instance() calls it, compiled for this file's columns: foreign
        # keys read by a NaturalKeyWidget are rows just loaded from the database, not asked again.
        loaded = {
            f.attribute: f"{f.attribute}_id"
            for f in self.get_import_fields()
            if isinstance(f.widget, NaturalKeyWidget) and f.attribute
        }
        self._row_validator = RowValidator(model, exclude=set(self._untouched), loaded=loaded)
        # New rows without Model.__init__'s per-field loop, unless a subclass builds its own.
        factory = instance_factory(model) if type(self).init_instance is BeilsResource.init_instance else model
        self._new_instance = None if factory is model else factory

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if not self._meta.skip_diff:
            return super().skip_row(instance, original, row, import_validation_errors)
        # Without a diff there is no deep copy of the original to compare with (that copy was a
        # third of an import's time): compare with the values read before the row was applied.
        if import_validation_errors or instance._state.adding or not self._meta.skip_unchanged:
            return False
        return all(getattr(instance, attname) == value for attname, value in self._before.items())

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        if not self._meta.use_bulk:
            return super().validate_instance(instance, import_validation_errors, validate_unique)
        # Uniqueness and constraints are checked per batch (transfer/importing.py), and a foreign
        # key read by a NaturalKeyWidget is a row just loaded from the database: asking again
        # whether it exists would be one more query per row.
        errors = dict(import_validation_errors or {})
        try:
            if self._row_validator is not None:
                self._row_validator(instance, exclude=errors)
            else:
                loaded = [
                    field.attribute
                    for field in self.get_import_fields()
                    if isinstance(field.widget, NaturalKeyWidget)
                    and getattr(instance, f"{field.attribute}_id", None) is not None
                ]
                instance.full_clean(
                    exclude=[*errors, *loaded, *self._untouched], validate_unique=False, validate_constraints=False
                )
        except ValidationError as e:
            errors = e.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def save_instance(self, instance, is_create, row, **kwargs):
        if not self._meta.use_bulk:
            return super().save_instance(instance, is_create, row, **kwargs)
        self.before_save_instance(instance, row, **kwargs)
        self._pending = (instance, is_create)  # written by the batch
        self.after_save_instance(instance, row, **kwargs)

    def import_data_inner(self, dataset, dry_run, raise_errors, using_transactions, collect_failed_rows, **kwargs):
        if not self._meta.use_bulk:
            return super().import_data_inner(
                dataset, dry_run, raise_errors, using_transactions, collect_failed_rows, **kwargs
            )
        result = self.get_result_class()()
        result.diff_headers = self.get_diff_headers()
        result.total_rows = len(dataset)
        try:
            self.before_import(dataset, **kwargs)
            self._check_import_id_fields(dataset.headers)
        except Exception as e:  # noqa: BLE001 - the library's contract: a file error is a result
            self.handle_import_error(result, e, raise_errors)
            return result
        loader = self._meta.instance_loader_class(self, dataset)
        self._prepare_file(dataset.headers)
        if collect_failed_rows:
            result.add_dataset_headers(dataset.headers)
        if isinstance(result, BoundedResult):
            columns = {name: field.column_name for name, field in self.fields.items()}
            result.failing_rows = FailingRows(dataset.headers, columns, getattr(dataset, "delimiter", None) or ",")
        batch = ImportBatch(
            self,
            result,
            size=self._meta.batch_size,
            raise_errors=raise_errors,
            collect_failed_rows=collect_failed_rows,
        )
        headers = dataset.headers
        with paused_gc(), batch.running():
            self._import_rows(dataset, headers, loader, batch, dry_run, using_transactions, kwargs)
        try:
            self.after_import(dataset, result, **kwargs)
        except Exception as e:  # noqa: BLE001
            self.handle_import_error(result, e, raise_errors)
        return result

    def _import_rows(self, dataset, headers, loader, batch, dry_run, using_transactions, kwargs):
        """The file read one batch at a time: memory holds two batches of rows, whatever the
        file's size (the file itself may be a stream: beils.lib.formats.StreamedRows).

        The next batch is read and looked up before this one is written: any query sent after
        a batch's INSERT waits for it, and the next batch's rows are to be validated while the
        server runs it (ImportBatch._send)."""
        numbered, total, progress = enumerate(dataset, 1), len(dataset), self.progress
        rows = self._read_batch(numbered, headers, batch.size, loader)
        while rows:
            known = self._known_keys(loader)
            for number, row in rows:
                self._pending = None
                row_result = self.import_row(
                    row, loader, dry_run=dry_run, using_transactions=using_transactions, row_number=number, **kwargs
                )
                batch.add(number, row, row_result, self._pending)
                if progress is not None and number % 500 == 0:
                    progress(number, total)
            rows = self._read_batch(numbered, headers, batch.size, loader)
            batch.known = known
            batch.flush()

    def _read_batch(self, numbered, headers, size, loader):
        rows = [(number, dict(zip(headers, values, strict=True))) for number, values in islice(numbered, size)]
        if rows:
            self._prepare_batch(rows, loader)
        return rows

    def get_result_class(self):
        return super().get_result_class() if self.keep_rows else BoundedResult

    def import_data(self, dataset, dry_run=False, raise_errors=False, use_transactions=None, **kwargs):
        # All or nothing: a file with one invalid row writes no row.
        kwargs["rollback_on_validation_errors"] = True
        if not self._meta.use_bulk and hasattr(dataset, "to_dataset"):
            dataset = dataset.to_dataset()  # row by row, the library's path: a tablib dataset
        self._meta.skip_diff = not self.keep_rows or len(dataset) > self.preview_rows
        result = super().import_data(
            dataset, dry_run=dry_run, raise_errors=raise_errors, use_transactions=use_transactions, **kwargs
        )
        # For the failing-rows file (transfer/jobs.py): the file's columns, and the column
        # each field is read from.
        result.beils_headers = list(dataset.headers or [])
        result.beils_delimiter = getattr(dataset, "delimiter", None)  # a streamed CSV's separator
        result.beils_columns = {name: field.column_name for name, field in self.fields.items()}
        if self.invalid_rows_are_errors and result.has_validation_errors():
            self._report_invalid_rows_as_errors(result)
        self._audit_import(
            dataset, result, dry_run=dry_run, actor=kwargs.get("user"), file_name=kwargs.get("file_name")
        )
        return result

    def _report_invalid_rows_as_errors(self, result):
        invalid = [row for row in result.rows if row.validation_error is not None]
        count = result.totals[RowResult.IMPORT_TYPE_INVALID] if isinstance(result, BoundedResult) else len(invalid)
        for row in invalid:
            error = row.validation_error
            by_field = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
            messages = []
            for field, errors in by_field.items():
                column = self.fields[field].column_name if field in self.fields else field
                prefix = "" if field == NON_FIELD_ERRORS else f"{column}: "
                messages.extend(f"{prefix}{message}" for message in errors)
            row.errors.append(Error(ValueError("; ".join(messages))))
        message = _("%(count)s invalid row(s): nothing was written.") % {"count": count}
        result.append_base_error(Error(ValueError(message)))

    def _audit_import(self, dataset, result, *, dry_run, actor, file_name):
        from audit.models import Outcome

        failed = result.has_errors() or result.has_validation_errors()
        totals = {key.lower(): value for key, value in result.totals.items()}
        errors = [str(e.error) for e in result.base_errors]
        errors += [f"row {number}: {e.error}" for number, row_errors in result.row_errors() for e in row_errors]
        _audit(
            action="maintenance.import.failed" if failed else "maintenance.import.done",
            outcome=Outcome.FAILURE if failed else (Outcome.DRY_RUN if dry_run else Outcome.SUCCESS),
            actor=actor or self.actor or _cli_actor(),
            ip_address=self.ip_address,
            detail={
                "model": self._meta.model._meta.label,
                "resource": f"{type(self).__module__}.{type(self).__qualname__}",
                "rows": len(dataset),
                "format": getattr(dataset, "beils_format", None),
                "sha256": getattr(dataset, "beils_sha256", None),
                "file_name": file_name,
                "dry_run": bool(dry_run),
                **totals,
                "errors": errors[:20],
                **({"mapping": self.mapping_detail} if self.mapping_detail else {}),
            },
        )


class SoftDeleteResource(BeilsResource):
    """For models deactivated rather than deleted, matched on a natural key (email, SKU, code):
    the exporting database's ID and the deactivation time travel for reference only."""

    id = read_only("id")
    deactivated_at = read_only("deactivated_at", widget=DateTimeWidget())
