import json

from django.core.management.base import CommandError
from django.utils.formats import number_format
from django.utils.translation import gettext as _

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
        name = backup.pk or _("(not catalogued yet)")
        self.stdout.write(self.style.SUCCESS(_("Backup %(id)s: %(path)s") % {"id": name, "path": path}))
        facts = _("%(size)s bytes, %(tables)s tables, %(rows)s rows, %(seconds)s s") % {
            "size": number_format(backup.size_bytes, force_grouping=True),
            "tables": len(backup.tables),
            "rows": number_format(backup.row_count, force_grouping=True),
            "seconds": number_format(backup.duration.total_seconds(), 1),
        }
        if backup.encrypted:
            facts += _(", encrypted")
        if backup.verify_ok:
            facts += _(", verified")
        self.stdout.write(f"  {facts}")
        self.stdout.write(f"  sha256 {backup.sha256}")  # i18n: technical
