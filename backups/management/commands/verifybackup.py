import json

from django.core.management.base import CommandError

from backups.locks import MaintenanceBusy
from backups.services import BackupError, backup_verify, latest_good_here, resolve
from beils.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Verify a backup (default: the newest good one on this host): its SHA-256, the archive's integrity, the "
        "dump's completion trailer, and every table's row count and data checksum against the "
        "manifest. --restore-test also restores it into a scratch database, compares, and drops it."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", nargs="?", help="Backup id or file name (default: the newest good backup).")
        parser.add_argument("--restore-test", action="store_true", help="Restore into a scratch database and compare.")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, backup, restore_test, **options):
        try:
            target = resolve(backup) if backup else latest_good_here()
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        if target is None:
            raise CommandError("There is no good backup to verify. Take one with: manage.py backup")
        try:
            backup_verify(target, restore_test=restore_test)
        except (BackupError, MaintenanceBusy) as exc:
            if options["json"]:
                self.stdout.write(json.dumps({"file": target.file_name, "ok": False, "error": str(exc)}))
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({
                "file": target.file_name, "ok": True, "restore_test": restore_test, "tables": len(target.tables),
                "rows": target.row_count, "files": (target.media or {}).get("files"),
            }))  # fmt: skip
            return
        what = "restore-tested" if restore_test else "verified"
        files = f", {target.media['files']:,} uploaded files" if target.media else ""
        self.stdout.write(self.style.SUCCESS(
            f"{target.file_name} {what}: {len(target.tables)} tables, {target.row_count:,} rows{files} match the manifest."
        ))  # fmt: skip
