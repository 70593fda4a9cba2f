import json
from datetime import datetime

from django.template.defaultfilters import filesizeformat
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from beils.lib.commands import OperatorCommand
from maintenance.dbhealth import database_health, disk_label


class Command(OperatorCommand):
    help = (
        "The database's health: per table its rows, data and index size, free space inside it and growth "
        "since the last run; free disk for the database and the backups; the age of the last good, "
        "verified and restore-tested backup against the recovery point objective; the last archive and "
        "cleanup runs; whether Celery beat and a worker are alive. Alerts are listed last (the thresholds of "
        "maintenance/dbhealth.py findings(), shared with manage.py alerts); the command exits 1 when there "
        "is any (for cron and monitors)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        report = database_health()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        else:
            self.print_report(report)
        if report.alerts:
            raise SystemExit(1)

    def print_report(self, report) -> None:
        size = filesizeformat(report.database_bytes) if report.database_bytes is not None else _("unknown")
        self.stdout.write(
            self.style.MIGRATE_HEADING(_("Database (%(vendor)s), %(size)s") % {"vendor": report.vendor, "size": size})
        )
        head = (_("table"), _("rows"), _("growth"), _("data"), _("indexes"), _("free"))
        self.stdout.write(f"  {head[0]:<36}{head[1]:>10}{head[2]:>10}{head[3]:>11}{head[4]:>11}{head[5]:>11}")
        for t in sorted(report.tables, key=lambda t: t.total_bytes or 0, reverse=True):
            growth = "" if t.rows_growth is None else f"{t.rows_growth:+,}"
            self.stdout.write(
                f"  {t.name:<36}{t.rows:>10,}{growth:>10}{_size(t.data_bytes):>11}{_size(t.index_bytes):>11}"
                f"{_size(t.free_bytes):>11}"
            )
        self.stdout.write(self.style.MIGRATE_HEADING(_("Disks")))
        for disk in report.disks:
            free = _("%(share)s free of %(total)s") % {
                "share": f"{disk.free_share:.0%}", "total": filesizeformat(disk.total_bytes),
            }  # fmt: skip
            self.stdout.write(f"  {disk_label(disk.label):<20} {free}  {disk.path}")
        self.stdout.write(self.style.MIGRATE_HEADING(_("Backups, runs, background jobs")))
        figures = {
            **{FIGURES.get(key, key): _number(value) for key, value in report.backups.items()},
            **{RUNS.get(kind, kind): _run(run) for kind, run in report.runs.items()},
            _("beat last seen"): _moment(report.heartbeat["last_seen"]) or _("never"),
            _("beat and worker alive"): _("yes") if report.heartbeat["alive"] else _("no"),
        }
        for label, value in figures.items():
            self.stdout.write(f"  {label:<46} {'—' if value is None else value}")
        if report.alerts:
            self.stdout.write(self.style.ERROR(_("Alerts:")))
            for alert in report.alerts:
                self.stdout.write(self.style.ERROR(f"  - {alert}"))
        else:
            self.stdout.write(self.style.SUCCESS(_("No alerts.")))


#: The report's figures (English keys in --json) for people.
FIGURES = {
    "rpo_hours": gettext_lazy("recovery point objective (h)"),
    "last_good": gettext_lazy("last good backup"),
    "last_good_age_hours": gettext_lazy("last good backup, age (h)"),
    "last_verified_age_hours": gettext_lazy("last verification, age (h)"),
    "last_restore_test_age_hours": gettext_lazy("last restore test, age (h)"),
}
RUNS = {"archive": gettext_lazy("last archive run"), "cleanup": gettext_lazy("last cleanup run")}


def _number(value):
    return formats.number_format(value, 1) if isinstance(value, float) else value


def _moment(iso: str | None) -> str | None:
    """An ISO moment of the report (kept ISO in --json) as the reader's locale writes it."""
    if iso is None:
        return None
    return formats.date_format(timezone.localtime(datetime.fromisoformat(iso)), "SHORT_DATETIME_FORMAT")


def _run(run: dict | None) -> str | None:
    if run is None:
        return None
    seconds = "" if run["seconds"] is None else f", {formats.number_format(run['seconds'], 1)} s"
    return f"{_moment(run['started_at'])} ({run['outcome'] or _('running')}{seconds})"


def _size(value) -> str:
    return "-" if value is None else filesizeformat(value)
