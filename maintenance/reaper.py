"""The stale-work check: work that was killed (SIGKILL, an out-of-memory kill, a machine that
stopped) cannot record its own failure. Its row stays RUNNING forever, its temporary files stay
on disk, and nobody is told. This check, run every five minutes (maintenance/schedules.py) and
by ``manage.py reapstale``, finds it by its silence:

- a backup, an import/export job, a dashboard operation, an archive/cleanup run or a restore
  drill still running whose last sign of life (``heartbeat_at``, maintenance/pulse.py) is older
  than STALE_WORK_MINUTES is marked failed with the reason, audited, and mailed to the admins
  once (the row is no longer running the next time); a legacy import (``updated_at`` is its
  sign of life) likewise, and the next import of its source resumes it;
- its temporary files are removed: the backup's hidden ``.partial`` file; a job's progress entry
  in the cache is forgotten;
- database credentials files (``VAR_DIR/credentials/<pid>-<random>.cnf``) whose process is gone
  are removed.
"""

import glob
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from audit.models import Outcome
from audit.services import audit_log
from backups.models import Backup, BackupStatus, RestoreDrill
from maintenance.models import LifecycleRun, Operation, OperationState
from transfer.models import Job, JobState

CREDENTIALS_FILE = re.compile(r"(\d+)-[^/]+\.cnf")


@dataclass
class Reaped:
    backups: list[Backup] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    runs: list = field(default_factory=list)  # operations, archive/cleanup runs, restore drills
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "backups": [{"id": b.pk, "file": b.file_name} for b in self.backups],
            "jobs": [{"id": j.pk, "job": str(j)} for j in self.jobs],
            "runs": [{"model": r._meta.label, "id": r.pk, "run": str(r)} for r in self.runs],
            "files_removed": self.files,
        }


# Apps above this one (legacy) add their own kinds of long work here from their AppConfig.ready():
# ``finder(silent_since, now)`` marks what fell silent before ``silent_since`` and returns it. So
# this module is imported at every start-up: the locks (the database engines) and the alerts (the
# database health figures) are imported by the functions that use them.
STALE_WORK_FINDERS: list = []


def stale_work_reap(*, now=None) -> Reaped:
    """Mark stranded work failed, remove its temporary files and tell the admins; return what
    was reaped. One check at a time (a second one refuses with ``MaintenanceBusy``)."""
    from backups.locks import single_run_lock

    now = now or timezone.now()
    silent_since = now - timedelta(minutes=settings.STALE_WORK_MINUTES)
    reaped = Reaped()
    with single_run_lock("reaper"):
        for backup in Backup.objects.filter(_silent(silent_since, "started_at"), status=BackupStatus.RUNNING):
            if _backup_reap(backup, now):
                reaped.backups.append(backup)
                reaped.files += _remove_backup_files(backup)
        for job in Job.objects.filter(_silent(silent_since, "started_at"), state=JobState.RUNNING):
            if not _progress_written_since(job, silent_since) and _job_reap(job, now):
                reaped.jobs.append(job)
                _forget_progress(job)
        for operation in Operation.objects.filter(_silent(silent_since, "created_at"), state=OperationState.RUNNING):
            if run_reap(operation, now, running={"state": OperationState.RUNNING}, failed={"state": OperationState.FAILED},
                         error_field="message", action="maintenance.operation.reaped"):  # fmt: skip
                reaped.runs.append(operation)
        for model, action in (
            (LifecycleRun, "maintenance.lifecycle.reaped"),
            (RestoreDrill, "maintenance.backup.restore_drill_reaped"),
        ):
            for run in model.objects.filter(
                _silent(silent_since, "started_at"), outcome__isnull=True, finished_at__isnull=True
            ):
                if run_reap(run, now, running={"outcome__isnull": True}, failed={"outcome": Outcome.FAILURE},
                             error_field="error", action=action):  # fmt: skip
                    reaped.runs.append(run)
        for finder in STALE_WORK_FINDERS:
            reaped.runs += finder(silent_since, now)
        reaped.files += credentials_files_sweep()
    return reaped


def _silent(since, started_field: str) -> Q:
    return Q(heartbeat_at__lt=since) | Q(heartbeat_at__isnull=True, **{f"{started_field}__lt": since})


