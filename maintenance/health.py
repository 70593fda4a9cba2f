"""Health pages (django-health-check), two of them because a site of several machines asks two
questions:

- ``/health/live``, for a load balancer: can *this node* serve? Its database connection, the
  Celery broker, its own disks, and the workers it is meant to run (``HEALTH_WORKERS``). A node
  that fails is taken out of rotation; the others go on.
- ``/health/``, for monitoring: is *the site* well? Everything above plus backup freshness against
  the recovery point objective, beat's heartbeat and a recent restore test. A stale backup needs a
  person, not a load balancer dropping every node at once.

A fresh installation is not red while it starts: for its first ``INSTALL_GRACE`` the site checks
accept a missing backup, heartbeat or restore test. Each check raises ``ServiceUnavailable`` with
a short message and no secret in it; any failing check makes the page answer 500.
``?format=json`` gives ``{"Check(...)": "OK" | "Unavailable: …"}`` (keys stay the checks' class
names, for monitors); the HTML page names each check for a person (``title``), in the salon's language.
"""

import dataclasses
import datetime
import shutil
import socket
from pathlib import Path

from django.conf import settings
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Min
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from health_check.base import HealthCheck
from health_check.checks import Database
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

#: How long a new installation has to take its first backup and hear from beat before it is red.
INSTALL_GRACE = datetime.timedelta(minutes=15)


def broker_url() -> str:
    return settings.CELERY_BROKER_URL


def installed_at() -> datetime.datetime | None:
    """When this installation's database was created (its first migration)."""
    return MigrationRecorder.Migration.objects.aggregate(first=Min("applied"))["first"]


def installed_within(period: datetime.timedelta) -> bool:
    """True while the installation is younger than ``period``."""
    first = installed_at()
    return first is not None and timezone.now() - first < period


def starting_up() -> bool:
    """The installation's first INSTALL_GRACE: no backup or heartbeat yet is not a fault."""
    return installed_within(INSTALL_GRACE)


