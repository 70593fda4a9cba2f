import json

from django.core.management.base import CommandError
from django.utils.formats import number_format
from django.utils.translation import gettext as _

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
            raise CommandError(_("There is no good backup to verify. Take one with: manage.py backup"))
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
        facts = {
            "name": target.file_name, "tables": len(target.tables),
            "rows": number_format(target.row_count, force_grouping=True),
            "files": number_format((target.media or {}).get("files", 0), force_grouping=True),
        }  # fmt: skip
        if target.media:
            message = (
                _(
                    "%(name)s restore-tested: %(tables)s tables, %(rows)s rows, %(files)s uploaded files match the manifest."
                )
                if restore_test
                else _(
                    "%(name)s verified: %(tables)s tables, %(rows)s rows, %(files)s uploaded files match the manifest."
                )
            )
        else:
            message = (
                _("%(name)s restore-tested: %(tables)s tables, %(rows)s rows match the manifest.")
                if restore_test
                else _("%(name)s verified: %(tables)s tables, %(rows)s rows match the manifest.")
            )
        self.stdout.write(self.style.SUCCESS(message % facts))
