import json

from django.template.defaultfilters import filesizeformat

from beils.lib.commands import OperatorCommand
from maintenance.dbhealth import database_health


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
        size = filesizeformat(report.database_bytes) if report.database_bytes is not None else "unknown"
        self.stdout.write(self.style.MIGRATE_HEADING(f"Database ({report.vendor}), {size}"))
        self.stdout.write(f"  {'table':<36}{'rows':>10}{'growth':>9}{'data':>11}{'indexes':>11}{'free':>11}")
        for t in sorted(report.tables, key=lambda t: t.total_bytes or 0, reverse=True):
            growth = "" if t.rows_growth is None else f"{t.rows_growth:+,}"
            self.stdout.write(
                f"  {t.name:<36}{t.rows:>10,}{growth:>9}{_size(t.data_bytes):>11}{_size(t.index_bytes):>11}"
                f"{_size(t.free_bytes):>11}"
            )
        self.stdout.write(self.style.MIGRATE_HEADING("Disks"))
        for disk in report.disks:
            self.stdout.write(
                f"  {disk.label:<10} {disk.free_share:>5.0%} free of {filesizeformat(disk.total_bytes)}  {disk.path}"
            )
        self.stdout.write(self.style.MIGRATE_HEADING("Backups, runs, background jobs"))
        for key, value in {
            **report.backups,
            **{f"{k} run": v for k, v in report.runs.items()},
            **report.heartbeat,
        }.items():
            self.stdout.write(f"  {key:<28} {value}")
        if report.alerts:
            self.stdout.write(self.style.ERROR("Alerts:"))
            for alert in report.alerts:
                self.stdout.write(self.style.ERROR(f"  - {alert}"))
        else:
            self.stdout.write(self.style.SUCCESS("No alerts."))


def _size(value) -> str:
    return "-" if value is None else filesizeformat(value)
