"""The import of other systems' exports: validate everything, then write entity by entity.

:func:`peers_import` is the one entry point (the ``import_from`` command and the admin page call
it). Every file is read and every row checked first; one bad row and nothing is written. Then
each entity is written in dependency order (services and products, clients, appointments,
sales, balances), in batches of one transaction each. Every Beils row made from a source row is
keyed in :class:`~legacy.models.LegacyKey` (entity ``"<profile>.<entity>"``, the row's key), in
the same transaction as the row: a second run finds the keys and creates nothing, and a run
killed half-way is carried on by the next, which skips what was done. A dry run does the same
work inside a transaction that is rolled back, so its report is the real one, and writes nothing.

Money follows the old-database import's path (:mod:`legacy.importer`): sales arrive as completed
historical sales with their lines, VAT and payments, and are *not* invoiced by Beils: the other
system issued their invoices, which stay its records (its number is kept on the sale's notes), so
Beils' Veri*Factu chain starts clean and ``verifyinvoices`` is never touched. Gift cards come
with their ledger (an issue, and what was spent as one redemption); bonos as a client's bono
with the sessions left. The import as a whole is audited with each file's SHA-256.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import Outcome
from audit.services import audit_log
from backups.locks import MaintenanceBusy, single_run_lock
from crm.erasure import erased_client_ids
from legacy.models import LegacyKey
from legacy.peers.profiles import Profile, get_profile, profiles
from legacy.peers.reading import ParsedFile, PeersError, parse_file
from legacy.peers.targets import ENTITIES

BATCH = 500
EXAMPLES = 20


@dataclass
class Counts:
    read: int = 0
    created: int = 0
    updated: int = 0
    already: int = 0
    skipped: int = 0


class _Rollback(Exception):
    pass


class PeersRun:
    """The state of one import: counts per entity, skipped rows with reasons, notes, keys."""

    def __init__(self, profile: Profile, *, actor=None, dry_run: bool = False):
        self.profile, self.actor, self.dry_run = profile, actor, dry_run
        self.counts: dict[str, Counts] = defaultdict(Counts)
        self.skips: list[dict] = []
        self.notes: dict[tuple[str, str], dict] = {}
        self.source_keys: dict[str, set[str]] = defaultdict(set)
        self.source_money: dict[str, object] = {}
        self.duplicates: list[dict] = []
        self.erased = erased_client_ids()
        self._cts: dict[type, int] = {}
        self._clients = None

    # --- keys ---------------------------------------------------------------------------------

    def entity_key(self, entity: str) -> str:
        return f"{self.profile.name}.{entity}"[:40]

    def ct(self, model) -> int:
        if model not in self._cts:
            self._cts[model] = ContentType.objects.get_for_model(model).pk
        return self._cts[model]

    def known(self, entity: str, ids, model=None) -> dict[str, int]:
        """{source key: Beils pk} of rows of ``entity`` imported before (by any earlier run)."""
        ids = {str(i) for i in ids if i}
        if not ids:
            return {}
        found = LegacyKey.objects.filter(entity=self.entity_key(entity), legacy_id__in=ids)
        if model is not None:
            found = found.filter(content_type_id=self.ct(model))
        return dict(found.values_list("legacy_id", "object_id"))

    def remember(self, entity: str, model, pairs: list[tuple[str, int]], *, new: bool = False) -> None:
        """Key each ``(source key, pk)``; a key pointing elsewhere before is replaced, unless the
        caller knows the keys are ``new`` (it looked them up in this transaction)."""
        if not pairs:
            return
        key = self.entity_key(entity)
        if not new:
            LegacyKey.objects.filter(entity=key, legacy_id__in=[lid for lid, _ in pairs]).delete()
        LegacyKey.objects.bulk_create(
            [LegacyKey(entity=key, legacy_id=lid, content_type_id=self.ct(model), object_id=pk) for lid, pk in pairs]
        )

    # --- bookkeeping --------------------------------------------------------------------------

    def skip(self, entity: str, row, reason: str, *, file: str = "") -> None:
        self.counts[entity].skipped += 1
        self.skips.append({"entity": entity, "file": file, "row": getattr(row, "number", row), "reason": str(reason)})

    def note(self, entity: str, row, reason: str, action: str, *, level: str = "info") -> None:
        """A row imported with a change a person may want to look at (a staff member not found…)."""
        entry = self.notes.setdefault(
            (entity, str(reason)),
            {"entity": entity, "reason": str(reason), "action": str(action), "level": level, "count": 0, "rows": []},
        )
        entry["count"] += 1
        if len(entry["rows"]) < EXAMPLES:
            entry["rows"].append(getattr(row, "number", row))

    def aware(self, moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment)

    @property
    def clients(self):
        from legacy.peers.clients import ClientIndex

        if self._clients is None:
            self._clients = ClientIndex(self)
        return self._clients


def _writers() -> dict[str, Callable]:
    from legacy.peers import catalogue, clients, money

    return {
        "services": catalogue.write_services,
        "products": catalogue.write_products,
        "clients": clients.write_clients,
        "appointments": clients.write_appointments,
        "sales": money.write_sales,
        "payments": money.write_payments,
        "balances": money.write_balances,
    }


def _batches(rows: list, size: int = BATCH):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def write_entity(run: PeersRun, entity: str, parsed: list[ParsedFile]) -> None:
    """Every file of ``entity``, in batches of a transaction each."""
    writer = _writers()[entity]
    group = getattr(writer, "group", None)
    for pf in parsed:
        units = group(pf.rows) if group else pf.rows
        run.counts[entity].read += len(units)
        for batch in _batches(units):
            with transaction.atomic():
                writer(run, pf, batch)


def peers_import(
    *,
    profile: str,
    files: list[tuple[str, bytes]],
    dry_run: bool = False,
    actor=None,
    entity: str | None = None,
    source: str | None = None,
    overrides: dict[str, str] | None = None,
    mappings: dict[str, dict[str, str]] | None = None,
    skip_invalid: bool = False,
    entities: dict[str, str] | None = None,
) -> dict:
    """Import ``files`` (``(name, content)`` pairs) exported by ``profile``'s product and return
    the reconciliation report (see :func:`legacy.peers.report.build_report`); ``report["ok"]``
    is False when a row was refused (nothing written) or a total differs.

    ``entities`` and ``mappings`` say, per file name, what a file holds and which column is which
    (the admin's mapping step). ``skip_invalid`` imports the valid rows and lists the invalid ones among the skipped, each
    with its reason, instead of refusing the whole import.

    Raises :class:`PeersError` when a file cannot be read or told apart, or a required field has
    no column (nothing written)."""
    from legacy.peers.report import build_report

    chosen = get_profile(profile)
    if chosen is None:
        raise PeersError(
            _("Unknown profile “%(profile)s”; choose one of: %(profiles)s.")
            % {"profile": profile, "profiles": ", ".join(profiles())}
        )
    if not files:
        raise PeersError(_("Give at least one file to import."))
    parsed = []
    for name, content in files:
        mapping = (mappings or {}).get(name)
        parsed.append(parse_file(chosen, name, content, entity=(entities or {}).get(name) or entity, source=source, overrides=overrides,
                                 mapping=mapping))  # fmt: skip
    run = PeersRun(chosen, actor=actor, dry_run=dry_run)
    errors = [e.as_dict() for pf in parsed for e in pf.errors]
    if errors and skip_invalid:
        for pf in parsed:
            for number in sorted({e.row for e in pf.errors}):
                reasons = "; ".join(f"“{e.column}”: {e.reason}" for e in pf.errors if e.row == number)
                run.skip(pf.entity, number, _("cannot be read (%(reasons)s)") % {"reasons": reasons}, file=pf.name)
                run.counts[pf.entity].read += 1
        errors = []
    if errors:
        report = build_report(run, parsed, errors=errors)
        _audit(run, parsed, report, action="legacy.peers.failed", outcome=Outcome.FAILURE)
        return report
    by_entity = {e: [pf for pf in parsed if pf.entity == e] for e in ENTITIES}
    if dry_run:
        try:
            with transaction.atomic():
                _write_all(run, by_entity)
                report = build_report(run, parsed)
                raise _Rollback
        except _Rollback:
            pass
        _audit(run, parsed, report, action="legacy.peers.dry_run")
        return report
    try:
        # One import at a time (two clicks on "Import", two terminals): a second would find no
        # keys yet for the rows the first is writing, and create them again.
        with single_run_lock("import_from"):
            _write_all(run, by_entity)
    except MaintenanceBusy as exc:
        raise PeersError(str(exc)) from exc
    except Exception as exc:
        report = build_report(run, parsed, failure=f"{type(exc).__name__}: {exc}")
        _audit(run, parsed, report, action="legacy.peers.failed", outcome=Outcome.FAILURE)
        raise
    report = build_report(run, parsed)
    _audit(run, parsed, report, action="legacy.peers.imported",
           outcome=Outcome.SUCCESS if report["reconciled"] else Outcome.FAILURE)  # fmt: skip
    return report


def _write_all(run: PeersRun, by_entity: dict[str, list[ParsedFile]]) -> None:
    for entity in ENTITIES:
        for pf in by_entity[entity]:
            run.source_keys[entity].update(row.key for row in pf.rows)
        if by_entity[entity]:
            write_entity(run, entity, by_entity[entity])


def _audit(run: PeersRun, parsed: list[ParsedFile], report: dict, *, action: str, outcome=Outcome.SUCCESS) -> None:
    audit_log(
        action=action, actor=run.actor, outcome=outcome,
        detail={"profile": run.profile.name, "dry_run": run.dry_run,
                "files": [{"name": pf.name, "sha256": pf.sha256, "entity": pf.entity, "rows": pf.rows_read}
                          for pf in parsed],
                "counts": {e: asdict(c) for e, c in run.counts.items()},
                "errors": len(report.get("errors", [])), "reconciled": report.get("reconciled"),
                "money": [{k: m[k] for k in ("name", "source", "beils", "ok")} for m in report.get("money", [])]},
    )  # fmt: skip
