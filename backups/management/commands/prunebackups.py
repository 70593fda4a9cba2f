import json

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from backups.locks import MaintenanceBusy
from backups.models import Backup
from backups.pruning import PruneReport, backup_prune
from backups.services import BackupError
from beils.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Delete the backups the retention policy no longer needs. Only verified-good full backups count: "
        "the newest of each of the last BACKUP_KEEP_DAILY days, BACKUP_KEEP_WEEKLY ISO weeks and "
        "BACKUP_KEEP_MONTHLY months that have one, and of every year (or the last BACKUP_KEEP_YEARLY), "
        "are kept. Partial, safety and pre-migration backups are kept BACKUP_KEEP_SPECIAL_DAYS days; "
        "backups that failed verification go once a newer good one exists. Never deleted: unverified "
        "backups, the newest good backup, and anything at all while no backup has passed verification. "
        "A pruned backup's file and manifest are removed; its catalogue row stays, marked Pruned."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Show what would be deleted; delete nothing.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, dry_run, **options):
        try:
            report = backup_prune(dry_run=dry_run)
        except (BackupError, MaintenanceBusy) as exc:
            if options["json"]:
                self.stdout.write(json.dumps({"ok": False, "dry_run": dry_run, "error": str(exc)}))
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(self.as_dict(report), indent=2))
            return
        self.print_report(report)

    def print_report(self, report: PruneReport) -> None:
        years = (
            _("every year")
            if settings.BACKUP_KEEP_YEARLY is None
            else _("%(count)s years") % {"count": settings.BACKUP_KEEP_YEARLY}
        )
        self.stdout.write(
            _(
                "Policy: the newest good backup of the last %(days)s days, %(weeks)s weeks, %(months)s months and "
                "%(years)s; partial, safety and pre-migration backups for %(special)s days."
            )
            % {"days": settings.BACKUP_KEEP_DAILY, "weeks": settings.BACKUP_KEEP_WEEKLY,
               "months": settings.BACKUP_KEEP_MONTHLY, "years": years, "special": settings.BACKUP_KEEP_SPECIAL_DAYS}
        )  # fmt: skip
        counts = {"deleted": len(report.deleted), "kept": len(report.kept), "size": _size(report.freed_bytes)}
        self.section(_("Kept (%(kept)s)") % counts, report.kept, report)
        if report.dry_run:
            self.section(_("Would delete (%(deleted)s)") % counts, report.deleted, report)
            summary = _("Would delete %(deleted)s backup(s), kept %(kept)s; %(size)s would be freed.") % counts
        else:
            self.section(_("Deleted (%(deleted)s)") % counts, report.deleted, report)
            summary = _("Deleted %(deleted)s backup(s), kept %(kept)s; %(size)s freed.") % counts
        self.stdout.write(self.style.WARNING(summary) if report.dry_run else self.style.SUCCESS(summary))

    def section(self, title: str, backups: list[Backup], report: PruneReport) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(title))
        for backup in backups:
            self.stdout.write(f"  {self.line(backup)}  ({report.reasons[backup.file_name]})")

    @staticmethod
    def line(backup: Backup) -> str:
        started = timezone.localtime(backup.started_at)
        started = date_format(started, "SHORT_DATETIME_FORMAT")
        return f"{backup.pk:>5}  {started:<16}  {backup.kind:<11}  {_size(backup.size_bytes):>10}  {backup.file_name}"

    @staticmethod
    def as_dict(report: PruneReport) -> dict:
        def row(backup: Backup) -> dict:
            return {
                "id": backup.pk, "file_name": backup.file_name, "kind": backup.kind,
                "started_at": timezone.localtime(backup.started_at).isoformat(), "size_bytes": backup.size_bytes,
                "verify_ok": backup.verify_ok, "reason": report.reasons[backup.file_name],
            }  # fmt: skip

        return {
            "ok": True,
            "dry_run": report.dry_run,
            "kept": [row(b) for b in report.kept],
            "deleted": [row(b) for b in report.deleted],
            "freed_bytes": report.freed_bytes,
        }


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    if size < 2**10:
        return f"{size} B"
    return f"{number_format(size / 2**20, 1)} MiB" if size >= 2**20 else f"{number_format(size / 2**10, 1)} KiB"
