"""Which column of someone else's file holds what Beils calls a client's e-mail, a sale's total…

A *target* is one Beils meaning (``email``) with the spellings other files use for it, in English
and Spanish (``E-mail``, ``Correo electrónico``, ``Email address``). :func:`guess_mapping` reads a
file's headers and proposes a target per column; a person corrects the guess with dropdowns and
Beils remembers the result per source (:class:`~transfer.models.SavedMapping`), so that the next
file from the same place maps itself.

Headers are compared :func:`normalised`: without accents, case, punctuation or repeated spaces, so
``"Teléfono móvil"``, ``"TELEFONO_MOVIL"`` and ``"telefono movil"`` are one header.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from beils.lib.parsing import blank, parse_date, parse_datetime, parse_decimal

#: The dropdown's value for "this column is not imported".
IGNORE = ""


@dataclass(frozen=True)
class Target:
    """One Beils meaning a column can carry."""

    name: str
    label: Promise | str
    synonyms: tuple[str, ...] = ()
    required: bool = False
    #: How the value is read: "text", "email", "decimal", "date", "datetime", "integer".
    kind: str = "text"
    spellings: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        names = {self.name, self.name.replace("_", " "), str(self.label), *self.synonyms}
        object.__setattr__(self, "spellings", frozenset(normalised(n) for n in names))


def normalised(header) -> str:
    """``"Teléfono  Móvil_1"`` → ``"telefono movil 1"``."""
    text = unicodedata.normalize("NFKD", str(header or "")).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())


def guess_mapping(headers: Sequence[str], targets: Sequence[Target]) -> dict[str, str]:
    """Each header → the name of the target it most likely holds, or :data:`IGNORE`.

    A header that is one of a target's spellings wins it outright; otherwise a header whose words
    contain all of one spelling's words (``"Client e-mail address"`` ⊇ ``"email"`` after
    normalising) takes the target with the longest such spelling. Each target goes to one column
    at most: the first, in the file's order, that claims it."""
    taken: set[str] = set()
    guess = dict.fromkeys(headers, IGNORE)
    for header in headers:
        exact = [t for t in targets if normalised(header) in t.spellings and t.name not in taken]
        if exact:
            guess[header] = exact[0].name
            taken.add(exact[0].name)
    for header in headers:
        if guess[header]:
            continue
        words = set(normalised(header).split())
        best, best_length = None, 0
        for target in targets:
            if target.name in taken:
                continue
            for spelling in target.spellings:
                needed = set(spelling.split())
                if needed and needed <= words and len(spelling) > best_length:
                    best, best_length = target, len(spelling)
        if best is not None:
            guess[header] = best.name
            taken.add(best.name)
    return guess


def missing_required(mapping: dict[str, str], targets: Iterable[Target]) -> list[Target]:
    """The required targets no column is mapped to."""
    chosen = set(mapping.values())
    return [t for t in targets if t.required and t.name not in chosen]


def mapped_row(row: dict, mapping: dict[str, str]) -> dict[str, object]:
    """One source row as ``{target name: cell}``; ignored columns are left out."""
    return {name: row.get(header) for header, name in mapping.items() if name}


def read_cell(target: Target, value, *, date_order: str = "dmy", decimal_separator: str | None = None):
    """``value`` as Beils will store it in ``target``: a ``Decimal``, a ``date``… or
    ``ValueError`` with what is wrong. Empty cells are ``None``. ``decimal_separator`` when the
    source says which it writes (see :func:`beils.lib.parsing.parse_decimal`)."""
    if blank(value):
        return None
    if target.kind == "decimal":
        return parse_decimal(value, decimal_separator=decimal_separator)
    if target.kind == "date":
        return parse_date(value, order=date_order)
    if target.kind == "datetime":
        return parse_datetime(value, order=date_order)
    if target.kind == "integer":
        amount = parse_decimal(value)
        if amount != amount.to_integral_value():
            raise ValueError(gettext("“%(value)s” is not a whole number.") % {"value": value})
        return int(amount)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet's number in a text column (a phone): no ".0"
    text = value.isoformat() if isinstance(value, date) else str(value).strip()
    if target.kind == "email":
        try:
            validate_email(text)
        except ValidationError:
            raise ValueError(gettext("“%(value)s” is not an e-mail address.") % {"value": value}) from None
        return text.lower()
    return text


