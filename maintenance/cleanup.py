"""Cleanup: test data, orphaned rows and the trash.

``cleanup_run`` is the one cleanup operation (the nightly task, ``manage.py cleanup`` and the
admin's purge action call it): any of three parts, each one recorded run (``LifecycleKind.CLEANUP``: counts per table, duration,
outcome, an audit entry, a mail to the admins on failure) and each deleting in batches of
``BATCH`` rows, one transaction per batch, so that no lock is held for long while the salon works:

- ``cleanup_test_data``: rows made by ``seed`` and rows that look like tests;
- ``orphans_find`` / ``orphans_fix``: rows whose parent row is missing;
- ``trash_purge``: deactivated rows older than ``TRASH_PURGE_DAYS`` that nothing protects.

The counts of a dry run use the same keys as a real run ("removed", "nulled", "kept: …"), so a
preview can be compared with what the real run then did. Orphans are the exception to the
batches: their fixes are planned first and applied in one transaction, all or nothing. Dependency order comes from the
models' own foreign keys (``deletion_order``), not from a hand-written list.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from beils.lib.models import SoftDeleteModel, Status
from beils.lib.progress import Progress
from maintenance.archive import ARCHIVED_PARENTS
from maintenance.lifecycle import lifecycle_run
from maintenance.models import LifecycleKind, LifecycleRun
from maintenance.relations import (
    IMMUTABLE,
    NEEDS_A_PERSON,
    NULLED,
    REMOVED,
    Relation,
    _batches,
    _delete,
    _label,
    _table,
    cleaned_models,
    deletion_order,
    relations,
)
from sales.services import invoice_sequences_resync

#: Apps whose rows record the system's own work (audit entries, jobs, backups, runs): never test data.
RECORD_APPS = ("audit", "transfer", "maintenance")


# --- Test data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestPatterns:
    """What a test record looks like, beyond the ``is_demo`` marker the seed sets."""

    __test__ = False  # not a pytest class

    email_domains: tuple[str, ...] = ()
    sku_prefixes: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls) -> "TestPatterns":
        return cls(
            email_domains=tuple(d.lower().lstrip("@") for d in settings.CLEANUP_TEST_EMAIL_DOMAINS if d),
            sku_prefixes=tuple(p for p in settings.CLEANUP_TEST_SKU_PREFIXES if p),
        )

    def emails(self) -> Q:
        return reduce(or_, (Q(email__iendswith=f"@{d}") for d in self.email_domains), Q(pk__in=[]))

    def skus(self) -> Q:
        return reduce(or_, (Q(sku__istartswith=p) for p in self.sku_prefixes), Q(pk__in=[]))


@dataclass
class _Plan:
    """Which rows go, per model, and which candidates stay and why."""

    candidates: dict = field(default_factory=lambda: defaultdict(set))
    kept: dict = field(default_factory=lambda: defaultdict(dict))
    #: (relation, [(child pk, parent pk)]) for every relation that stops a parent from going.
    references: list = field(default_factory=list)


def cleanup_test_data(*, dry_run: bool, actor=None, patterns: TestPatterns | None = None) -> LifecycleRun:
    """Remove the rows ``seed`` made (``is_demo``) and the rows matching the test patterns
    (clients and users with an e-mail at a test domain, products with a test SKU), with what
    hangs off them, children before parents. Returns the run; ``run.counts`` holds per table
    how many rows went ("removed") and how many stayed and why ("kept: has invoices", …).

    Rules: a test client's own history (sales, appointments, debts) is test data too; but issued
    invoices are never removed, so a client or sale an invoice points at is kept ("kept: has
    invoices"). Invoices the seed made go with the demo data only in series-years that hold no
    real invoice (removing them elsewhere would break the gap-free numbering and the hash chain).
    Administrator accounts, superusers and the person running the cleanup are never removed.
    """
    patterns = patterns or TestPatterns.from_settings()
    detail = {"operation": "test-data", "email_domains": list(patterns.email_domains),
              "sku_prefixes": list(patterns.sku_prefixes)}  # fmt: skip
    with lifecycle_run(LifecycleKind.CLEANUP, dry_run=dry_run, actor=actor, detail=detail) as run:
        order = deletion_order([m for m in cleaned_models() if m._meta.app_label not in RECORD_APPS])
        plan = _test_data_plan(order, patterns, actor)
        history = _history_of_doomed(plan, order)
        for model in order:
            if hasattr(model, "instance_type"):
                continue  # field history: swept below, once its records are gone
            doomed = plan.candidates[model] - plan.kept[model].keys()
            _delete(run, model, list(doomed), dry_run=dry_run, planned=True)
            for reason, rows in _count(plan.kept[model].values()).items():
                run.add(_table(model), f"kept: {reason}", rows)
        _sweep_history(run, history, dry_run=dry_run)
        if not dry_run and run.counts.get("sales_invoice", {}).get(REMOVED):
            invoice_sequences_resync()
    return run


def _history_of_doomed(plan, order: list) -> dict:
    """For each field-history model (django-simple-history), the history rows of the records the
    plan removes, counted before anything is removed."""
    history = {}
    for model in order:
        if hasattr(model, "instance_type"):
            record = model.instance_type
            ids = plan.candidates[record] - plan.kept[record].keys()
            history[model] = (ids, model._base_manager.filter(id__in=ids).count())
    return history


def _sweep_history(run: LifecycleRun, history: dict, *, dry_run: bool) -> None:
    """Remove the field history of removed records: test data too, and so are the "deleted"
    entries their removal may just have written."""
    for model, (ids, count) in history.items():
        if not dry_run:
            rows = model._base_manager.filter(id__in=ids)
            rows._raw_delete(rows.db)
        run.add(_table(model), REMOVED, count)


def _test_data_roots(model, patterns: TestPatterns, actor) -> Q | None:
    from catalog.models import Product
    from crm.models import Client, Role, User
    from sales.models import Invoice

    names = {f.name for f in model._meta.concrete_fields}
    roots = Q(is_demo=True) if "is_demo" in names else None
    if model is Invoice:
        return roots & ~_periods_with_real_invoices()
    if model is Client:
        roots |= patterns.emails()
    if model is User:
        roots |= patterns.emails() & Q(is_superuser=False) & ~Q(role=Role.ADMIN)
        roots &= ~Q(pk=getattr(actor, "pk", None)) if getattr(actor, "pk", None) else Q()
        # A demo ADMIN may be the salon's only one (make run's demo admin): deleting it would lock
        # everyone out of user management.
        roots &= ~Q(pk__in=User.all_objects.filter(roots).indispensable_admins())
    if model is Product:
        roots |= patterns.skus()
    return roots


def _periods_with_real_invoices() -> Q:
    from sales.models import Invoice

    real = Invoice._base_manager.filter(is_demo=False).values_list("series", "year").distinct()
    return reduce(or_, (Q(series=s, year=y) for s, y in real), Q(pk__in=[]))


def _pulls(relation: Relation) -> bool:
    """Does a test parent make this child test data too? Parts of a record (CASCADE) always;
    a test client's own history (sales, appointments, debts: PROTECT) too; invoices never."""
    from crm.models import Client

    if relation.model._meta.label in IMMUTABLE:
        return False
    return relation.on_delete is models.CASCADE or (relation.parent is Client and relation.on_delete is models.PROTECT)


def _holds(relation: Relation) -> bool:
    """Does a surviving child stop its parent from going? Everything but SET_NULL/SET_DEFAULT."""
    return relation.on_delete not in (models.SET_NULL, models.SET_DEFAULT)


def _test_data_plan(order: list, patterns: TestPatterns, actor) -> _Plan:
    plan = _Plan()
    for model in reversed(order):  # parents first: a child's parents are final when it is planned
        roots = _test_data_roots(model, patterns, actor)
        if roots is not None:
            plan.candidates[model] |= set(model._base_manager.filter(roots).values_list("pk", flat=True))
        for relation in relations([model]):
            if records_the_past(model):
                continue  # history and archive rows name their record by id; they hold nothing
            if relation.parent not in plan.candidates or not plan.candidates[relation.parent]:
                continue
            if not (_pulls(relation) or _holds(relation)):
                continue
            pairs = _references(relation, plan.candidates[relation.parent])
            if _pulls(relation):
                plan.candidates[model] |= {child for child, _ in pairs}
            if _holds(relation):
                plan.references.append((relation, pairs))
    _settle_kept(plan, patterns, actor)
    return plan


def _references(relation: Relation, parents: set) -> list[tuple]:
    """(child pk, parent pk) of every child of ``relation`` pointing at one of ``parents``. One
    query per relation, streamed; the filtering happens here rather than in a huge IN list."""
    attname = relation.field.attname
    rows = relation.model._base_manager.filter(**{f"{attname}__isnull": False}).values_list("pk", attname)
    return [(child, parent) for child, parent in rows.iterator(chunk_size=5000) if parent in parents]


def _settle_kept(plan: _Plan, patterns: TestPatterns, actor) -> None:
    """Keep every candidate something surviving still holds, until nothing changes: a kept row
    keeps its parents (they are still referenced) and the parts of itself (CASCADE children)."""
    changed = True
    while changed:
        changed = False
        for relation, pairs in plan.references:
            child_model, parent_model = relation.model, relation.parent
            for child, parent in pairs:
                child_stays = child not in plan.candidates[child_model] or child in plan.kept[child_model]
                if child_stays and parent not in plan.kept[parent_model]:
                    plan.kept[parent_model][parent] = _reason(child_model, plan.kept[child_model].get(child))
                    changed = True
                if (
                    relation.on_delete is models.CASCADE
                    and parent in plan.kept[parent_model]
                    and child in plan.candidates[child_model]
                    and child not in plan.kept[child_model]
                ):
                    plan.kept[child_model][child] = f"part of a kept {parent_model._meta.verbose_name}"
                    changed = True


def _reason(child_model, inherited: str | None) -> str:
    if child_model._meta.label == "sales.Invoice" or inherited == "has invoices":
        return "has invoices"
    return inherited or f"in use by {child_model._meta.verbose_name_plural}"


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return dict(counts)


# --- Orphans ---------------------------------------------------------------------------------


@dataclass
class Orphans:
    """Rows of one relation whose parent row is missing."""

    relation: Relation
    rows: list[tuple]  # (child pk, missing parent id)

    def as_dict(self, sample: int = 20) -> dict:
        return {
            "relation": self.relation.label,
            "table": _table(self.relation.model),
            "parent": _label(self.relation.parent),
            "rule": self.relation.rule,
            "rows": len(self.rows),
            "sample": [[str(child), str(parent)] for child, parent in self.rows[:sample]],
        }


def orphan_relations() -> list[Relation]:
    """The relations ``orphans_find`` checks: every foreign key of every project model, except
    the references that archive tables and field history keep to live rows (a sold product that
    was deleted later): they record what was, by id, on purpose. References to a parent that
    may have moved to an archive table are checked against both (``archive.ARCHIVED_PARENTS``)."""
    return [r for r in relations() if not (records_the_past(r.model) and not records_the_past(r.parent))]


def records_the_past(model) -> bool:
    """An archive table (``…_archive``) or a django-simple-history table."""
    return model._meta.db_table.endswith("_archive") or hasattr(model, "instance_type")


def orphans_find() -> list[Orphans]:
    """Rows whose parent is missing (possible after an SQL import with foreign-key checks off),
    with one query per relation whatever the number of rows. Relations with none are left out."""
    found = []
    for relation in orphan_relations():
        attname, target = relation.field.attname, relation.field.target_field.attname
        rows = relation.model._base_manager.filter(**{f"{attname}__isnull": False}).exclude(
            **{f"{attname}__in": relation.parent._base_manager.values(target)}
        )
        if relation.label in ARCHIVED_PARENTS:
            rows = rows.exclude(**{f"{attname}__in": ARCHIVED_PARENTS[relation.label]()})
        pairs = list(rows.order_by("pk").values_list("pk", attname))
        if pairs:
            found.append(Orphans(relation, pairs))
    return found


def orphans_fix(*, dry_run: bool, actor=None) -> LifecycleRun:
    """Find orphans and apply each relation's rule: CASCADE deletes the child, SET_NULL (or a
    nullable PROTECT) nulls the reference, a required PROTECT is only reported ("needs a
    person"). A row whose reference cannot be nulled without breaking one of its model's check
    constraints (a sale line must name exactly one target) is reported too, never forced.
    ``run.detail["orphans"]`` lists every relation with orphans and a sample of rows.

    Every fix is planned first and then applied in one transaction: a failure part-way leaves
    every orphan as it was (and the run's counts empty), never a database half fixed."""
    with lifecycle_run(LifecycleKind.CLEANUP, dry_run=dry_run, actor=actor, detail={"operation": "orphans"}) as run:
        found = orphans_find()
        run.detail["orphans"] = [orphans.as_dict() for orphans in found]
        plan = [_plan_fix(orphans) for orphans in found]
        try:
            with transaction.atomic():
                for fix in plan:
                    _apply_fix(run, fix, dry_run=dry_run)
        except BaseException:
            run.counts = {}  # rolled back: nothing of it happened
            raise
    return run


@dataclass
class _OrphanFix:
    """What fixing one relation's orphans does, row by row, decided before anything changes."""

    relation: Relation
    removed: list = field(default_factory=list)
    nulled: list = field(default_factory=list)
    held: dict = field(default_factory=lambda: defaultdict(list))  # reason -> child pks


def _plan_fix(orphans: Orphans) -> _OrphanFix:
    relation = orphans.relation
    fix, pks = _OrphanFix(relation), [child for child, _ in orphans.rows]
    if relation.rule == REMOVED:
        fix.removed = pks
    elif relation.rule == NULLED:
        for pk, broken in _nulling_breaks(relation, pks).items():
            if broken:
                fix.held[f"{NEEDS_A_PERSON}: {broken}"].append(pk)
            else:
                fix.nulled.append(pk)
    else:
        fix.held[NEEDS_A_PERSON] = pks
    return fix


def _nulling_breaks(relation: Relation, pks: list) -> dict:
    """For each row of ``pks``: the name of the first check constraint that nulling the
    reference would break, or None. Only constraints that name the field are asked, one query
    per row and constraint (orphans are few)."""
    from django.core.exceptions import ValidationError

    model, name = relation.model, relation.field.name
    checks = [
        c for c in model._meta.constraints
        if isinstance(c, models.CheckConstraint) and name in set(Q(c.condition).referenced_base_fields)
    ]  # fmt: skip
    if not checks:
        return dict.fromkeys(pks)
    result = {}
    for pk, row in model._base_manager.in_bulk(pks).items():
        setattr(row, relation.field.attname, None)
        result[pk] = None
        for check in checks:
            try:
                check.validate(model, row)
            except ValidationError:
                result[pk] = check.name
                break
    return result


def _apply_fix(run: LifecycleRun, fix: _OrphanFix, *, dry_run: bool) -> None:
    table = _table(fix.relation.model)
    if fix.removed:
        _delete(run, fix.relation.model, fix.removed, dry_run=dry_run)
    if fix.nulled:
        if not dry_run:
            _null_references(fix.relation, fix.nulled)
        run.add(table, NULLED, len(fix.nulled))
    for reason, pks in fix.held.items():
        run.add(table, reason, len(pks))


def _null_references(relation: Relation, pks: list) -> None:
    for batch in _batches(pks):
        # The plain base manager, as Django's own SET_NULL does: model querysets that refuse
        # updates (append-only logs) guard against people, not the collector.
        models.QuerySet(relation.model).filter(pk__in=batch).update(**{relation.field.attname: None})


# --- The trash -------------------------------------------------------------------------------


def soft_delete_models() -> list[type[models.Model]]:
    return [m for m in cleaned_models() if issubclass(m, SoftDeleteModel)]


def trash_purge(
    *,
    model: type[models.Model] | None = None,
    older_than_days: int | None = None,
    dry_run: bool,
    actor=None,
    pks: Iterable | None = None,
) -> LifecycleRun:
    """Delete for good the deactivated rows of ``model`` (default: every soft-delete model)
    deactivated more than ``older_than_days`` ago (default ``TRASH_PURGE_DAYS``), or only the
    rows ``pks`` among them. A row that other records protect (a client with sales, appointments
    or debts; a product on a sale line) is kept and counted ("kept: protected"), never forced:
    clients with history leave through GDPR erasure, not here."""
    days = settings.TRASH_PURGE_DAYS if older_than_days is None else older_than_days
    targets = [model] if model is not None else soft_delete_models()
    detail = {"operation": "trash", "models": [_label(m) for m in targets], "older_than_days": days}
    with lifecycle_run(LifecycleKind.CLEANUP, dry_run=dry_run, actor=actor, detail=detail) as run:
        cutoff = timezone.now() - timedelta(days=days)
        for target in targets:
            _purge(run, target, cutoff, pks=pks, dry_run=dry_run, actor=actor)
    return run


def _purge(run: LifecycleRun, model, cutoff, *, pks, dry_run: bool, actor) -> None:
    trash = model._base_manager.filter(status=Status.OFF, deactivated_at__lt=cutoff)
    if pks is not None:
        trash = trash.filter(pk__in=list(pks))
    if getattr(actor, "pk", None) and model is type(actor):
        trash = trash.exclude(pk=actor.pk)
    protected = _protected(model)
    if protected is not None:
        kept = trash.filter(protected).count()
        if kept:
            run.add(_table(model), "kept: protected", kept)
        trash = trash.exclude(protected)
    _delete(run, model, list(trash.values_list("pk", flat=True)), dry_run=dry_run)


def _protected(model) -> Q | None:
    """Rows of ``model`` that a PROTECT or RESTRICT reference points at (checked in the
    query; references further down a cascade are caught by the collector, batch by batch)."""
    checks = [
        Exists(rel.related_model._base_manager.filter(**{rel.field.name: OuterRef("pk")}))
        for rel in model._meta.related_objects
        if not rel.many_to_many and rel.on_delete in (models.PROTECT, models.RESTRICT)
    ]
    return reduce(or_, (Q(check) for check in checks)) if checks else None


# --- The whole operation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Trash:
    """Which trash a purge looks at: the deactivated rows of ``model`` (default: every
    soft-delete model) deactivated more than ``older_than_days`` ago (default
    ``TRASH_PURGE_DAYS``), only the rows ``pks`` among them when given."""

    model: type[models.Model] | None = None
    older_than_days: int | None = None
    pks: tuple | None = None


def cleanup_run(
    *,
    dry_run: bool,
    test_data: bool = False,
    orphans: bool = False,
    fix_orphans: bool = False,
    trash: Trash | None = None,
    actor=None,
    progress: Progress | None = None,
) -> dict[str, LifecycleRun]:
    """Clean up what is asked, in this order: the test data (``cleanup_test_data``), the
    orphaned rows (``orphans_fix``: only reported unless ``fix_orphans``), the ``trash``
    (``trash_purge``). Each part is its own recorded run; ``progress(percent, message)`` is told
    before each. Returns the runs by part: "test_data", "orphans", "trash". Raises
    ``MaintenanceBusy`` when another cleanup holds the lock (the parts already done stay done).

    The one cleanup operation: the nightly task, ``manage.py cleanup`` and the admin's purge
    action call it."""
    parts = []
    if test_data:
        parts.append(("test_data", _("Removing test data"), lambda: cleanup_test_data(dry_run=dry_run, actor=actor)))
    if orphans:
        fix = fix_orphans and not dry_run
        parts.append(
            ("orphans", _("Fixing orphaned rows") if fix else _("Looking for orphaned rows"),
             lambda: orphans_fix(dry_run=not fix, actor=actor))
        )  # fmt: skip
    if trash is not None:
        parts.append(
            ("trash", _("Purging the trash"),
             lambda: trash_purge(model=trash.model, older_than_days=trash.older_than_days, pks=trash.pks,
                                 dry_run=dry_run, actor=actor))
        )  # fmt: skip
    runs = {}
    for done, (part, message, run_part) in enumerate(parts):
        if progress:
            progress(100 * done // len(parts), _("%(step)s (dry run)") % {"step": message} if dry_run else message)
        runs[part] = run_part()
    return runs
