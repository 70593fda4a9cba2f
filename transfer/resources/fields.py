"""The cells of a Beils file: widgets that read and write money, dates, e-mails and business
keys strictly (an unknown key is an error that names it, never a silent NULL), and the helpers
that declare a resource's fields with them."""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import FieldDoesNotExist, MultipleObjectsReturned
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from import_export import fields, widgets

from beils.lib.spreadsheets import unescape_formula
from transfer.validation import fold


def header_for(field_name: str) -> str:
    """The column's header in files: English and stable (scripts and the README name them)."""
    special = {"id": "ID", "sku": "SKU", "legacy_id": "Legacy ID", "is_demo": "Demo"}
    return special.get(field_name, field_name.replace("_", " ").capitalize())


def column_label(model, field: fields.Field) -> str:
    """What a person calls the column ``field`` of a ``model`` file, in their language, said once:
    the model field's verbose name ("Correo electrónico"), and for a foreign key read by a
    business key, the key too ("Cliente (email)"). The file's header stays ``field.column_name``."""
    target, names = model, (field.attribute or "").split("__")
    labels = []
    for name in names:
        try:
            model_field = target._meta.get_field(name)
        except FieldDoesNotExist:
            return field.column_name
        labels.append(str(getattr(model_field, "verbose_name", name)))
        target = model_field.related_model or target
    widget = field.widget
    key = getattr(widget, "field", None) if isinstance(widget, NaturalKeyWidget | NaturalKeysWidget) else None
    if key is not None and model_field.is_relation:
        labels.append("ID" if key == "pk" else str(target._meta.get_field(key).verbose_name))
    if len(labels) == 1:
        return capfirst(labels[0])
    return _("%(field)s (%(key)s)") % {"field": capfirst(labels[0]), "key": labels[-1]}


# --- Widgets --------------------------------------------------------------------------------


class DecimalWidget(widgets.DecimalWidget):
    """Money and rates: ``12.50`` or, as a Spanish Excel writes it, ``12,50``; anything else is a
    row error with the value in it (the library's own lets ``InvalidOperation`` escape)."""

    def clean(self, value, row=None, **kwargs):
        if self.is_empty(value):
            return None
        if isinstance(value, int | float | Decimal):
            return Decimal(str(value))
        text = str(value).strip()
        if "," in text and "." not in text and text.count(",") == 1:
            text = text.replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(_("'%(value)s' is not a number; write it like 12.50.") % {"value": value}) from None
        if not number.is_finite():
            raise ValueError(_("'%(value)s' is not a number; write it like 12.50.") % {"value": value})
        return number


class DateTimeWidget(widgets.DateTimeWidget):
    """ISO 8601 first (what streamed exports write: ``2026-11-24T09:30:00+00:00``), in C and
    with its offset kept; then the formats the library knows (``24/11/2026 10:30``…), read in
    the salon's time zone."""

    def clean(self, value, row=None, tz=None, **kwargs):
        # ``tz``: the current time zone, when the caller (a batched import) has already asked.
        if isinstance(value, str) and value[:4].isdigit():
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                pass
            else:
                return parsed if parsed.utcoffset() is not None else timezone.make_aware(parsed, tz)
        return super().clean(value, row, **kwargs)