class ColumnMappingForm(forms.Form):
    """One dropdown per column of the file: which Beils field it fills, or none. Refuses a field
    chosen for two columns and a required field left without one."""

    def __init__(self, *args, headers: Sequence[str], targets: Sequence[Target], **kwargs):
        super().__init__(*args, **kwargs)
        self.headers, self.targets = list(headers), list(targets)
        choices = [(IGNORE, _("— not imported —"))] + [(t.name, t.label) for t in targets]
        for index, header in enumerate(self.headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(label=header, choices=choices, required=False)

    @classmethod
    def initial_for(cls, headers: Sequence[str], mapping: dict[str, str]) -> dict[str, str]:
        return {f"column_{i}": mapping.get(h, IGNORE) for i, h in enumerate(headers)}

    def clean(self):
        data = super().clean()
        mapping = self.mapping_from(data)
        seen: dict[str, str] = {}
        for header, name in mapping.items():
            if name and name in seen:
                label = next(str(t.label) for t in self.targets if t.name == name)
                raise ValidationError(
                    gettext("“%(field)s” is chosen for two columns: “%(first)s” and “%(second)s”.")
                    % {"field": label, "first": seen[name], "second": header}
                )
            seen[name] = header
        missing = missing_required(mapping, self.targets)
        if missing:
            raise ValidationError(
                gettext("Choose a column for: %(fields)s.") % {"fields": ", ".join(str(t.label) for t in missing)}
            )
        return data

    def mapping_from(self, data: dict) -> dict[str, str]:
        return {h: data.get(f"column_{i}") or IGNORE for i, h in enumerate(self.headers)}

    @property
    def mapping(self) -> dict[str, str]:
        """The chosen mapping, once the form is valid."""
        return self.mapping_from(self.cleaned_data)

    def rows(self):
        """``(header, bound field)`` pairs, in the file's order, for the template."""
        return [(h, self[f"column_{i}"]) for i, h in enumerate(self.headers)]


def preview(rows: Iterable[dict], mapping: dict[str, str], targets: Sequence[Target], *, date_order: str = "dmy"):
    """The first rows as Beils will store them: per row, per mapped target, ``(value, error)``."""
    by_name = {t.name: t for t in targets}
    shown = []
    for row in rows:
        cells = []
        for header, name in mapping.items():
            if not name:
                continue
            try:
                cells.append((read_cell(by_name[name], row.get(header), date_order=date_order), ""))
            except ValueError as exc:
                cells.append((row.get(header), str(exc)))
        shown.append(cells)
    return shown


# --- Remembered per source ------------------------------------------------------------------


def remembered_mapping(
    *, source: str, resource: str, headers: Sequence[str], targets: Sequence[Target]
) -> dict[str, str]:
    """The mapping for ``headers``: what was chosen for this source before where a header was
    seen, the guess for the others."""
    from transfer.models import SavedMapping

    saved = SavedMapping.objects.filter(source=normalised(source), resource=resource).first()
    known = saved.columns if saved else {}
    valid = {t.name for t in targets}
    guess = guess_mapping(headers, targets)
    chosen = {
        h: known[normalised(h)] for h in headers if normalised(h) in known and known[normalised(h)] in valid | {IGNORE}
    }
    used = {name for name in chosen.values() if name}
    for header in headers:
        if header not in chosen:
            chosen[header] = guess[header] if guess[header] not in used else IGNORE
    return {h: chosen[h] for h in headers}


def remembered_date_order(*, source: str, resource: str, default: str = "dmy") -> str:
    """How files from ``source`` write their dates, as chosen last time; ``default`` before."""
    from transfer.models import SavedMapping

    saved = SavedMapping.objects.filter(source=normalised(source), resource=resource).values_list(
        "date_order", flat=True
    )
    return next(iter(saved), "") or default


def remember_mapping(*, source: str, resource: str, mapping: dict[str, str], actor=None, date_order: str = ""):
    """Keep ``mapping`` (and ``date_order`` when given) for the next file from ``source``, beside
    what was kept for headers this file does not have."""
    from transfer.models import SavedMapping

    with transaction.atomic():
        saved, _created = SavedMapping.objects.select_for_update().get_or_create(
            source=normalised(source), resource=resource, defaults={"columns": {}}
        )
        saved.columns = {**saved.columns, **{normalised(h): name for h, name in mapping.items()}}
        saved.date_order = date_order or saved.date_order
        saved.updated_by = actor if getattr(actor, "pk", None) else None
        saved.save()
    return saved


# --- The targets of an import resource ------------------------------------------------------


def resource_targets(resource) -> list[Target]:
    """What a file for ``resource`` (an import resource instance) may carry, one target per
    column the import reads: named by the column Beils' own files have (``"Birth date"``),
    labelled in the reader's language, spelled as the column, the field, its verbose name in
    English and Spanish and the usual spellings of :data:`transfer.synonyms.SYNONYMS`."""
    from django.utils import translation

    from transfer.import_templates import template_columns
    from transfer.resources.fields import column_label
    from transfer.synonyms import SYNONYMS

    model = resource._meta.model
    required = set(resource.required_columns()) if hasattr(resource, "required_columns") else set()
    targets = []
    for column in template_columns(resource):
        attribute = (column.attribute or "").split("__")[0]
        own = f"{model._meta.model_name}.{attribute}"
        spellings = [column.column_name, attribute]
        for language in ("en", "es"):
            with translation.override(language):
                spellings += [column_label(model, column), *_verbose_names(model, attribute)]
        targets.append(
            Target(
                name=column.column_name,
                label=column_label(model, column),
                synonyms=tuple(dict.fromkeys([*spellings, *SYNONYMS.get(attribute, ()), *SYNONYMS.get(own, ())])),
                required=column.column_name in required,
                kind=_kind(model, column, attribute),
            )
        )
    return targets


def _verbose_names(model, attribute: str) -> list[str]:
    from django.core.exceptions import FieldDoesNotExist

    try:
        return [str(model._meta.get_field(attribute).verbose_name)]
    except (FieldDoesNotExist, AttributeError):
        return []


def _kind(model, column, attribute: str) -> str:
    """How a cell of ``column`` is read: from its widget (e-mails) or its model field."""
    from django.core.exceptions import FieldDoesNotExist
    from django.db import models

    from transfer.resources.fields import EmailWidget

    if isinstance(column.widget, EmailWidget):
        return "email"
    try:
        model_field = model._meta.get_field(attribute)
    except FieldDoesNotExist:
        return "text"
    if model_field.is_relation or model_field.choices or isinstance(model_field, models.BooleanField):
        return "text"
    for field_class, kind in (
        (models.EmailField, "email"),
        (models.DecimalField, "decimal"),
        (models.DateTimeField, "datetime"),
        (models.DateField, "date"),
        (models.IntegerField, "integer"),
    ):
        if isinstance(model_field, field_class):
            return kind
    return "text"