def _reason(last) -> str:
    return _(
        "Stopped without finishing: no sign of life since %(when)s (the process was killed or its machine "
        "stopped). Marked failed by the stale-work check."
    ) % {"when": formats.date_format(timezone.localtime(last), "DATETIME_FORMAT")}


def _backup_reap(backup: Backup, now) -> bool:
    return run_reap(
        backup, now, running={"status": BackupStatus.RUNNING}, failed={"status": BackupStatus.FAILED},
        error_field="error", action="maintenance.backup.reaped", detail={"file": backup.file_name},
        subject=_("Beils: the backup %(file)s stopped without finishing") % {"file": backup.file_name},
        advice=_("No file was kept from it; older backups were not touched. Take a new backup "
                 "(manage.py backup) if the next scheduled one is far off."),
    )  # fmt: skip


def _job_reap(job: Job, now) -> bool:
    return run_reap(
        job, now, running={"state": JobState.RUNNING}, failed={"state": JobState.FAILED}, error_field="error",
        action=f"maintenance.{job.kind.lower()}.reaped",
        advice=_("An import writes all or nothing, so nothing of it was written; start it again from the admin."),
    )  # fmt: skip


def run_reap(
    row, now, *, running: dict, failed: dict, error_field: str, action: str,
    detail: dict | None = None, subject: str | None = None, advice: str | None = None,
) -> bool:  # fmt: skip
    """Mark ``row`` (a backup, a job, an operation, an archive/cleanup run, a drill…) left running
    by a killed process failed, audit it and mail the admins. Conditional: work that finished
    meanwhile, or a second check, changes nothing (returns False)."""
    from maintenance.alerts import admins_mail

    reason = _reason(row.heartbeat_at or getattr(row, "started_at", None) or row.created_at)
    model = type(row)
    values = {**failed, "finished_at": now, error_field: reason[: model._meta.get_field(error_field).max_length]}
    # QuerySet.update() leaves auto_now fields alone: a legacy run's updated_at keeps its last beat.
    if not model.objects.filter(pk=row.pk, finished_at__isnull=True, **running).update(**values):
        return False
    for name, value in values.items():
        setattr(row, name, value)
    audit_log(action=action, actor=getattr(row, "actor", None), target=row, outcome=Outcome.FAILURE,
              detail={**(detail or {}), "error": reason})  # fmt: skip
    admins_mail(
        subject or _("Beils: %(work)s stopped without finishing") % {"work": row},
        f"{reason}\n\n{advice or _('Run it again when convenient; see the maintenance dashboard.')}",
    )
    return True


def _progress_written_since(job: Job, since) -> bool:
    from transfer.jobs import job_progress_written_at

    written = job_progress_written_at(job)
    return written is not None and written >= since


def _remove_backup_files(backup: Backup) -> list[str]:
    from backups.services import backup_dir, partial_path

    removed, directory, name = [], backup_dir(), glob.escape(backup.file_name)
    # Its hidden temporary files (the dump's, the manifest's, the files archive's, the ledger
    # copy's); and, since the dump never took its name, the set's files written before it.
    leftovers = [partial_path(backup.file_name), *directory.glob(f".{name}.*partial")]
    if not (directory / backup.file_name).exists():
        leftovers += [*directory.glob(f"{name}.ledger.jsonl"), *directory.glob(f"{name}.media.tar.gz*")]
    for path in leftovers:
        if path.exists():
            path.unlink(missing_ok=True)
            removed.append(str(path))
    return removed


def _forget_progress(job: Job) -> None:
    from transfer.jobs import job_progress_forget

    job_progress_forget(job)


def credentials_files_sweep() -> list[str]:
    """Remove the database credentials files (``<pid>-<random>.cnf``) of processes that are gone:
    a killed backup or restore cannot remove its own."""
    directory = Path(settings.VAR_DIR) / "credentials"
    removed = []
    for path in sorted(directory.glob("*.cnf")) if directory.is_dir() else []:
        match = CREDENTIALS_FILE.fullmatch(path.name)
        if match and not pid_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(str(path))
    if removed:
        audit_log(action="maintenance.credentials.removed", detail={"files": removed})
    return removed


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
