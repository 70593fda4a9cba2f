import json
from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from backups.offsite import fetch_from_offsite
from backups.services import BackupError, backup_dir
from beils.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Disaster recovery: fetch a backup file and its manifest from the second directory "
        "(BACKUP_COPY_DIR) or, failing that, S3 (BACKUP_S3_BUCKET) into the backup directory or --to DIR. "
        "The file takes its name only after its SHA-256 matches the manifest; a copy that does not "
        "match is refused. The erasure ledger copy that travels with it comes too; without it the fetch is "
        "refused unless --without-ledger. Its uploaded files archive comes too, checked the same way (a set "
        "whose archive is missing or altered is refused). An existing file is never overwritten. Exits non-zero on failure."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", metavar="FILE", help="The backup's file name, e.g. beils_beils_20250101_030000.sql.gz"
        )
        parser.add_argument("--to", type=Path, help="Where to put it (default: BACKUP_DIR).")
        parser.add_argument(
            "--without-ledger",
            action="store_true",
            help="Fetch it even when its erasure ledger copy is missing (restoring it then needs --without-ledger too).",
        )

    def handle(self, *args, file, to, without_ledger, **options):
        try:
            path = fetch_from_offsite(file, to or backup_dir(), without_ledger=without_ledger)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = json.loads(Path(f"{path}.json").read_text())
        self.stdout.write(
            self.style.SUCCESS(_("Fetched %(path)s (SHA-256 checked against its manifest).") % {"path": path})
        )
        self.stdout.write(
            _("Restore it with: manage.py restore %(path)s  (or by hand: %(by_hand)s)")
            % {"path": path, "by_hand": manifest["restore_with"]}
        )
