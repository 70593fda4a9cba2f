"""Celery tasks: thin adapters that call one service each and own retries and time limits.

Time limits stay well below the Redis visibility timeout (6 h, settings.py) so a long backup is
never handed to a second worker while the first still runs; the maintenance lock makes a
duplicate run refuse rather than overlap.
"""

import logging

from celery import shared_task

from backups.locks import MaintenanceBusy
from beils.lib.tasks import task_actor
from maintenance.models import Heartbeat

log = logging.getLogger(__name__)

HOUR = 3600


@shared_task(name="maintenance.heartbeat", ignore_result=True, soft_time_limit=50, time_limit=60)
def heartbeat() -> None:
    """Sent by beat and run by a worker: a fresh row proves both are alive. A heartbeat that
    ends a silence the alerts reported checks the alerts at once, so that the "beat silent"
    alert clears now rather than at the next quarter hour."""
    from maintenance.models import Alert
    from maintenance.monitoring import queue_alert_check

    Heartbeat.beat("celery")
    if Alert.objects.open().filter(code="beat.silent").exists():
        queue_alert_check()


@shared_task(name="maintenance.startup", ignore_result=True, soft_time_limit=600, time_limit=660)
def startup() -> None:
    """Queued by a worker as it starts (maintenance/monitoring.py): the heartbeat, a first backup
    for an installation that has none yet, then the alert check, so that a fresh installation
    shows what is true now instead of "nothing has happened yet"."""
    from maintenance.alerts import alerts_check

    Heartbeat.beat("celery")
    first_backup_queue()
    try:
        alerts_check()
    except MaintenanceBusy:
        log.warning("Start-up alert check skipped: another check is running.")


def first_backup_queue() -> bool:
    """Queue a backup when there has never been a good one (and none is running): a new
    installation is protected from its first minutes, not from the first night. True if queued."""
    from backups.models import Backup, BackupStatus
    from backups.tasks import run_backup

    if Backup.objects.filter(status__in=[BackupStatus.SUCCESS, BackupStatus.RUNNING]).exists():
        return False
    run_backup.delay()
    return True


@shared_task(name="maintenance.archive", ignore_result=True, soft_time_limit=2 * HOUR, time_limit=2 * HOUR + 300)
def run_archive(user_id: int | None = None) -> None:
    """Apply the retention policies (03:00 by default); a second run at once does nothing."""
    from maintenance.archive import archive_run

    try:
        archive_run(dry_run=False, actor=task_actor(user_id))
    except MaintenanceBusy:
        log.warning("Archive skipped: another archive run is in progress.")


@shared_task(name="maintenance.cleanup", ignore_result=True, soft_time_limit=HOUR, time_limit=HOUR + 60)
def cleanup(
    orphans: bool = True, fix_orphans: bool = False, purge_trash: bool = True, user_id: int | None = None
) -> None:
    """The nightly cleanup: report orphaned rows (fix them only when asked), purge old trash, and
    clear the personal part of client merges past their undo window. Test data is never removed
    by a schedule."""
    from crm.unmerge import merge_records_expire
    from maintenance.cleanup import Trash, cleanup_run

    if expired := merge_records_expire():
        log.info("%s client merges past their undo window now keep ids only.", expired)

    try:
        runs = cleanup_run(dry_run=False, orphans=orphans, fix_orphans=fix_orphans,
                           trash=Trash() if purge_trash else None, actor=task_actor(user_id))  # fmt: skip
    except MaintenanceBusy:
        log.warning("Cleanup skipped: another cleanup is running.")
        return
    if "orphans" in runs and runs["orphans"].detail.get("orphans"):
        log.warning("Orphaned rows found: %s", {o["relation"]: o["rows"] for o in runs["orphans"].detail["orphans"]})


@shared_task(name="maintenance.reap_stale_work", ignore_result=True, soft_time_limit=300, time_limit=360)
def reap_stale_work() -> None:
    """Mark killed backups and import/export jobs failed and remove their files (every five minutes)."""
    from maintenance.reaper import stale_work_reap

    try:
        stale_work_reap()
    except MaintenanceBusy:
        log.warning("Stale-work check skipped: another check is running.")


@shared_task(name="maintenance.check_alerts", ignore_result=True, soft_time_limit=600, time_limit=660)
def check_alerts() -> None:
    """Open, refresh and resolve alerts (every fifteen minutes); mails only the changes."""
    from maintenance.alerts import alerts_check

    try:
        alerts_check()
    except MaintenanceBusy:
        log.warning("Alert check skipped: another check is running.")


@shared_task(name="maintenance.forget_review", ignore_result=True, soft_time_limit=600, time_limit=660)
def forget_review() -> None:
    """Weekly: count the clients due to be forgotten and mail the admins. Lists only; never erases."""
    from maintenance.forget import forget_review as review

    due = review()
    if due:
        log.info("%d client(s) are due to be forgotten; the admins were mailed.", due)


@shared_task(
    name="maintenance.optimise_tables", ignore_result=True, soft_time_limit=4 * HOUR, time_limit=4 * HOUR + 300
)
def optimise_tables(tables: list[str] | None = None, user_id: int | None = None) -> None:
    """Optimise ``tables`` or, by default, the most fragmented ones (monthly, off by default)."""
    from maintenance.optimise import OptimiseError, optimise_run

    try:
        if not optimise_run(tables=tables, actor=task_actor(user_id)):
            log.info("No table is fragmented enough to optimise.")
    except OptimiseError as exc:
        log.warning("Optimise: %s", exc)


@shared_task(name="maintenance.run_operation", ignore_result=True, soft_time_limit=4 * HOUR, time_limit=4 * HOUR + 300)
def run_operation(operation_id: int) -> None:
    """A backup, restore drill, archive or optimise started from the maintenance dashboard."""
    from maintenance.models import Operation
    from maintenance.operations import operation_run

    operation_run(Operation.objects.get(pk=operation_id))
