"""A file to fill in, per resource: the columns an import reads, and one example row, in the
format the person chose (CSV, JSON or XLSX). Downloaded from the import page, so that a salon
starts from the right headers instead of guessing them."""

import csv
import io
import json

from django.db import models
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.translation import gettext as _
from import_export import widgets

from beils.lib.spreadsheets import csv_separator_for_reader, escape_formula
from transfer.resources.fields import NaturalKeysWidget, NaturalKeyWidget

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def import_template(resource, fmt: str) -> bytes:
    """The template of ``resource`` (an instance) in ``fmt``: its import columns (the headers
    its files have, unchanged) and one example row."""
    columns = template_columns(resource)
    example = [_example(resource._meta.model, field) for field in columns]
    headers = [field.column_name for field in columns]
    return _WRITERS[fmt](headers, example)


def template_columns(resource) -> list:
    """The columns an import reads: every field a file may set (not those exported for reference)."""
    return [field for field in resource.get_import_fields() if not field.readonly and field.column_name]


def _example(model, field) -> str:
    attribute = field.attribute or ""
    if "__" in attribute:
        return ""
    try:
        model_field = model._meta.get_field(attribute)
    except Exception:  # noqa: BLE001 - a computed column: no example
        return ""
    widget = field.widget
    if isinstance(widget, NaturalKeyWidget | NaturalKeysWidget):
        if widget.field == "pk":
            return "1"
        return _value(model_field.related_model._meta.get_field(widget.field))
    if isinstance(widget, widgets.ForeignKeyWidget) or model_field.primary_key:
        return ""  # an ID: empty for a new row
    return _value(model_field)


def _value(field) -> str:
    """One value a cell of ``field`` may hold, as the import reads it."""
    if field.choices:
        return str(field.choices[0][0])
    if isinstance(field, models.EmailField):
        return "ana.garcia@example.com"
    if isinstance(field, models.BooleanField):
        return "1"
    if isinstance(field, models.DecimalField):
        return "12,50" if get_format("DECIMAL_SEPARATOR") == "," else "12.50"
    if isinstance(field, models.IntegerField | models.FloatField):
        return "1"
    if isinstance(field, models.DateTimeField):
        return timezone.localtime().replace(hour=10, minute=30, second=0, microsecond=0).isoformat()
    if isinstance(field, models.DateField):
        return timezone.localdate().isoformat()
    if isinstance(field, models.JSONField):
        return "{}"
    if isinstance(field, models.FileField):
        return ""
    text = _("Example %(field)s") % {"field": field.verbose_name}
    return text[: field.max_length] if field.max_length else text


def _csv(headers, row) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=csv_separator_for_reader())
    writer.writerow(headers)
    writer.writerow([escape_formula(value) for value in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM tells Excel it is UTF-8


def _json(headers, row) -> bytes:
    return json.dumps([dict(zip(headers, row, strict=True))], indent=2, ensure_ascii=False, default=str).encode()


def _xlsx(headers, row) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    sheet.append([escape_formula(value) for value in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


_WRITERS = {"csv": _csv, "json": _json, "xlsx": _xlsx}
