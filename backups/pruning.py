"""Pruning: delete the backups the retention policy no longer needs.

The rules, in order (settings: ``BACKUP_KEEP_*``):

1. Only finished backups (status SUCCESS) are considered; running, failed and already pruned
   rows are left alone.
2. Nothing at all is deleted unless at least one full backup has passed verification
   (``verify_ok`` True): when nothing is known to be good, every file may be the last hope.
3. Never deleted: a backup that has not been verified yet (``verify_ok`` None), and the newest
   verified-good full backup.
4. A backup that failed verification (``verify_ok`` False) is deleted once a good backup newer
   than it exists.
5. Special backups (partial ones, safety copies taken before a restore, backups taken before a
   migration) are kept for ``BACKUP_KEEP_SPECIAL_DAYS`` days and then deleted. They are not part
   of the grandfather-father-son buckets, so they never push a scheduled backup out.
6. The other verified-good full backups (scheduled and manual) are kept when
   :func:`~backups.retention.retained` keeps them (by their local start time), and
   deleted otherwise.

Deleting removes the file and its ``.json`` manifest from ``BACKUP_DIR`` and marks the row
DELETED, so the catalogue keeps the history. Copies elsewhere (``storage``) are not touched.

Each host prunes the files it holds (``BEILS_HOST``): another host's backups, not in this
host's ``BACKUP_DIR``, are kept and left out of the rules (that host prunes them).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import Outcome
from audit.services import audit_log
from backups.catalogue import BackupError, backup_path, held_here, ledger_copy_path
from backups.locks import maintenance_lock
from backups.media import media_path
from backups.models import Backup, BackupKind, BackupStatus
from backups.retention import retained

SPECIAL_KINDS = {
    BackupKind.SAFETY: gettext_lazy("safety copy"),
    BackupKind.PRE_MIGRATE: gettext_lazy("pre-migration backup"),
}


@dataclass
class PruneReport:
    kept: list[Backup] = field(default_factory=list)
    deleted: list[Backup] = field(default_factory=list)  # or, in a dry run, would be deleted
    freed_bytes: int = 0
    dry_run: bool = False
    reasons: dict[str, str] = field(default_factory=dict)  # file name -> why it is kept or deleted


def backup_prune(*, dry_run: bool = False, actor=None, now: datetime | None = None) -> PruneReport:
    """Apply the retention rules (see the module docstring); a dry run only reports and audits."""
    with maintenance_lock():
        report = plan_prune(now=now or timezone.now())
        report.dry_run = dry_run
        if dry_run:
            report.freed_bytes = sum(_size_on_disk(backup) for backup in report.deleted)
            _audit(report, actor)
            return report
        _delete(report, actor)
    return report


def plan_prune(*, now: datetime) -> PruneReport:
    """What the rules keep and delete right now; changes nothing."""
    report = PruneReport()
    backups = []
    for backup in Backup.objects.filter(status=BackupStatus.SUCCESS).order_by("-started_at", "-pk"):
        if held_here(backup):
            backups.append(backup)
        else:
            _decide(report, backup, False, _("on host %(host)s, which prunes it") % {"host": backup.host})
    newest_good = next((b for b in backups if b.verify_ok is True and not b.tables_requested), None)
    if newest_good is None:
        for backup in backups:
            _decide(report, backup, False, _("no verified-good backup yet, so nothing is deleted"))
        return report
    # Ordered newest first, so of two backups started in the same second the later row wins.
    pool = [b for b in backups if b.verify_ok is True and not _is_special(b)]
    kept_by_policy = retained(
        ((b.pk, timezone.localtime(b.started_at)) for b in pool),
        daily=settings.BACKUP_KEEP_DAILY,
        weekly=settings.BACKUP_KEEP_WEEKLY,
        monthly=settings.BACKUP_KEEP_MONTHLY,
        yearly=settings.BACKUP_KEEP_YEARLY,
    )
    special_limit = now - timedelta(days=settings.BACKUP_KEEP_SPECIAL_DAYS)
    for backup in backups:
        _decide(report, backup, *_verdict(backup, newest_good, kept_by_policy, special_limit))
    return report


def _verdict(
    backup: Backup, newest_good: Backup, kept_by_policy: set[int], special_limit: datetime
) -> tuple[bool, str]:
    """Whether one SUCCESS backup goes, and why (rules 3 to 6 of the module docstring)."""
    days = settings.BACKUP_KEEP_SPECIAL_DAYS
    if backup.pk == newest_good.pk:
        return False, _("the newest verified-good backup")
    if backup.verify_ok is None:
        return False, _("not verified yet")
    if backup.verify_ok is False:
        if backup.started_at < newest_good.started_at:
            return True, _("failed verification")
        return False, _("failed verification, but no good backup is newer")
    if _is_special(backup):
        facts = {"kind": _special_label(backup), "days": days}
        if backup.started_at < special_limit:
            return True, _("%(kind)s older than %(days)s days") % facts
        return False, _("%(kind)s, kept %(days)s days") % facts
    if backup.pk in kept_by_policy:
        return False, _("retention policy")
    return True, _("not needed by the retention policy")


def _decide(report: PruneReport, backup: Backup, delete: bool, reason: str) -> None:
    (report.deleted if delete else report.kept).append(backup)
    report.reasons[backup.file_name] = reason


def _is_special(backup: Backup) -> bool:
    return bool(backup.tables_requested) or backup.kind in SPECIAL_KINDS


def _special_label(backup: Backup) -> str:
    return _("partial backup") if backup.tables_requested else str(SPECIAL_KINDS[backup.kind])


def _manifest_path(backup: Backup) -> Path:
    path = backup_path(backup)
    return path.with_name(f"{path.name}.json")


def _set_paths(backup: Backup) -> list[Path]:
    """The backup's files in the order they are deleted: the file goes before its manifest, so
    a rescan never revives a half-deleted backup."""
    paths = [backup_path(backup), ledger_copy_path(backup_path(backup))]
    if backup.media:
        paths.append(media_path(backup))
    return [*paths, _manifest_path(backup)]


def _size_on_disk(backup: Backup) -> int:
    """The bytes the set's files take; a missing one counts as nothing."""
    paths = _set_paths(backup)
    return sum(path.stat().st_size for path in paths if path.exists())