class DateWidget(widgets.DateWidget):
    """ISO dates (``2026-11-24``) parsed in C; then the library's formats (``24/11/2026``…)."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, str) and len(value) == 10 and value[4] == "-":
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        return super().clean(value, row, **kwargs)


class EmailWidget(widgets.CharWidget):
    """Emails are stored lower-case; an empty cell is NULL, never ''."""

    def clean(self, value, row=None, **kwargs):
        value = (str(value) if value is not None else "").strip().lower()
        return value or None


class NaturalKeyWidget(widgets.ForeignKeyWidget):
    """A foreign key written as a unique business value of the related row (email, SKU, code…).

    Looks in the model's default manager, which sees deactivated rows too: a sale of a client who
    was later deactivated must still import.
    """

    def __init__(self, model, field, *, upper=False, lower=False, **kwargs):
        super().__init__(model, field=field, **kwargs)
        self.upper, self.lower = upper, lower

    def get_queryset(self, value, row, *args, **kwargs):
        return self.model._default_manager.all()

    def normalize(self, value):
        value = str(value).strip()
        if self.upper:
            value = value.upper()
        if self.lower:
            value = value.lower()
        return value

    #: ``{folded key: [instances]}`` for the file being imported, filled by :meth:`prefetch`.
    cache = None

    def prefetch(self, values) -> None:
        """Load every row the file refers to, in one query per 1 000 keys, before the rows are
        read (instead of one query per row)."""
        keys = list({self.normalize(unescape_formula(v)) for v in values if v is not None and str(v).strip()})
        self.cache = {}
        for start in range(0, len(keys), 1000):
            lookup = {f"{self.field}__in": keys[start : start + 1000]}
            for instance in self.get_queryset(None, None).filter(**lookup):
                self.cache.setdefault(fold(str(getattr(instance, self.field))), []).append(instance)

    def clean(self, value, row=None, **kwargs):
        if value is None or str(value).strip() == "":
            return None
        value = self.normalize(value)
        found = self.cache.get(fold(value)) if self.cache is not None else None
        if found is not None and len(found) == 1:
            return found[0]
        # Not prefetched, or a key the collation matches differently (accents): ask the database.
        try:
            return self.get_instance_by_lookup_fields(value, row, **kwargs)
        except self.model.DoesNotExist:
            raise ValueError(
                _("There is no %(model)s with %(field)s '%(value)s'.")
                % {"model": self.model._meta.verbose_name, "field": self.field, "value": value}
            ) from None
        except MultipleObjectsReturned:
            raise ValueError(
                _("More than one %(model)s has %(field)s '%(value)s'.")
                % {"model": self.model._meta.verbose_name, "field": self.field, "value": value}
            ) from None


class IdWidget(NaturalKeyWidget):
    """A foreign key to a row that has no business key (a sale, a booking): by its ID."""

    def __init__(self, model, **kwargs):
        super().__init__(model, "pk", **kwargs)

    def clean(self, value, row=None, **kwargs):
        if value not in (None, "") and not str(value).strip().isdigit():
            raise ValueError(
                _("'%(value)s' is not a %(model)s ID.") % {"value": value, "model": self.model._meta.verbose_name}
            )
        if isinstance(value, float):
            value = int(value)
        return super().clean(value, row, **kwargs)


class NaturalKeysWidget(widgets.ManyToManyWidget):
    """A many-to-many as a comma-separated list of business keys; unknown keys are an error."""

    def clean(self, value, row=None, **kwargs):
        if not value:
            return self.model.objects.none()
        keys = [key.strip() for key in str(value).split(self.separator) if key.strip()]
        found = self.model._default_manager.filter(**{f"{self.field}__in": keys})
        missing = sorted(set(keys) - {str(getattr(obj, self.field)) for obj in found})
        if missing:
            names = ", ".join(f"'{key}'" for key in missing)
            raise ValueError(
                _("There is no %(model)s with %(field)s %(values)s.")
                % {"model": self.model._meta.verbose_name, "field": self.field, "values": names}
            )
        return found

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return self.separator.join(sorted(str(getattr(o, self.field)) for o in value.all()))


# --- Field helpers ----------------------------------------------------------------------------


def natural_fk(attribute, model, key, column=None, **kwargs) -> fields.Field:
    return fields.Field(
        attribute=attribute, column_name=column or header_for(attribute), widget=NaturalKeyWidget(model, key, **kwargs)
    )


def id_fk(attribute, model, column=None) -> fields.Field:
    return fields.Field(
        attribute=attribute, column_name=column or f"{header_for(attribute)} ID", widget=IdWidget(model)
    )


def natural_m2m(attribute, model, key, column=None) -> fields.Field:
    return fields.Field(
        attribute=attribute, column_name=column or header_for(attribute), widget=NaturalKeysWidget(model, field=key)
    )


def read_only(attribute, column=None, widget=None) -> fields.Field:
    """Exported for reference, ignored on import (an ID of another database, a derived date)."""
    return fields.Field(
        attribute=attribute,
        column_name=column or header_for(attribute),
        widget=widget or widgets.Widget(),
        readonly=True,
    )
