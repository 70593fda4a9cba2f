"""The audit trail's hash chain: rotation that keeps it verifiable, its verification
(``manage.py verifyaudit``), and keeping it whole through a restore.

Every entry stores the previous entry's hash and its own, SHA-256 over its immutable fields and
that previous hash (``audit.models.entry_hash``); appends are serialised on the one-row
``AuditChainHead``. Rotation removes old entries but keeps, for each run of removed entries, the
hash the chain entered it with and left it with (``AuditChainGap``), so the whole trail still
verifies from the very first link. A restore puts back the entries the backup did not have.
"""

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _

from audit.models import AuditChainGap, AuditChainHead, AuditEntry

BATCH = 1000
log = logging.getLogger("beils.audit")


# --- Rotation ---------------------------------------------------------------------------------


@dataclass
class _Link:
    first_id: int
    last_id: int
    prev_hash: str
    hash: str
    entries: int = 1
    doomed: bool = False
    gap: AuditChainGap | None = None


def chain_rotate(doomed: models.QuerySet) -> int:
    """Delete the entries of ``doomed``: the retention policy's rotation (maintenance/archive.py),
    the only way entries ever leave the trail. The links of the chain they held are kept as gaps
    (``AuditChainGap``, merged with the gaps next to them) so that the entries around them still
    verify. Returns how many entries were deleted."""
    with transaction.atomic(using=doomed.db):
        return _rotate(doomed)


def _rotate(doomed: models.QuerySet) -> int:
    using = doomed.db
    AuditChainHead.locked(using)  # no append while the gaps are rewritten
    doomed_ids = set(doomed.values_list("pk", flat=True))
    if not doomed_ids:
        return 0
    entries = AuditEntry.objects.using(using)
    low, high = min(doomed_ids), max(doomed_ids)
    # The stretch between the nearest surviving entries on either side: what may merge.
    before = entries.filter(pk__lt=low).order_by("-pk").values_list("pk", flat=True).first() or 0
    after = entries.filter(pk__gt=high).order_by("pk").values_list("pk", flat=True).first()
    links = [
        _Link(pk, pk, prev, digest, doomed=pk in doomed_ids)
        for pk, prev, digest in entries.filter(pk__range=(low, high))
        .order_by("pk")
        .values_list("pk", "prev_hash", "hash")
        .iterator(chunk_size=5000)
    ]
    gaps = AuditChainGap.objects.using(using).filter(first_id__gt=before)
    if after is not None:
        gaps = gaps.filter(last_id__lt=after)
    links += [_Link(g.first_id, g.last_id, g.prev_hash, g.last_hash, g.entries, True, g) for g in gaps]
    links.sort(key=lambda link: link.first_id)
    new_gaps, old_gaps = [], []
    for run in _runs(links):
        if all(link.gap is not None for link in run):
            continue  # an old gap with nothing new beside it
        old_gaps += [link.gap.pk for link in run if link.gap is not None]
        new_gaps.append(
            AuditChainGap(
                first_id=run[0].first_id,
                last_id=run[-1].last_id,
                prev_hash=run[0].prev_hash,
                last_hash=run[-1].hash,
                entries=sum(link.entries for link in run),
            )  # fmt: skip
        )
    AuditChainGap.objects.using(using).filter(pk__in=old_gaps).delete()
    AuditChainGap.objects.using(using).bulk_create(new_gaps)
    deleted, ids = 0, sorted(doomed_ids)
    for start in range(0, len(ids), BATCH):
        rows = entries.filter(pk__in=ids[start : start + BATCH])
        deleted += rows._raw_delete(using)
    return deleted


def _runs(links: list[_Link]) -> Iterator[list[_Link]]:
    run = []
    for link in links:
        if link.doomed:
            run.append(link)
        elif run:
            yield run
            run = []
    if run:
        yield run


# --- Verification -----------------------------------------------------------------------------


