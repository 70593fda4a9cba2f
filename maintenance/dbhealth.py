"""The database's health in figures (``manage.py dbhealth``): per table its rows, data and index
size, free space inside it (fragmentation) and growth since the last run; disk space for the
database and the backups; the last good and last verified backup against the recovery point
objective; the last archive and cleanup runs; whether Celery beat and a worker are alive."""

import shutil
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from backups.engines import engine_for
from backups.models import Backup
from maintenance.health import database_directory, installed_within, starting_up
from maintenance.models import HealthSnapshot, Heartbeat, LifecycleKind, LifecycleRun


@dataclass
class TableFigures:
    name: str
    rows: int
    data_bytes: int | None = None
    index_bytes: int | None = None
    free_bytes: int | None = None
    rows_growth: int | None = None
    bytes_growth: int | None = None

    @property
    def total_bytes(self) -> int | None:
        return None if self.data_bytes is None else self.data_bytes + (self.index_bytes or 0)


@dataclass
class DiskFigures:
    label: str
    path: str
    total_bytes: int
    free_bytes: int

    @property
    def free_share(self) -> float:
        return self.free_bytes / self.total_bytes if self.total_bytes else 0.0


@dataclass
class Finding:
    """One condition that needs a person; ``code`` names it stably (alerts are de-duplicated on it)."""

    code: str
    message: str


@dataclass
class HealthReport:
    taken_at: str
    vendor: str
    database_bytes: int | None
    tables: list[TableFigures]
    disks: list[DiskFigures]
    backups: dict
    runs: dict
    heartbeat: dict
    previous_snapshot: str | None = None
    alerts: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("findings")
        for table, figures in zip(self.tables, data["tables"], strict=True):
            figures["total_bytes"] = table.total_bytes
        for disk, figures in zip(self.disks, data["disks"], strict=True):
            figures["free_share"] = round(disk.free_share, 4)
        return data


def database_health(*, save: bool = True, baseline: HealthSnapshot | None = None) -> HealthReport:
    """Measure everything; ``save`` keeps this run's table figures for the next run's growth.
    Growth is measured since ``baseline`` (default: the newest snapshot)."""
    previous = baseline or HealthSnapshot.objects.order_by("-taken_at").first()
    tables = _tables()
    if previous is not None:
        for table in tables:
            before = previous.tables.get(table.name)
            if before is not None:
                table.rows_growth = table.rows - before["rows"]
                if table.total_bytes is not None and before.get("bytes") is not None:
                    table.bytes_growth = table.total_bytes - before["bytes"]
    report = HealthReport(
        taken_at=timezone.now().isoformat(), vendor=connection.vendor, database_bytes=_database_bytes(tables),
        tables=tables, disks=_disks(), backups=_backups(), runs=_runs(), heartbeat=_heartbeat(),
        previous_snapshot=previous.taken_at.isoformat() if previous else None,
    )  # fmt: skip
    report.findings = findings(report)
    report.alerts = [finding.message for finding in report.findings]
    if save:
        HealthSnapshot.objects.create(tables={t.name: {"rows": t.rows, "bytes": t.total_bytes} for t in tables})
    return report


def _tables() -> list[TableFigures]:
    names = sorted(connection.introspection.table_names())
    sizes = engine_for().table_sizes()
    quote = connection.ops.quote_name
    figures = []
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"SELECT COUNT(*) FROM {quote(name)}")  # noqa: S608 - a table name from introspection
            data, index, free = sizes.get(name, (None, None, None))
            figures.append(TableFigures(name, cursor.fetchone()[0], data, index, free))
    return figures


def _database_bytes(tables: list[TableFigures]) -> int | None:
    return engine_for().database_bytes([table.total_bytes for table in tables])


def _disks() -> list[DiskFigures]:
    from backups.services import backup_dir

    disks = []
    for label, directory in (("database", database_directory()), ("backups", backup_dir())):
        if directory is not None:
            usage = shutil.disk_usage(directory)
            disks.append(DiskFigures(label, str(directory), usage.total, usage.free))
    return disks


