"""The restore drill: prove that the newest good backup brings the salon back, and how fast.

It is the ``verifybackup --restore-test`` machinery (``backup_verify(restore_test=True)``: the
file's checksum, the dump's trailer, the backup restored into a scratch database, every table's
rows and data checksum compared with the manifest) plus, while the scratch copy exists, the
invoice hash chain verified *in the copy* (``verifyinvoices``' logic). The wall-clock time from
start to a verified copy is the measured recovery time, kept with the RTO target of the day.
"""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import router
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import Outcome
from audit.services import audit_log
from backups.locks import MaintenanceBusy
from backups.models import Backup, RestoreDrill
from backups.services import BackupError, backup_verify, check_held_here, latest_good_here
from maintenance.pulse import beating

#: The clock the recovery time is measured with (a test may replace it).
clock = time.monotonic

#: The guide's recovery time tiers, in hours.
RTO_TIERS = (1, 4, 24)


def rto_tier(seconds: float | None) -> int | None:
    """The smallest RTO tier (1, 4 or 24 h) a recovery time meets; None when it meets none."""
    if seconds is None:
        return None
    return next((hours for hours in RTO_TIERS if seconds <= hours * 3600), None)


class _ReadFrom:
    """A database router that, in one thread only, sends every read to another alias."""

    def __init__(self):
        self.local = threading.local()

    def db_for_read(self, model, **hints):
        return getattr(self.local, "alias", None)


_read_from = _ReadFrom()


@contextlib.contextmanager
def reading_from(alias: str) -> Iterator[None]:
    """Run unchanged read-only code (``invoice_chain_verify``) against another database."""
    if _read_from not in router.routers:
        router.routers.insert(0, _read_from)
    _read_from.local.alias = alias
    try:
        yield
    finally:
        _read_from.local.alias = None


def _verify_invoices(alias: str, checks: dict) -> None:
    from sales.chain import invoice_chain_verify

    with reading_from(alias):
        report = invoice_chain_verify()
    checks["invoices"] = report.invoices
    checks["invoice_problems"] = [problem.as_dict() for problem in report.problems[:20]]
    if not report.ok:
        first = report.first_broken
        raise BackupError(
            _("the invoice chain in the restored copy is broken at %(number)s: %(problem)s")
            % {"number": first.number, "problem": first.problem}
        )


def restore_drill(
    *, backup: Backup | None = None, actor=None, progress: Callable[[int, str], None] | None = None
) -> RestoreDrill:
    """Restore ``backup`` (default: the newest good one this host holds) into a scratch database, verify it,
    and record the measured recovery time. Raises ``BackupError`` when the drill fails (the
    failure is recorded, audited and mailed first)."""
    backup = backup or latest_good_here()
    if backup is None:
        raise BackupError(_("There is no good backup to drill with. Take one with: manage.py backup"))
    check_held_here(backup)  # before the drill is recorded: another host's file proves nothing here
    drill = RestoreDrill.objects.create(
        backup=backup if backup.pk else None, backup_file=backup.file_name, engine=backup.engine,
        rto_hours=settings.BACKUP_RTO_HOURS, actor=actor if getattr(actor, "pk", None) else None,
    )  # fmt: skip
    checks: dict = {}
    started = clock()

    def restored(alias: str) -> None:
        checks["restored_seconds"] = round(clock() - started, 3)
        if progress:
            progress(70, _("Restored into a scratch database; checking the invoice chain"))
        _verify_invoices(alias, checks)

    if progress:
        progress(5, _("Restoring %(name)s into a scratch database") % {"name": backup.file_name})
    try:
        with beating(drill):  # a killed drill stops beating: maintenance/reaper.py
            backup_verify(backup, restore_test=True, actor=actor, on_restored=restored)
    except (BackupError, MaintenanceBusy) as exc:
        _finish(drill, Outcome.FAILURE, started, checks, error=str(exc))
        audit_log(action="maintenance.backup.restore_drill_failed", actor=actor, target=drill,
                  outcome=Outcome.FAILURE, detail={"file": backup.file_name, "error": str(exc)[:2000]})  # fmt: skip
        raise
    drill.tables, drill.rows, drill.invoices = len(backup.tables), backup.row_count, checks.get("invoices")
    _finish(drill, Outcome.SUCCESS, started, checks)
    audit_log(
        action="maintenance.backup.restore_drill", actor=actor, target=drill,
        detail={"file": backup.file_name, "seconds": drill.seconds, "rto_hours": drill.rto_hours,
                "meets_rto": drill.meets_rto, "invoices": drill.invoices},
    )  # fmt: skip
    return drill


def _finish(drill: RestoreDrill, outcome: Outcome, started: float, checks: dict, *, error: str = "") -> None:
    drill.seconds = round(clock() - started, 3)
    drill.outcome, drill.error, drill.finished_at = outcome, error, timezone.now()
    drill.detail = {**checks, "rto_tier_hours": rto_tier(drill.seconds) if outcome == Outcome.SUCCESS else None}
    drill.save()
