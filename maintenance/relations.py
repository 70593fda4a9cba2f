"""The relations cleanup works through: which models it looks at, their foreign keys as
``Relation``s, the order to delete in (children first, from the models' own keys), and the
batched delete that every cleanup uses (``BATCH`` rows, one transaction each)."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db import models, router, transaction
from django.db.models.deletion import Collector, ProtectedError, RestrictedError

from beils.lib.models import project_models
from maintenance.models import LifecycleRun

#: Apps whose models cleanup leaves alone: legacy's key map and import runs are the record of
#: the move from the old system.
NOT_CLEANED = ("legacy",)
BATCH = 1000
REMOVED, NULLED, NEEDS_A_PERSON = "removed", "nulled", "needs a person"
Changes = (ProtectedError, RestrictedError)
#: Rows cleanup never deletes or edits, whatever points at them or they point at: issued invoices
#: are fiscal records (immutable, kept 7 years; corrections are rectifying invoices).
IMMUTABLE = ("sales.Invoice",)


def cleaned_models() -> list[type[models.Model]]:
    """Every model cleanup looks at (the project's, ``NOT_CLEANED`` aside), with the
    auto-created many-to-many tables."""
    return project_models(include_auto_created=True, exclude=NOT_CLEANED)


@dataclass(frozen=True)
class Relation:
    """One foreign key: ``model.field`` -> ``field.related_model``."""

    model: type[models.Model]
    field: models.ForeignKey

    @property
    def parent(self) -> type[models.Model]:
        return self.field.related_model

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field.name}"

    @property
    def on_delete(self):
        return self.field.remote_field.on_delete

    @property
    def rule(self) -> str:
        """What fixing an orphan of this relation does: delete the child, null the reference, or
        nothing ("needs a person"): a required PROTECT reference is history someone must look at."""
        if self.model._meta.label in IMMUTABLE:
            return NEEDS_A_PERSON
        if self.on_delete is models.CASCADE:
            return REMOVED
        if self.field.null and self.on_delete in (models.SET_NULL, models.PROTECT, models.RESTRICT):
            return NULLED
        return NEEDS_A_PERSON


def relations(model_list: Iterable[type[models.Model]] | None = None) -> list[Relation]:
    return [
        Relation(model, f)
        for model in (cleaned_models() if model_list is None else model_list)
        for f in model._meta.concrete_fields
        if f.is_relation and f.many_to_one | f.one_to_one
    ]


def deletion_order(model_list: list[type[models.Model]]) -> list[type[models.Model]]:
    """``model_list`` with every child before its parents (self-references aside)."""
    members = set(model_list)
    parents = {m: {r.parent for r in relations([m]) if r.parent in members and r.parent is not m} for m in model_list}
    order, placed = [], set()
    while len(order) < len(model_list):
        ready = sorted((m for m in model_list if m not in placed and parents[m] <= placed), key=_label)
        if not ready:
            raise RuntimeError(
                f"Foreign keys form a cycle among {sorted(map(_label, members - placed))}"
            )  # i18n: technical
        order.extend(ready)
        placed.update(ready)
    return order[::-1]


def _label(model) -> str:
    return model._meta.label


def _table(model) -> str:
    return model._meta.db_table


def _batches(pks: list, size: int = BATCH) -> Iterator[list]:
    for start in range(0, len(pks), size):
        yield pks[start : start + size]


def _delete(run: LifecycleRun, model, pks: list, *, dry_run: bool, planned: bool = False) -> None:
    """Delete ``pks`` of ``model`` in batches, one transaction each, with Django's collector (so
    cascades and SET_NULL follow the models' rules). A row something still protects is kept and
    counted, never forced. A dry run asks the collector what it would refuse, unless the rows
    are ``planned``: part of a plan whose children go first, which a dry run cannot replay."""
    if dry_run and planned:
        run.add(_table(model), REMOVED, len(pks)) if pks else None
        return
    for batch in _batches(sorted(pks)):
        try:
            _delete_batch(run, model, batch, dry_run=dry_run)
        except Changes:
            for pk in batch:  # find the protected rows one by one; the others still go
                try:
                    _delete_batch(run, model, [pk], dry_run=dry_run)
                except Changes:
                    run.add(_table(model), "kept: protected", 1)


def _delete_batch(run: LifecycleRun, model, pks: list, *, dry_run: bool) -> None:
    queryset = model._base_manager.filter(pk__in=pks)
    if dry_run:
        collector = Collector(using=router.db_for_write(model))
        collector.collect(queryset)  # raises on protection exactly as a delete would
        run.add(_table(model), REMOVED, len(pks))
        return
    with transaction.atomic():
        _, per_model = queryset.delete()
    for label, rows in per_model.items():
        if rows:
            run.add(_table(apps.get_model(label)), REMOVED, rows)