def _age_hours(when) -> float | None:
    return None if when is None else round((timezone.now() - when).total_seconds() / 3600, 1)


def _backups() -> dict:
    latest = Backup.objects.latest_good()
    verified = Backup.objects.good().filter(verified_at__isnull=False).order_by("-verified_at").first()
    restore_tested = Backup.objects.filter(restore_tested_at__isnull=False).order_by("-restore_tested_at").first()
    return {
        "rpo_hours": settings.BACKUP_RPO_HOURS,
        "last_good": latest.file_name if latest else None,
        "last_good_age_hours": _age_hours(latest.started_at if latest else None),
        "last_verified_age_hours": _age_hours(verified.verified_at if verified else None),
        "last_restore_test_age_hours": _age_hours(restore_tested.restore_tested_at if restore_tested else None),
    }


def _runs() -> dict:
    runs = {}
    for kind in (LifecycleKind.ARCHIVE, LifecycleKind.CLEANUP):
        run = LifecycleRun.objects.filter(kind=kind, dry_run=False).order_by("-started_at").first()
        runs[kind.lower()] = None if run is None else {
            "started_at": run.started_at.isoformat(), "outcome": run.outcome, "seconds": run.seconds,
        }  # fmt: skip
    return runs


def _heartbeat() -> dict:
    beat = Heartbeat.objects.filter(name="celery").first()
    return {"last_seen": beat.last_seen.isoformat() if beat else None, "alive": bool(beat and beat.is_fresh)}


def findings(report: HealthReport) -> list[Finding]:
    """The alert thresholds, in one place: ``dbhealth``, the alert check and the dashboard use them.

    "Nothing has happened yet" is not a problem on a new installation: no backup and no heartbeat
    during its first INSTALL_GRACE, no restore test during its first ALERT_RESTORE_TEST_DAYS (the
    rule of the /health/ page, maintenance/health.py)."""
    found = []
    minimum = settings.ALERT_DISK_FREE_PERCENT
    for disk in report.disks:
        if disk.free_share * 100 < minimum:
            message = _("%(disk)s disk is %(free)s free (below %(minimum)s %%)") % {
                "disk": disk_label(disk.label), "free": f"{disk.free_share:.0%}", "minimum": minimum,
            }  # fmt: skip
            found.append(Finding(f"disk.{disk.label}", message))
    age = report.backups["last_good_age_hours"]
    never_backed_up = report.backups["last_good"] is None
    if (age is None or age > report.backups["rpo_hours"]) and not (never_backed_up and starting_up()):
        message = _("no good backup within the recovery point objective (%(hours)s h)") % {
            "hours": report.backups["rpo_hours"]
        }
        found.append(Finding("backup.rpo", message))
    tested, days = report.backups["last_restore_test_age_hours"], settings.ALERT_RESTORE_TEST_DAYS
    if (tested is None or tested > days * 24) and not (tested is None and installed_within(timedelta(days=days))):
        found.append(Finding("backup.restore_test", _("no restore test within %(days)s days") % {"days": days}))
    if not report.heartbeat["alive"] and not (report.heartbeat["last_seen"] is None and starting_up()):
        found.append(Finding("beat.silent", _("Celery beat or worker silent")))
    for table in report.tables:
        if _grew_abnormally(table):
            message = _("table %(table)s grew abnormally: %(growth)s rows to %(rows)s since %(since)s") % {
                "table": table.name, "growth": f"{table.rows_growth:+,}", "rows": f"{table.rows:,}",
                "since": report.previous_snapshot[:16].replace("T", " "),
            }  # fmt: skip
            found.append(Finding(f"growth.{table.name}", message))
    return found


def disk_label(label: str) -> str:
    """The disk's name for people ("database", "backups")."""
    return {"database": _("database"), "backups": _("backups")}.get(label, label)


def _grew_abnormally(table: TableFigures) -> bool:
    if not table.rows_growth or table.rows_growth < settings.ALERT_TABLE_GROWTH_MIN_ROWS:
        return False
    before = table.rows - table.rows_growth
    return table.rows_growth * 100 > settings.ALERT_TABLE_GROWTH_PERCENT * before
