"""``/health/`` for an uptime monitor (django-health-check): the database, the Celery broker,
disk space, backup freshness against the recovery point objective, and beat's heartbeat.

Each check raises ``ServiceUnavailable`` with a short message and no secret in it; any failing
check makes the page answer 500, which is what a monitor alerts on. ``?format=json`` gives
``{"Check(...)": "OK" | "Unavailable: …"}``.
"""

import dataclasses
import datetime
import shutil
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.checks import Database
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView


def broker_url() -> str:
    return settings.CELERY_BROKER_URL


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (Redis, or the embedded one's folders)."""

    timeout = datetime.timedelta(seconds=3)

    def run(self):
        from beils.celery import app

        try:
            with app.connection_for_write(url=broker_url()) as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot queue work"
            raise ServiceUnavailable(f"Celery broker unreachable ({type(exc).__name__})") from exc


def database_directory() -> Path | None:
    """Where the database's files are, when this process can see them."""
    from backups.engines import engine_for

    return engine_for().data_directory()


@dataclasses.dataclass
class Disk(HealthCheck):
    """At least ALERT_DISK_FREE_PERCENT (20 %) free where the database and the backups are written."""

    def run(self):
        from backups.services import backup_dir

        minimum = settings.ALERT_DISK_FREE_PERCENT / 100
        for label, directory in (("database", database_directory()), ("backups", backup_dir())):
            if directory is None:
                continue
            usage = shutil.disk_usage(directory)
            free = usage.free / usage.total
            if free < minimum:
                raise ServiceUnavailable(f"{label} disk {free:.0%} free (below {minimum:.0%})")


@dataclasses.dataclass
class BackupFreshness(HealthCheck):
    """A good backup within the recovery point objective (``BACKUP_RPO_HOURS``)."""

    def run(self):
        from backups.models import Backup
        from backups.services import rpo_breached

        latest = Backup.objects.latest_good()
        if rpo_breached(latest=latest):
            age = (
                "none" if latest is None else f"{(timezone.now() - latest.started_at).total_seconds() / 3600:.0f} h old"
            )
            raise ServiceUnavailable(f"no good backup within {settings.BACKUP_RPO_HOURS} h (latest: {age})")


@dataclasses.dataclass
class BeatHeartbeat(HealthCheck):
    """Celery beat and a worker ran the heartbeat job lately (every five minutes)."""

    def run(self):
        from maintenance.models import Heartbeat

        beat = Heartbeat.objects.filter(name="celery").first()
        if beat is None or not beat.is_fresh:
            seen = "never" if beat is None else f"last at {timezone.localtime(beat.last_seen):%Y-%m-%d %H:%M}"
            raise ServiceUnavailable(f"beat or worker silent ({seen})")


class BeilsHealthView(HealthCheckView):
    checks = (Database, Broker, Disk, BackupFreshness, BeatHeartbeat)
