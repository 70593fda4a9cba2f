"""Celery tasks of backups: thin adapters that call one service each and own retries and time
limits. Their names keep the ``maintenance.`` prefix they had, so schedules, queued messages and
the task-run records (``maintenance.monitoring``) still find them.

Time limits stay well below the Redis visibility timeout (6 h, settings.py) so a long backup is
never handed to a second worker while the first still runs; the maintenance lock makes a
duplicate run refuse rather than overlap.
"""

import logging

from celery import shared_task

from backups.locks import MaintenanceBusy
from backups.models import Backup, BackupKind
from beils.lib.tasks import task_actor

log = logging.getLogger(__name__)

HOUR = 3600


@shared_task(name="maintenance.backup", ignore_result=True, soft_time_limit=3 * HOUR, time_limit=3 * HOUR + 300)
def run_backup(user_id: int | None = None, kind: str = BackupKind.SCHEDULED) -> int | None:
    """Back up, copy off-site when configured, and verify the new file."""
    from backups.services import backup_run

    try:
        return backup_run(kind=kind, actor=task_actor(user_id)).pk
    except MaintenanceBusy:
        log.warning("Backup skipped: another maintenance operation is running.")
        return None


@shared_task(name="maintenance.verify_backup", ignore_result=True, soft_time_limit=3 * HOUR, time_limit=3 * HOUR + 300)
def verify_backup(backup_id: int | None = None, restore_test: bool = False, user_id: int | None = None) -> None:
    """Verify one backup (default: the newest good one), optionally with a restore test."""
    from backups.services import backup_verify, latest_good_here

    if restore_test and not backup_id:
        # What the weekly restore test was scheduled as before it named maintenance.restore_drill:
        # sync_schedules never rewrites a periodic task that exists, so older installations still
        # send this. It is the same drill.
        _drill(user_id)
        return
    backup = Backup.objects.get(pk=backup_id) if backup_id else latest_good_here()
    if backup is None:
        log.warning("No good backup to verify.")
        return
    try:
        backup_verify(backup, restore_test=restore_test, actor=task_actor(user_id))
    except MaintenanceBusy:
        log.warning("Verification skipped: another maintenance operation is running.")


@shared_task(
    name="maintenance.copy_backup_offsite",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=300,
    max_retries=5,
    soft_time_limit=3 * HOUR,
    time_limit=3 * HOUR + 300,
)
def copy_backup_offsite(backup_id: int, user_id: int | None = None) -> None:
    from backups.offsite import backup_copy_offsite

    backup_copy_offsite(Backup.objects.get(pk=backup_id), actor=task_actor(user_id))


@shared_task(name="maintenance.prune_backups", ignore_result=True, soft_time_limit=HOUR, time_limit=HOUR + 60)
def prune_backups() -> None:
    from backups.pruning import backup_prune

    try:
        backup_prune()
    except MaintenanceBusy:
        log.warning("Pruning skipped: another maintenance operation is running.")


def _drill(user_id: int | None) -> None:
    from backups.drill import restore_drill
    from backups.services import BackupError, latest_good_here

    if latest_good_here() is None:
        log.warning("No good backup on this host to drill with.")
        return
    try:
        restore_drill(actor=task_actor(user_id))
    except MaintenanceBusy:
        log.warning("Restore drill skipped: another maintenance operation is running.")
    except BackupError as exc:  # recorded, audited and mailed by the service
        log.error("Restore drill failed: %s", exc)
        raise


@shared_task(name="maintenance.restore_drill", ignore_result=True, soft_time_limit=3 * HOUR, time_limit=3 * HOUR + 300)
def run_restore_drill(user_id: int | None = None) -> None:
    """Restore the newest good backup into a scratch database, verify it, measure the time
    (the weekly restore test, maintenance/schedules.py)."""
    _drill(user_id)
