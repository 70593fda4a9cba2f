"""The latest run of every Celery task, for the maintenance dashboard: Celery's own signals
write one :class:`~maintenance.models.TaskRun` row per task (when, how long, raised or not).

Connected in ``MaintenanceConfig.ready``. A failure to record never fails the task itself.
A finished backup also queues the alert check at once, so that a "no recent backup" alert (and
the site's health) clears when its cause does, not at the next quarter hour.
"""

import logging

from django.db import DatabaseError
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
        from maintenance.tasks import check_alerts

        check_alerts.delay()


#: Tasks whose success may clear an alert.
CHECK_ALERTS_AFTER = {"maintenance.backup", "maintenance.restore_drill", "maintenance.run_operation"}


def task_failed(sender=None, exception=None, **kwargs) -> None:
    now = timezone.now()
    error = (str(exception) or type(exception).__name__)[:2000]
    _record(sender.name, finished_at=now, outcome="FAILURE", error=error, last_failure_at=now)


def connect() -> None:
    from celery.signals import task_failure, task_prerun, task_success

    task_prerun.connect(task_started, dispatch_uid="maintenance.task_started", weak=False)
    task_success.connect(task_succeeded, dispatch_uid="maintenance.task_succeeded", weak=False)
    task_failure.connect(task_failed, dispatch_uid="maintenance.task_failed", weak=False)
