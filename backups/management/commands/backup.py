import json

from django.core.management.base import CommandError

from backups.locks import MaintenanceBusy
from backups.models import BackupKind
from backups.services import BackupError, backup_path, backup_run
from beils.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Back up the database: a consistent dump (structure, data, indexes, constraints, routines, "
        "triggers, events), gzip-compressed, encrypted with age when BACKUP_ENCRYPTION_KEY is set, "
        "written to BACKUP_DIR under a temporary name and renamed only when complete. Prints the id "
        "and path. --tables makes a partial backup of those tables (MariaDB only)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tables", nargs="+", metavar="TABLE", help="Only these tables.")
        parser.add_argument("--verify", action="store_true", help="Verify the new file right away.")
        parser.add_argument(
            "--kind",
            choices=BackupKind.values,
            default=BackupKind.MANUAL,
            help="Recorded in the catalogue (default MANUAL).",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, tables, verify, kind, **options):
        try:
            # An operator's backup: no off-site copy (copybackup does that), verified when asked.
            backup = backup_run(kind=kind, tables=tables, offsite=False, verify=verify)
        except (BackupError, MaintenanceBusy) as exc:
            raise CommandError(str(exc)) from exc
        path = backup_path(backup)
        if options["json"]:
            self.stdout.write(json.dumps({
                "id": backup.pk, "path": str(path), "file": backup.file_name, "size": backup.size_bytes,
                "sha256": backup.sha256, "rows": backup.row_count, "tables": len(backup.tables),
                "encrypted": backup.encrypted, "verified": backup.verify_ok,
            }, indent=2))  # fmt: skip
            return
        self.stdout.write(self.style.SUCCESS(f"Backup {backup.pk or '(not catalogued yet)'}: {path}"))
        self.stdout.write(
            f"  {backup.size_bytes:,} bytes, {len(backup.tables)} tables, {backup.row_count:,} rows, "
            f"{backup.duration.total_seconds():.1f} s{', encrypted' if backup.encrypted else ''}"
            f"{', verified' if backup.verify_ok else ''}"
        )
        self.stdout.write(f"  sha256 {backup.sha256}")
