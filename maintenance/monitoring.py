"""The latest run of every Celery task, for the maintenance dashboard: Celery's own signals
write one :class:`~maintenance.models.TaskRun` row per task (when, how long, raised or not).

Connected in ``MaintenanceConfig.ready``. A failure to record never fails the task itself.

Alerts clear when their cause does, not at the next quarter hour:

- when a worker starts (``worker_ready``) it runs the start-up check (``maintenance.startup``): a
  heartbeat, the first backup of an installation that has none, and the alert check;
- when beat starts (``beat_init``) it sends a heartbeat at once instead of within five minutes;
- a good backup (from any entry point: the nightly task, the dashboard, ``manage.py backup``)
  queues the alert check when a backup alert is open; so does a finished restore drill or
  dashboard operation.
"""

import logging
import os

from django.db import DatabaseError, transaction
from django.utils import timezone

log = logging.getLogger(__name__)


def _record(task_name: str, **values) -> None:
    from maintenance.models import TaskRun

    if not task_name.startswith("maintenance."):
        return
    try:
        TaskRun.objects.update_or_create(task=task_name, defaults=values)
    except DatabaseError:  # an empty database during disaster recovery, say
        log.warning("Could not record the run of %s", task_name, exc_info=True)


def task_started(sender=None, **kwargs) -> None:
    _record(sender.name, started_at=timezone.now(), finished_at=None, outcome=None, error="")


def task_succeeded(sender=None, **kwargs) -> None:
    now = timezone.now()
    _record(sender.name, finished_at=now, outcome="SUCCESS", last_success_at=now)
    if sender.name in CHECK_ALERTS_AFTER:
        queue_alert_check()


#: Tasks whose success may clear an alert (a backup's success is caught where the row is saved).
CHECK_ALERTS_AFTER = {"maintenance.restore_drill", "maintenance.run_operation"}


def queue_alert_check() -> None:
    """Queue the alert check; a broker that is down only costs the early check (the schedule runs it)."""
    from maintenance.tasks import check_alerts

    try:
        check_alerts.delay()
    except Exception:  # noqa: BLE001 - kombu's errors vary by transport; never fail the caller
        log.warning("Could not queue the alert check", exc_info=True)


def backup_saved(sender=None, instance=None, update_fields=None, **kwargs) -> None:
    """A good backup clears the backup alerts as soon as it is committed."""
    from backups.models import BackupStatus
    from maintenance.models import Alert

    if instance.status != BackupStatus.SUCCESS or (update_fields and "status" not in update_fields):
        return
    using = kwargs.get("using") or "default"
    try:
        if not Alert.objects.using(using).open().filter(code__startswith="backup.").exists():
            return
    except DatabaseError:  # a backup taken before the maintenance tables exist
        return
    transaction.on_commit(queue_alert_check, using=using)


def worker_started(sender=None, **kwargs) -> None:
    """A worker came up: check at once instead of showing "nothing yet" until the schedule's turn."""
    from maintenance.tasks import startup

    try:
        startup.delay()
    except Exception:  # noqa: BLE001 - as in queue_alert_check
        log.warning("Could not queue the start-up check", exc_info=True)


def beat_started(sender=None, **kwargs) -> None:
    """Beat came up: its first heartbeat now, not at the next five-minute mark."""
    from maintenance.tasks import heartbeat

    try:
        heartbeat.delay()
    except Exception:  # noqa: BLE001 - as in queue_alert_check
        log.warning("Could not send the first heartbeat", exc_info=True)


def task_failed(sender=None, exception=None, **kwargs) -> None:
    now = timezone.now()
    error = (str(exception) or type(exception).__name__)[:2000]
    _record(sender.name, finished_at=now, outcome="FAILURE", error=error, last_failure_at=now)


def pool_process_started(sender=None, **kwargs) -> None:
    """A prefork pool process leaves the worker's process group for one of its own.

    ``honcho`` (``make run``) stops a process by sending SIGTERM to its whole group: the pool
    processes died at once, mid-task, and the worker logged "Process 'ForkPoolWorker-1' exited
    with 'signal 15 (SIGTERM)'" as an ERROR while its warm shutdown then hung until SIGKILL. In
    a group of their own they get only what the worker sends them: the warm shutdown lets their
    tasks finish and closes them. They still die with the worker (Celery sets their parent-death
    signal to SIGKILL), and a terminal's Ctrl-C never reached them (Celery ignores SIGINT there)."""
    try:
        os.setpgid(0, 0)
    except OSError:  # already a group leader, or a platform without process groups
        log.debug("Pool process kept its process group", exc_info=True)


def connect() -> None:
    from celery.signals import (
        beat_init,
        task_failure,
        task_prerun,
        task_success,
        worker_process_init,
        worker_ready,
    )
    from django.db.models.signals import post_save

    task_prerun.connect(task_started, dispatch_uid="maintenance.task_started", weak=False)
    task_success.connect(task_succeeded, dispatch_uid="maintenance.task_succeeded", weak=False)
    task_failure.connect(task_failed, dispatch_uid="maintenance.task_failed", weak=False)
    worker_ready.connect(worker_started, dispatch_uid="maintenance.worker_started", weak=False)
    beat_init.connect(beat_started, dispatch_uid="maintenance.beat_started", weak=False)
    worker_process_init.connect(pool_process_started, dispatch_uid="maintenance.pool_process", weak=False)
    post_save.connect(backup_saved, sender="backups.Backup", dispatch_uid="maintenance.backup_saved", weak=False)
