"""Row validation compiled once per file: what ``full_clean()`` and Django's model init do for
every row, decided per field when the file starts, with Django's own ``Field.clean()`` for any
value that does not pass the fast checks (so the verdicts and messages are Django's). Used by
:class:`transfer.importing.ImportBatch`."""

from __future__ import annotations

import logging
from datetime import date, datetime

from django.core import validators
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

logger = logging.getLogger("django.db.backends")


def fold(value):
    """Compare text as the database's case-insensitive collation does (MariaDB, SQLite NOCASE)."""
    return value.casefold() if isinstance(value, str) else value


# --- per-file compilation: what Django does per row, decided once per file --------------------


def instance_factory(model):
    """``model()`` for a new row, without the per-field loop of ``Model.__init__`` (which asks
    every field for its default on every row): the constant defaults are copied from one
    instance built by ``Model.__init__``, the others (``timezone.now``…) are asked per row as
    Django asks them. ``model`` itself when anything could make the two differ: an overridden
    ``__init__``, ``pre_init``/``post_init`` receivers, a field with its own descriptor (files)."""
    if model.__init__ is not models.Model.__init__ or pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model
    fields = model._meta.concrete_fields
    if any(
        type(getattr(model, f.attname, None)) not in (DeferredAttribute, ForeignKeyDeferredAttribute) for f in fields
    ):
        return model
    prototype = model()
    values = dict(prototype.__dict__)
    del values["_state"]
    if set(values) != {f.attname for f in fields}:
        return model
    # A callable default (timezone.now…), or one that gives a new object each time, is asked
    # per row.
    per_row = [
        (f.attname, f.get_default)
        for f in fields
        if (f.has_default() and callable(f.default)) or f.get_default() is not f.get_default()
    ]
    new = object.__new__

    def make():
        instance = new(model)
        state = instance.__dict__
        state["_state"] = ModelState()
        state.update(values)
        for attname, default in per_row:
            state[attname] = default()
        return instance

    return make


def _identity_type(field):
    """The type whose values ``field.to_python()`` returns unchanged, if the field cleans as
    Django's own ``Field.clean()`` (``to_python``, ``validate``, ``run_validators``); else None."""
    cls = type(field)
    base = models.Field
    if (
        cls.clean is not base.clean
        or cls.validate is not base.validate
        or cls.run_validators is not base.run_validators
    ):
        return None
    if isinstance(field, models.CharField | models.TextField) and cls.to_python in (
        models.CharField.to_python,
        models.TextField.to_python,
    ):
        return str
    if isinstance(field, models.DateTimeField):
        return datetime if cls.to_python is models.DateTimeField.to_python else None
    if isinstance(field, models.DateField) and cls.to_python is models.DateField.to_python:
        return date
    return None


def field_cleaner(field):
    """What ``Model.clean_fields()`` does for one field, as a function of the instance: skip an
    empty value of a blank field, else ``setattr(instance, attname, field.clean(value))``.

    For text, dates and times whose ``to_python`` returns the value unchanged, the checks of
    ``Field.validate`` and ``Field.run_validators`` are made inline (choices, length, then the
    field's other validators). Any value that does not pass them all goes through
    ``field.clean()`` itself, so every error is Django's own, message for message."""
    attname, blank, empty, clean = field.attname, field.blank, field.empty_values, field.clean
    kind = _identity_type(field)
    keys, max_length, others = None, None, []
    if kind is not None and field.editable and field.choices is not None:
        flat = [key for key, _label in field.flatchoices]
        if all(type(key) in (str, int) for key in flat):
            keys = frozenset(flat)
        else:
            kind = None
    if kind is not None:
        for validator in field.validators:
            if (
                kind is str
                and type(validator) is validators.MaxLengthValidator
                and type(validator.limit_value) is int
                and max_length is None
            ):
                max_length = validator.limit_value
            else:
                others.append(validator)

    if kind is None:

        def check(instance):
            value = getattr(instance, attname)
            if blank and value in empty:
                return
            setattr(instance, attname, clean(value, instance))

        return check

    def check(instance):
        value = getattr(instance, attname)
        if type(value) is kind and value != "":
            if (keys is None or value in keys) and (max_length is None or len(value) <= max_length):
                try:
                    for validator in others:
                        validator(value)
                except ValidationError:
                    pass
                else:
                    return
        elif blank and value in empty:
            return
        setattr(instance, attname, clean(value, instance))  # Django's verdict, and its messages

    return check


class RowValidator:
    """``instance.full_clean(exclude, validate_unique=False, validate_constraints=False)``,
    compiled once per file: ``clean_fields()`` over the model's fields (minus ``exclude``, and
    minus foreign keys in ``loaded`` that hold a row just read from the database), then the
    model's ``clean()``. Uniqueness and constraints are the batch's (see :class:`ImportBatch`)."""

    def __init__(self, model, exclude=(), loaded=None):
        loaded = loaded or {}
        self.checks = [
            (f.name, field_cleaner(f), f.attname if f.is_relation and f.name in loaded else None)
            for f in model._meta.fields
            if f.name not in exclude and not f.generated
        ]

    def __call__(self, instance, exclude=()):
        errors = {}
        for name, check, loaded_attname in self.checks:
            if name in exclude or (loaded_attname is not None and getattr(instance, loaded_attname) is not None):
                continue
            try:
                check(instance)
            except ValidationError as e:
                errors[name] = e.error_list
        found = ValidationError(errors).update_error_dict({}) if errors else {}
        try:
            instance.clean()
        except ValidationError as e:
            found = e.update_error_dict(found)
        if found:
            raise ValidationError(found)
