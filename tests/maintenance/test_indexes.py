"""The admin's lists sort and filter on indexed columns, in the live schema (MariaDB or SQLite).

For every registered ModelAdmin, the columns its changelist sorts by (the admin's and the
model's ``ordering``), drills into (``date_hierarchy``) and filters on (plain ``list_filter``
fields) must lead some index of the table, read back through
``connection.introspection.get_constraints``. What is deliberately left unindexed is listed in
ALLOWED with the reason: a table that stays small, or a filter on a handful of values that an
index would not help.
"""

import pytest
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models

pytestmark = pytest.mark.django_db

SMALL = "a small table (tens or hundreds of rows): a scan is as fast as an index"
FEW_VALUES = "a filter on a handful of values: an index would not be used"
GAP = "a real gap, reported to the app's owner: add a db_index / Meta.indexes entry, then remove this line"

#: Apps whose schema is not ours to change (their migrations ship with the package).
THIRD_PARTY = {"axes", "knox", "django_celery_beat", "auth"}

#: (model label, field name) → why no index is needed (yet).
ALLOWED = {
    ("transfer.SavedMapping", "resource"): SMALL,  # one row per source and list a salon imports from
    ("catalog.Pack", "name"): SMALL,
    ("catalog.Service", "name"): SMALL,
    ("crm.User", "name"): SMALL,
    ("marketing.Bonus", "name"): SMALL,
    ("backups.Backup", "engine"): FEW_VALUES,
    ("sales.Invoice", "year"): FEW_VALUES,  # one value per year the salon has traded
}


def _fields(model_admin) -> set[str]:
    """The plain field names a changelist sorts, drills or filters by. A filter on a field with
    choices or a boolean is left out: a handful of values, which an index would not help."""
    meta = model_admin.model._meta
    names = set()
    for ordering in (model_admin.ordering, meta.ordering):
        # The first key decides whether an index serves the sort; later ones break ties.
        if ordering and isinstance(ordering[0], str):
            names.add(ordering[0].lstrip("-").split("__")[0])
    if model_admin.date_hierarchy:
        names.add(model_admin.date_hierarchy.split("__")[0])
    for entry in model_admin.list_filter:
        name = entry[0] if isinstance(entry, tuple | list) else entry
        if isinstance(name, str):
            name = name.split("__")[0]
            field = next((f for f in meta.get_fields() if f.name == name), None)
            if field is not None and (getattr(field, "choices", None) or isinstance(field, models.BooleanField)):
                continue
            names.add(name)
    return names - {"pk"}


def _leading_columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        c["columns"][0]
        for c in constraints.values()
        if c["columns"] and (c["index"] or c["unique"] or c["primary_key"])
    }


def _missing() -> dict[tuple[str, str], str]:
    missing = {}
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        if meta.app_label in THIRD_PARTY or not meta.managed:
            continue
        indexed = _leading_columns(meta.db_table)
        for name in _fields(model_admin):
            try:
                field = meta.get_field(name)
            except FieldDoesNotExist:  # an annotation: not a column
                continue
            if field.many_to_many or not getattr(field, "concrete", False):
                continue
            column = field.column
            if column not in indexed:
                missing[(meta.label, name)] = f"{meta.db_table}.{column}"
    return missing


def test_every_column_an_admin_list_sorts_or_filters_by_is_indexed_or_allowed():
    missing = {key: column for key, column in _missing().items() if key not in ALLOWED}
    assert not missing, (
        "Unindexed admin sort/filter columns (add an index or an ALLOWED entry with a reason):\n"
        + "\n".join(f"  {label}.{name} ({column})" for (label, name), column in sorted(missing.items()))
    )


def test_the_allow_list_has_no_stale_entries():
    stale = set(ALLOWED) - set(_missing())
    assert not stale, f"Indexed now, or gone from the admin: remove from ALLOWED: {sorted(stale)}"