def _when(value: datetime.datetime, format_name: str = "SHORT_DATETIME_FORMAT") -> str:
    return formats.date_format(timezone.localtime(value), format_name)


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (Redis, or the embedded one's folders)."""

    timeout = datetime.timedelta(seconds=3)
    title = gettext_lazy("Task queue (Celery broker)")

    def run(self):
        from beils.celery import app

        try:
            with app.connection_for_write(url=broker_url()) as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot queue work"
            raise ServiceUnavailable(
                _("Celery broker unreachable (%(error)s)") % {"error": type(exc).__name__}
            ) from exc


def database_directory() -> Path | None:
    """Where the database's files are, when this process can see them."""
    from backups.engines import engine_for

    return engine_for().data_directory()


@dataclasses.dataclass
class Disk(HealthCheck):
    """At least ALERT_DISK_FREE_PERCENT (20 %) free where the database and the backups are written."""

    title = gettext_lazy("Disk space")

    def run(self):
        from backups.services import backup_dir

        minimum = settings.ALERT_DISK_FREE_PERCENT / 100
        for label, directory in ((_("database"), database_directory()), (_("backups"), backup_dir())):
            if directory is None:
                continue
            usage = shutil.disk_usage(directory)
            free = usage.free / usage.total
            if free < minimum:
                raise ServiceUnavailable(
                    _("%(disk)s disk %(free)s free (below %(minimum)s)")
                    % {"disk": label, "free": f"{free:.0%}", "minimum": f"{minimum:.0%}"}
                )


@dataclasses.dataclass
class BackupFreshness(HealthCheck):
    """A good backup within the recovery point objective (``BACKUP_RPO_HOURS``)."""

    title = gettext_lazy("Backup freshness")

    def run(self):
        from backups.models import Backup
        from backups.services import rpo_breached

        latest = Backup.objects.latest_good()
        if latest is None and starting_up():
            return
        if rpo_breached(latest=latest):
            if latest is None:
                age = _("none")
            else:
                hours = (timezone.now() - latest.started_at).total_seconds() / 3600
                age = _("%(hours)s h old") % {"hours": f"{hours:.0f}"}
            raise ServiceUnavailable(
                _("no good backup within %(hours)s h (latest: %(age)s)")
                % {"hours": settings.BACKUP_RPO_HOURS, "age": age}
            )


@dataclasses.dataclass
class BeatHeartbeat(HealthCheck):
    """Celery beat and a worker ran the heartbeat job lately (every five minutes)."""

    title = gettext_lazy("Background jobs (heartbeat)")

    def run(self):
        from maintenance.models import Heartbeat

        beat = Heartbeat.objects.filter(name="celery").first()
        if beat is None and starting_up():
            return
        if beat is None or not beat.is_fresh:
            seen = _("never") if beat is None else _("last at %(when)s") % {"when": _when(beat.last_seen)}
            raise ServiceUnavailable(_("beat or worker silent (%(seen)s)") % {"seen": seen})


@dataclasses.dataclass
class RestoreTested(HealthCheck):
    """A backup was restored and checked (the weekly drill, or ``verifybackup --restore-test``)
    within ALERT_RESTORE_TEST_DAYS; an installation younger than that has until then."""

    title = gettext_lazy("Restore test")

    def run(self):
        from backups.models import Backup

        days = datetime.timedelta(days=settings.ALERT_RESTORE_TEST_DAYS)
        tested = Backup.objects.filter(restore_tested_at__isnull=False).order_by("-restore_tested_at").first()
        if tested is not None and timezone.now() - tested.restore_tested_at <= days:
            return
        if installed_within(days):
            return
        seen = (
            _("never")
            if tested is None
            else _("last on %(day)s") % {"day": _when(tested.restore_tested_at, "SHORT_DATE_FORMAT")}
        )
        raise ServiceUnavailable(
            _("no restore test within %(days)s days (%(seen)s)")
            % {"days": settings.ALERT_RESTORE_TEST_DAYS, "seen": seen}
        )


def expected_workers() -> list[str]:
    """The Celery workers this node runs (``HEALTH_WORKERS``, ``%h`` for this host's name)."""
    return [name.replace("%h", socket.gethostname()) for name in settings.HEALTH_WORKERS]


@dataclasses.dataclass
class LocalWorkers(HealthCheck):
    """Each worker this node is meant to run answers a ping through the broker."""

    timeout = datetime.timedelta(seconds=5)
    title = gettext_lazy("This server's workers")

    def run(self):
        from beils.celery import app

        names = expected_workers()
        if not names:
            return
        try:
            answers = app.control.ping(destination=names, timeout=2.0)
        except Exception as exc:  # noqa: BLE001 - no answer at all is the same finding
            raise ServiceUnavailable(_("workers not reachable (%(error)s)") % {"error": type(exc).__name__}) from exc
        alive = {name for answer in answers for name in answer}
        if missing := [name for name in names if name not in alive]:
            raise ServiceUnavailable(_("worker silent: %(workers)s") % {"workers": ", ".join(missing)})


#: Names for people of the checks that come from django-health-check itself.
TITLES = {Database: gettext_lazy("Database")}


def check_title(check: HealthCheck) -> str:
    """A check's name for a person: its ``title``, else its class name."""
    return str(getattr(check, "title", None) or TITLES.get(type(check)) or type(check).__name__)


class TranslatedHealthView(HealthCheckView):
    """The HTML page in the reader's language, each check under its human name; the JSON, text
    and feed formats keep django-health-check's keys for the monitors that read them."""

    template_name = "maintenance/health.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["rows"] = [{"title": check_title(result.check), "result": result} for result in self.results]
        return context


class BeilsHealthView(TranslatedHealthView):
    """The site, for monitoring."""

    checks = (Database, Broker, Disk, BackupFreshness, BeatHeartbeat, RestoreTested)


class LiveHealthView(TranslatedHealthView):
    """This node, for a load balancer."""

    checks = (Database, Broker, Disk, LocalWorkers)
