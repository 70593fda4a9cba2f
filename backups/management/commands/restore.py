from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from backups.locks import MaintenanceBusy
from backups.services import BackupError, backup_restore, database_is_empty, resolve
from beils.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Restore a backup (by id or file name), in full or only --tables. The file is verified "
        "first, a safety backup of the current data is taken, and the data is loaded into a scratch "
        "database that replaces the live tables in one step, so a failed restore changes nothing. "
        "A full restore also writes the backup's uploaded files back into the media storage. "
        "Refused when the erasure ledger it would replay is missing or older than this installation's, "
        "unless --without-ledger (audited). "
        "Asks before overwriting a database that holds data, unless --noinput."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", help="Backup id or file name (see listbackups).")
        parser.add_argument("--tables", nargs="+", metavar="TABLE", help="Restore only these tables.")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive", help="Do not ask.")
        parser.add_argument("--no-safety-backup", action="store_true", help="Skip the safety backup (not advised).")
        parser.add_argument(
            "--without-ledger",
            action="store_true",
            help="Restore a backup whose erasure ledger copy is missing (erased clients may come back).",
        )

    def handle(self, *args, backup, tables, interactive, no_safety_backup, without_ledger, **options):
        try:
            target = resolve(backup)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        scope = f"the tables {', '.join(tables)}" if tables else "the WHOLE database"
        if not database_is_empty() and interactive:
            self.stdout.write(self.style.WARNING(
                f"This replaces {scope} with the contents of {target.file_name} "
                f"(taken {target.started_at}). A safety backup is taken first."
            ))  # fmt: skip
            if input("Type 'yes' to continue: ").strip().lower() != "yes":
                raise CommandError("Restore cancelled; nothing was changed.")
        try:
            safety = backup_restore(
                target, tables=tables, safety_backup=not no_safety_backup, without_ledger=without_ledger
            )
        except (BackupError, MaintenanceBusy) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Restored {scope} from {target.file_name}."))
        self.stdout.write(self.files_note(target, tables))
        if safety:
            self.stdout.write(f"Safety backup of the data it replaced: {safety.file_name}")

    def files_note(self, target, tables) -> str:
        if tables:
            return _("The uploaded files were left as they are (a partial restore restores rows only).")
        if not target.media:
            return self.style.WARNING(
                _(
                    "Note: this backup was taken before backups held the uploaded files: the database was "
                    "restored, the files (consent documents, product images) were left as they are."
                )
            )
        return _("Uploaded files restored: %(files)d.") % {"files": target.media["files"]}
