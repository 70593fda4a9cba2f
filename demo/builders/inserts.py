"""Multi-row INSERTs for the seed, without ``bulk_create``'s work per value.

``bulk_create`` sends every value of every row through the field's whole save chain (pre_save,
get_db_prep_save, then an SQL fragment and a parameter list per value): at 100 000 clients that
was more than half of the seed's time (issue 17). The builders make complete rows of plain values, so only
dates, datetimes, decimals and the odd JSON or file field need adapting, and the INSERT is one
statement per batch, which returns the new primary keys like ``bulk_create`` does.
"""

from django.db import connection, models
from django.utils import timezone

# Fields whose values the driver takes as they are (enum members are strings).
AS_THEY_ARE = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey)
# The adapter of the fields whose value takes Django's whole save chain (a file's name, JSON).
WHOLE_CHAIN = object()


def insert(model, objs: list, *, batch_size: int) -> None:
    """INSERT ``objs`` (new instances of ``model``) in batches and set their primary keys."""
    if not connection.features.can_return_rows_from_bulk_insert:
        raise NotImplementedError(
            f"The seed needs INSERT ... RETURNING, which {connection.vendor} lacks."
        )  # i18n: technical
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and not f.generated]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    returning, _ = connection.ops.return_insert_columns([model._meta.pk])
    head = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
    row_sql = f"({', '.join(['%s'] * len(fields))})"
    size = max(min(batch_size, connection.ops.bulk_batch_size(fields, objs)), 1)
    plan = [(f, f.attname, _adapter(f)) for f in fields]
    alias = connection.alias
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            batch = objs[start : start + size]
            cursor.execute(f"{head}VALUES {', '.join([row_sql] * len(batch))} {returning}", _params(plan, batch))
            for obj, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding, obj._state.db = False, alias


def _params(plan: list, batch: list) -> list:
    """The batch's values, row after row, as the database driver takes them."""
    params = []
    for obj in batch:
        values = obj.__dict__
        for field, attname, adapt in plan:
            value = values[attname]
            if value is None and field.is_relation:
                value = _related_pk(obj, field)
            if adapt is WHOLE_CHAIN:
                value = field.get_db_prep_save(field.pre_save(obj, True), connection)
            elif adapt is not None:
                value = adapt(value)
            params.append(value)
    return params


def _adapter(field):
    """How a value of ``field`` is adapted for the driver: None when it goes as it is."""
    ops = connection.ops
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        now = ops.adapt_datetimefield_value(timezone.now())  # one clock reading per call, not per row
        return lambda _value: now
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.DecimalField):
        return lambda value: ops.adapt_decimalfield_value(value, field.max_digits, field.decimal_places)
    if isinstance(field, AS_THEY_ARE):
        return None
    return WHOLE_CHAIN


def _related_pk(obj, field):
    """The key of a related row assigned before it was saved (as ``bulk_create`` takes it)."""
    related = field.get_cached_value(obj, default=None)
    if related is None:
        return None
    if related.pk is None:
        raise ValueError(f"{obj!r}: {field.name} is not saved yet.")  # i18n: technical
    setattr(obj, field.attname, related.pk)
    return related.pk
