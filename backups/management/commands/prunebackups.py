import json

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

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
        years = "every year" if settings.BACKUP_KEEP_YEARLY is None else f"{settings.BACKUP_KEEP_YEARLY} years"
        self.stdout.write(
            f"Policy: the newest good backup of the last {settings.BACKUP_KEEP_DAILY} days, "
            f"{settings.BACKUP_KEEP_WEEKLY} weeks, {settings.BACKUP_KEEP_MONTHLY} months and {years}; "
            f"partial, safety and pre-migration backups for {settings.BACKUP_KEEP_SPECIAL_DAYS} days."
        )
        goes = "Would delete" if report.dry_run else "Deleted"
        self.section(f"Kept ({len(report.kept)})", report.kept, report)
        self.section(f"{goes} ({len(report.deleted)})", report.deleted, report)
        freed = "would be freed" if report.dry_run else "freed"
        summary = (
            f"{goes} {len(report.deleted)} backup(s), kept {len(report.kept)}; {_size(report.freed_bytes)} {freed}."
        )
        self.stdout.write(self.style.WARNING(summary) if report.dry_run else self.style.SUCCESS(summary))

    def section(self, title: str, backups: list[Backup], report: PruneReport) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(title))
        for backup in backups:
            self.stdout.write(f"  {self.line(backup)}  ({report.reasons[backup.file_name]})")

    @staticmethod
    def line(backup: Backup) -> str:
        started = timezone.localtime(backup.started_at)
        return f"{backup.pk:>5}  {started:%Y-%m-%d %H:%M}  {backup.kind:<11}  {_size(backup.size_bytes):>10}  {backup.file_name}"

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
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB"
