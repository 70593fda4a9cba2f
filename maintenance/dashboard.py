"""What the maintenance dashboard shows, read in a fixed, small number of queries: no
``COUNT(*)`` over the tables (sizes come from the server's catalogue), no per-row lookups.

    backup timeline (30 days)   1      table sizes            1 (+1: the last snapshot's rows)
    disks                       0-1    RPO / RTO              2
    scheduled jobs and runs     2      alerts, operations     2
"""

from collections import OrderedDict
from datetime import timedelta

from django.conf import settings
from django.utils import formats, timezone

from backups.drill import RTO_TIERS, rto_tier
from backups.engines import engine_for
from backups.models import Backup, BackupKind, BackupStatus, RestoreDrill
from maintenance import dbhealth
from maintenance.health import installed_within, starting_up
from maintenance.models import Alert, HealthSnapshot, Operation, OperationState, TaskRun
from maintenance.schedules import job_description, job_label

TIMELINE_DAYS = 30
TABLES_SHOWN = 25


def dashboard_data(*, now=None) -> dict:
    now = now or timezone.now()
    backups = list(
        Backup.objects.filter(started_at__gte=now - timedelta(days=TIMELINE_DAYS))
        .exclude(kind=BackupKind.SAFETY)
        .order_by("started_at")
        .only("pk", "file_name", "kind", "status", "started_at", "finished_at", "size_bytes", "verify_ok", "error")
    )
    latest_good = Backup.objects.latest_good()
    drill = RestoreDrill.objects.order_by("-started_at").first()
    return {
        "timeline": _timeline(backups, now),
        "recent_backups": list(reversed(backups))[:8],
        "tables": _tables(),
        "disks": _disks(),
        "rpo": _rpo(latest_good, now),
        "rto": _rto(drill),
        "jobs": _jobs(),
        "alerts": list(Alert.objects.open().order_by("-opened_at")[:50]),
        "operations": list(Operation.objects.select_related("actor").order_by("-created_at")[:8]),
    }


def _timeline(backups: list[Backup], now) -> dict:
    """Per day: the size and duration of the last good backup, and how many failed."""
    days: OrderedDict = OrderedDict()
    today = timezone.localdate(now)
    for offset in range(TIMELINE_DAYS - 1, -1, -1):
        days[today - timedelta(days=offset)] = {"size_mb": None, "seconds": None, "failures": 0}
    for backup in backups:
        day = days.get(timezone.localdate(backup.started_at))
        if day is None:
            continue
        if backup.status == BackupStatus.FAILED or backup.verify_ok is False:
            day["failures"] += 1
        elif backup.status == BackupStatus.SUCCESS and backup.size_bytes is not None:
            day["size_mb"] = round(backup.size_bytes / 2**20, 3)
            day["seconds"] = round(backup.duration.total_seconds(), 1) if backup.duration else None
    return {
        "labels": [formats.date_format(day, "j M") for day in days],
        "size_mb": [d["size_mb"] for d in days.values()],
        "seconds": [d["seconds"] for d in days.values()],
        "failures": [d["failures"] or None for d in days.values()],
    }


def _tables() -> list[dict]:
    sizes = engine_for().table_sizes()
    snapshot = HealthSnapshot.objects.order_by("-taken_at").only("tables").first()
    rows = {name: figures.get("rows") for name, figures in (snapshot.tables if snapshot else {}).items()}
    if not sizes and snapshot:  # SQLite without dbstat: the last dbhealth run's figures
        sizes = {name: (figures.get("bytes"), 0, None) for name, figures in snapshot.tables.items()}
    tables = [
        {"name": name, "data": data or 0, "index": index or 0, "free": free, "total": (data or 0) + (index or 0),
         "rows": rows.get(name)}
        for name, (data, index, free) in sizes.items()
    ]  # fmt: skip
    return sorted(tables, key=lambda t: t["total"], reverse=True)[:TABLES_SHOWN]


def _disks() -> list[dict]:
    minimum = settings.ALERT_DISK_FREE_PERCENT
    return [
        {"label": disk.label, "name": dbhealth.disk_label(disk.label), "path": disk.path, "total": disk.total_bytes, "free": disk.free_bytes,
         "used_percent": round(100 - disk.free_share * 100, 1), "free_percent": round(disk.free_share * 100, 1),
         "low": disk.free_share * 100 < minimum}
        for disk in dbhealth._disks()
    ]  # fmt: skip


def _rpo(latest: Backup | None, now) -> dict:
    """``pending``: a new installation whose first backup has not happened yet (not a fault:
    the worker takes it as it starts; maintenance/tasks.py ``startup``)."""
    hours = None if latest is None else round((now - latest.started_at).total_seconds() / 3600, 1)
    return {
        "objective_hours": settings.BACKUP_RPO_HOURS, "latest": latest, "age_hours": hours,
        "ok": hours is not None and hours <= settings.BACKUP_RPO_HOURS,
        "pending": latest is None and starting_up(),
    }  # fmt: skip


def _rto(drill: RestoreDrill | None) -> dict:
    """``pending``: no drill yet on an installation younger than ALERT_RESTORE_TEST_DAYS."""
    return {
        "objective_hours": settings.BACKUP_RTO_HOURS, "drill": drill, "tiers": RTO_TIERS,
        "tier": rto_tier(drill.seconds) if drill and drill.outcome == "SUCCESS" else None,
        "ok": bool(drill and drill.meets_rto),
        "pending": drill is None and installed_within(timedelta(days=settings.ALERT_RESTORE_TEST_DAYS)),
    }  # fmt: skip


def _jobs() -> list[dict]:
    """Every periodic task (django-celery-beat) with its schedule and its task's last run."""
    from django_celery_beat.models import PeriodicTask

    runs = {run.task: run for run in TaskRun.objects.all()}
    tasks = PeriodicTask.objects.select_related("crontab", "interval", "solar", "clocked").order_by("name")
    return [
        {"name": task.name, "label": job_label(task.name), "task": task.task, "enabled": task.enabled,
         "schedule": str(task.scheduler or ""), "description": job_description(task.name, task.description),
         "last_run_at": task.last_run_at, "run": runs.get(task.task)}
        for task in tasks
    ]  # fmt: skip


def active_operations() -> list[Operation]:
    return list(Operation.objects.filter(state__in=[OperationState.QUEUED, OperationState.RUNNING]))
