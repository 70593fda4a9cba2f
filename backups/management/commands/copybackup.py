import json

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from backups.offsite import backup_copy_offsite
from backups.services import BackupError, resolve
from beils.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Copy a good backup and its manifest to the off-site targets: the second directory "
        "(BACKUP_COPY_DIR) and S3 (BACKUP_S3_BUCKET). A copy counts only once its SHA-256 is checked "
        "on the target; a failed copy never touches the local backup, is audited, and exits non-zero. "
        "Copying again is safe: the copy is refreshed and listed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", metavar="ID_OR_FILE", help="Catalogue id or file name (see listbackups).")
        parser.add_argument("--json", action="store_true", help="Print the copies made as JSON.")

    def handle(self, *args, backup, **options):
        try:
            found = resolve(backup)
            copies = backup_copy_offsite(found)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"file": found.file_name, "copies": copies}, indent=2))
            return
        self.stdout.write(
            self.style.SUCCESS(
                _("Copied %(name)s to %(count)s target(s):") % {"name": found.file_name, "count": len(copies)}
            )
        )
        for copy in copies:
            where = copy["path"] if copy["kind"] == "dir" else f"s3://{copy['bucket']}/{copy['key']}"
            self.stdout.write(f"  {copy['kind']:<4} {where}")