def _delete(report: PruneReport, actor) -> None:
    """Remove the files first, then record: a crash in between leaves rows that the next run
    prunes again (missing files are fine), never a row that says DELETED over a live file."""
    done: list[Backup] = []
    try:
        for backup in report.deleted:
            size = _size_on_disk(backup)
            for path in _set_paths(backup):
                path.unlink(missing_ok=True)
            report.freed_bytes += size
            done.append(backup)
    except OSError as exc:
        failed = report.deleted[len(done)]
        report.deleted = done
        _record(report, actor, error=f"{failed.file_name}: {exc}")
        raise BackupError(
            _("Could not delete %(name)s (%(error)s); %(count)s backup(s) were pruned before it.")
            % {"name": failed.file_name, "error": exc, "count": len(done)}
        ) from exc
    _record(report, actor)


def _record(report: PruneReport, actor, error: str | None = None) -> None:
    with transaction.atomic():
        Backup.objects.filter(pk__in=[b.pk for b in report.deleted]).update(status=BackupStatus.DELETED)
        for backup in report.deleted:
            backup.status = BackupStatus.DELETED
        _audit(report, actor, error=error)


def _audit(report: PruneReport, actor, error: str | None = None) -> None:
    outcome = Outcome.DRY_RUN if report.dry_run else (Outcome.FAILURE if error else Outcome.SUCCESS)
    detail = {
        "files": [b.file_name for b in report.deleted],
        "bytes_freed": report.freed_bytes,
        "kept": len(report.kept),
        "dry_run": report.dry_run,
    }
    if error:
        detail["error"] = error
    audit_log(action="maintenance.backup.pruned", actor=actor, outcome=outcome, detail=detail)