@dataclass
class AuditChainProblem:
    entry_id: int | None
    created_at: datetime | None
    action: str
    problem: str

    def as_dict(self) -> dict:
        return {
            "id": self.entry_id,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "action": self.action,
            "problem": self.problem,
        }

    def __str__(self):
        when = ""
        if self.created_at:
            moment = timezone.localtime(self.created_at)
            when = f" {date_format(moment, 'SHORT_DATE_FORMAT')} {time_format(moment, 'H:i:s')}"
        return f"#{self.entry_id}{when} {self.action}: {self.problem}"


@dataclass
class AuditChainReport:
    entries: int = 0
    rotated: int = 0
    problems: list[AuditChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_broken(self) -> AuditChainProblem | None:
        return self.problems[0] if self.problems else None

    def as_dict(self) -> dict:
        first = self.first_broken
        return {
            "ok": self.ok,
            "entries": self.entries,
            "rotated_entries": self.rotated,
            "first_broken": first.as_dict() if first else None,
            "problems": [p.as_dict() for p in self.problems],
        }


def audit_chain_verify(using: str = DEFAULT_DB_ALIAS) -> AuditChainReport:
    """Walk the trail in id order from the first link: each entry's hash recomputed from its
    fields, each ``prev_hash`` the hash of the entry (or rotated stretch) before it, and the
    chain head naming the newest entry (so removing the newest entries shows too)."""
    report = AuditChainReport()
    gaps = list(AuditChainGap.objects.using(using).order_by("first_id"))
    expected, g = "", 0
    fields = ["pk", "created_at", "actor_label", "action", "target_type", "target_id", "outcome", "detail",
              "ip_address", "prev_hash", "hash"]  # fmt: skip
    rows = AuditEntry.objects.using(using).order_by("pk").only(*fields)
    for entry in rows.iterator(chunk_size=2000):
        while g < len(gaps) and gaps[g].first_id <= entry.pk:
            gap, g = gaps[g], g + 1
            if gap.last_id >= entry.pk:
                continue  # a restore brought these entries back: they speak for themselves
            expected = _check_gap(report, gap, expected)
        report.entries += 1
        if entry.prev_hash != expected:
            report.problems.append(_problem(entry, _(
                "its previous hash is not the hash of the entry before it: an entry before it is missing, "
                "or it was slipped in"
            )))  # fmt: skip
        if entry.compute_hash() != entry.hash:
            report.problems.append(_problem(entry, _("its contents do not match its hash: it was altered")))
        expected = entry.hash
    for gap in gaps[g:]:
        expected = _check_gap(report, gap, expected)
    head = AuditChainHead.objects.using(using).filter(pk=AuditChainHead.ROW).first()
    if head is not None and head.last_hash != expected:
        report.problems.append(AuditChainProblem(head.last_id, None, "", _(
            "the newest entries were removed: the chain's head names entry #%(id)s, which is not the last one"
        ) % {"id": head.last_id}))  # fmt: skip
    return report


def _check_gap(report: AuditChainReport, gap: AuditChainGap, expected: str) -> str:
    report.rotated += gap.entries
    if gap.prev_hash != expected:
        report.problems.append(AuditChainProblem(gap.first_id, gap.rotated_at, _("(rotated)"), _(
            "the rotated entries #%(first)s–#%(last)s do not follow the entry before them"
        ) % {"first": gap.first_id, "last": gap.last_id}))  # fmt: skip
    return gap.last_hash


def _problem(entry: AuditEntry, problem: str) -> AuditChainProblem:
    return AuditChainProblem(entry.pk, entry.created_at, entry.action, problem)


# --- After a restore --------------------------------------------------------------------------


def chain_resync(using: str = DEFAULT_DB_ALIAS) -> None:
    """After a restore: forget the gaps whose entries came back, and point the head at the
    newest link (the restored head may be older, or the live one newer than the restored trail)."""
    with transaction.atomic(using=using):
        head = AuditChainHead.locked(using)
        entries = AuditEntry.objects.using(using)
        for gap in AuditChainGap.objects.using(using).order_by("first_id"):
            if entries.filter(pk__range=(gap.first_id, gap.last_id)).exists():
                gap.delete()
        newest = entries.order_by("-pk").values_list("pk", "hash").first()
        last_gap = AuditChainGap.objects.using(using).order_by("-last_id").values_list("last_id", "last_hash").first()
        last = max([link for link in (newest, last_gap) if link], default=(None, ""))
        AuditChainHead.objects.using(using).filter(pk=head.pk).update(last_id=last[0], last_hash=last[1])


#: The tables of the trail: a restore that touches any of them puts the live entries back.
CHAIN_TABLES = (AuditEntry._meta.db_table, AuditChainGap._meta.db_table, AuditChainHead._meta.db_table)


class AuditTrailError(Exception):
    """The trail could not be kept through a restore; the message says where its entries are."""


@dataclass
class KeptEntries:
    """The live trail as it was just before a restore replaced it."""

    alias: str
    rows: list[dict] = field(default_factory=list)
    active: bool = False


def audit_entries_read(*, alias: str = DEFAULT_DB_ALIAS, tables: list[str] | None = None) -> KeptEntries:
    """Before a restore (full, or selective with the audit tables): read every live entry, so
    that the ones the backup does not have can be put back after it (``audit_entries_put_back``).
    A restore is itself an audited event, never an erasure of the history since the backup."""
    kept = KeptEntries(alias)
    if tables and not set(tables) & set(CHAIN_TABLES):
        return kept
    if AuditEntry._meta.db_table not in connections[alias].introspection.table_names():
        return kept  # an empty database (disaster recovery): nothing to keep
    kept.active = True
    columns = [f.attname for f in AuditEntry._meta.concrete_fields]
    kept.rows = list(AuditEntry.objects.using(alias).order_by("pk").values(*columns).iterator(chunk_size=5000))
    return kept


def audit_entries_put_back(kept: KeptEntries, *, backup_dir: Path | None = None) -> int:
    """After the restore's swap, before anything else writes: insert again, with the same ids,
    fields and hashes, every entry the restored trail lacks (written after the backup, or
    rotated since and absent from it), then point the chain's head at the newest link. An entry
    whose actor's account the backup does not have keeps its actor label (the hash covers the
    label, not the account). Returns how many entries came back.

    Should the inserts fail, the entries are written to a JSON file in ``backup_dir`` (named in
    the error) rather than lost."""
    if not kept.active:
        return 0
    User = AuditEntry._meta.get_field("actor").related_model  # noqa: N806 - a model class
    using = kept.alias
    if not set(CHAIN_TABLES) <= set(connections[using].introspection.table_names()):
        # A backup older than the hash chain: its schema cannot hold them until ``migrate`` runs.
        path = _save_aside(kept, backup_dir)
        log.warning("restore: the restored schema predates the audit chain; the live entries are saved in %s", path)
        return 0
    try:
        with transaction.atomic(using=using):
            AuditChainHead.locked(using)
            restored = set(AuditEntry.objects.using(using).values_list("pk", flat=True).iterator(chunk_size=10000))
            missing = [row for row in kept.rows if row["id"] not in restored]
            users = set(
                User._base_manager.using(using)
                .filter(pk__in={row["actor_id"] for row in missing if row["actor_id"]})
                .values_list("pk", flat=True)
            )
            entries = [
                AuditEntry(**{**row, "actor_id": row["actor_id"] if row["actor_id"] in users else None})
                for row in missing
            ]
            AuditEntry.objects.using(using).bulk_create(entries, batch_size=BATCH)
            chain_resync(using)
    except Exception as exc:
        path = _save_aside(kept, backup_dir)
        log.error("restore: the audit entries since the backup could not be put back; saved in %s", path)
        raise AuditTrailError(
            _(
                "The audit entries written since the backup could not be put back (%(error)s); they are saved in %(path)s."
            )
            % {"error": exc, "path": path}
        ) from exc
    return len(entries)


def _save_aside(kept: KeptEntries, directory: Path | None) -> Path:
    from django.conf import settings

    directory = Path(directory or settings.BACKUP_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"audit-kept-{timezone.now():%Y%m%d%H%M%S%f}.json"
    path.write_text(json.dumps(kept.rows, cls=DjangoJSONEncoder))
    return path
