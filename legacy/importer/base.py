"""The import's machinery: batches, progress, the key table, create-or-update, the problem list."""

from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import models, reset_queries, transaction
from django.utils import timezone
from django.utils.translation import gettext, pgettext

from crm.erasure import erased_client_ids
from legacy.models import LegacyImportRun, LegacyKey
from legacy.source import BATCH, LegacySource

ZERO = Decimal("0.00")
EXAMPLES = 20  # ids kept per reason; the count is always complete

#: The old tables in the order they are imported (each only points at earlier ones).
ENTITIES = [
    "users", "consents", "questionnaires", "revokes", "products", "services", "packages", "client_packages",
    "bookings", "carts", "debts", "debt_payments", "coupons", "giftcards",
]  # fmt: skip
#: Tables read with their parent entity (for the progress bar).
CHILDREN = {"packages": "package_items", "client_packages": "client_package_items", "bookings": "booking_items",
            "carts": "cart_items"}  # fmt: skip
PROGRESS_TABLES = [*ENTITIES, *CHILDREN.values()]


@dataclass
class Counts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0


class ImporterBase:
    """Reads ``source`` and writes Beils' models. ``run`` (None in a dry run) receives progress."""

    def __init__(self, source: LegacySource, *, run: LegacyImportRun | None = None, batch_size: int = BATCH):
        self.src, self.run, self.batch_size = source, run, batch_size
        self.counts: dict[str, Counts] = defaultdict(Counts)
        self.problems: dict[tuple[str, str], dict] = {}
        self.password_steps: list[dict] = []
        self.resumed: list[str] = []
        self._content_types: dict[type, int] = {}
        self.progress_base = 0  # rows of the tables a resumed run skips
        # Clients erased in Beils (GDPR): the old database still holds them, and they stay erased.
        self.erased = erased_client_ids()

    # --- bookkeeping ---------------------------------------------------------------------------

    def problem(
        self, entity: str, legacy_id, reason: str, action: str, *, level: str = "warning", detail: str | None = None
    ) -> None:
        """Record a doubtful row: why, and what the import did with it. ``level`` "info" is a
        routine normalisation (a placeholder email dropped); "warning" needs a person's look."""
        entry = self.problems.setdefault(
            (entity, reason), {"entity": entity, "reason": reason, "action": action, "level": level, "count": 0,
                               "examples": []}
        )  # fmt: skip
        entry["count"] += 1
        if len(entry["examples"]) < EXAMPLES and legacy_id is not None:
            entry["examples"].append(f"{legacy_id} ({detail})" if detail else str(legacy_id))

    def skip(
        self, entity: str, legacy_id, reason: str, action: str | None = None, *, detail: str | None = None
    ) -> None:
        self.counts[entity].skipped += 1
        self.problem(entity, legacy_id, reason, action or pgettext("legacy import action", "skipped"), detail=detail)

    @contextmanager
    def batch(self, entity: str, rows: list):
        self.counts[entity].read += len(rows)
        with transaction.atomic():
            yield
        # With DEBUG on, Django keeps the last 9 000 queries per connection; a bulk insert's SQL
        # is large, so a long import would hold hundreds of MiB of it for nothing.
        reset_queries()
        self._progress(entity, len(rows))

    def _progress(self, entity: str, rows: int) -> None:
        if self.run is None:
            return
        read = sum(self.counts[table].read for table in PROGRESS_TABLES if table in self.counts)
        self.run.rows_done = min(self.progress_base + read, self.run.rows_total)
        self.run.current_entity = entity
        LegacyImportRun.objects.filter(pk=self.run.pk).update(
            rows_done=self.run.rows_done, current_entity=entity, updated_at=timezone.now()
        )

    def batches(self, table: str, key: str):
        return self.src.batches(table, key, size=self.batch_size)

    def ct(self, model) -> int:
        if model not in self._content_types:
            self._content_types[model] = ContentType.objects.get_for_model(model).pk
        return self._content_types[model]

    def keys(self, entity: str, ids: Iterable, model=None) -> dict[str, int]:
        """{old id: Beils pk} for the ids of ``entity`` imported before (of ``model`` only)."""
        ids = {i for i in ids if i}
        if not ids:
            return {}
        found = LegacyKey.objects.filter(entity=entity, legacy_id__in=ids)
        if model is not None:
            found = found.filter(content_type_id=self.ct(model))
        return dict(found.values_list("legacy_id", "object_id"))

    def upsert(self, entity: str, model, items: list[tuple[str, dict]], *, match: Iterable[str] = ()) -> dict[str, int]:
        """Create or update one Beils row per ``(old id, values)``; returns {old id: pk}.

        A row created by an earlier run is updated only where a value differs. ``match`` names
        unique fields by which an existing Beils row without a key (typed in by hand, or imported
        before the key table existed) is adopted instead of colliding with it."""
        counts, ct = self.counts[entity], self.ct(model)
        rows = LegacyKey.objects.filter(entity=entity, legacy_id__in=[lid for lid, _ in items])
        keys = {lid: (ct_id, pk) for lid, ct_id, pk in rows.values_list("legacy_id", "content_type_id", "object_id")}
        pks = {lid: pk for lid, (ct_id, pk) in keys.items() if ct_id == ct}
        manager = model._base_manager
        existing = manager.in_bulk(set(pks.values()))
        adopted = self._adopt(entity, model, items, pks, existing, match)
        new, changed, fields, result = [], [], set(), {}
        for lid, values in items:
            obj = existing.get(pks.get(lid)) or adopted.get(lid)
            if obj is None:
                obj = model(**values)
                if hasattr(obj, "prepare_to_save"):
                    obj.prepare_to_save()
                new.append((lid, obj))
                continue
            result[lid] = obj.pk
            diff = [name for name, value in values.items() if getattr(obj, name) != value]
            if diff:
                for name in diff:
                    setattr(obj, name, values[name])
                fields.update(diff)
                changed.append(obj)
                counts.updated += 1
            else:
                counts.unchanged += 1
        if new:
            manager.bulk_create([obj for _, obj in new], batch_size=500)
            counts.created += len(new)
            result.update({lid: obj.pk for lid, obj in new})
        if changed:
            if any(f.name == "updated_at" for f in model._meta.concrete_fields):
                now = timezone.now()
                for obj in changed:
                    obj.updated_at = now
                fields.add("updated_at")
            manager.bulk_update(changed, sorted(fields), batch_size=500)
        fresh = [(lid, result[lid]) for lid, _ in items if lid in result and pks.get(lid) != result[lid]]
        if fresh:
            # Keys pointing at a deleted row, or at a row of another model (a client who became
            # staff), are replaced.
            LegacyKey.objects.filter(entity=entity, legacy_id__in=[lid for lid, _ in fresh]).delete()
            LegacyKey.objects.bulk_create(
                [LegacyKey(entity=entity, legacy_id=lid, content_type_id=ct, object_id=pk) for lid, pk in fresh]
            )
        return result

    def _adopt(self, entity, model, items, pks, existing, match) -> dict[str, models.Model]:
        adopted = {}
        for field in match:
            wanted = {
                values[field]: lid
                for lid, values in items
                if values.get(field) and existing.get(pks.get(lid)) is None and lid not in adopted
            }
            if not wanted:
                continue
            for obj in model._base_manager.filter(**{f"{field}__in": list(wanted)}):
                lid = wanted[getattr(obj, field)]
                adopted[lid] = obj
                if field != "legacy_id":
                    reason = gettext("an existing Beils %(record)s has the same %(field)s") % {
                        "record": model._meta.verbose_name, "field": field,
                    }  # fmt: skip
                    self.problem(entity, lid, reason, gettext("linked to it and updated"), level="info")
        return adopted

    # --- running ----------------------------------------------------------------------------

    def total_rows(self) -> int:
        return sum(self.src.count(table) for table in PROGRESS_TABLES)

    def import_all(self, *, skip: Iterable[str] = (), on_entity_done: Callable[[str], None] | None = None) -> None:
        for entity in ENTITIES:
            if entity in skip:
                self.resumed.append(entity)
                self.progress_base += self.src.count(entity) + self.src.count(CHILDREN.get(entity, ""))
                continue
            if not self.src.has_table(entity):
                continue
            getattr(self, f"import_{entity}")()
            if on_entity_done:
                on_entity_done(entity)

    # --- report -------------------------------------------------------------------------------

    def counts_as_dict(self) -> dict[str, dict]:
        return {entity: asdict(c) for entity, c in sorted(self.counts.items())}

    def problems_as_list(self) -> list[dict]:
        return sorted(self.problems.values(), key=lambda p: (p["level"] != "warning", p["entity"], -p["count"]))
