from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.formats import date_format
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
        scope = _("the tables %(tables)s") % {"tables": ", ".join(tables)} if tables else _("the WHOLE database")
        if not database_is_empty() and interactive:
            taken = date_format(timezone.localtime(target.started_at), "SHORT_DATETIME_FORMAT")
            self.stdout.write(self.style.WARNING(
                _("This replaces %(scope)s with the contents of %(name)s (taken %(taken)s). A safety backup is "
                  "taken first.") % {"scope": scope, "name": target.file_name, "taken": taken}
            ))  # fmt: skip
            # The operator types the English word whatever the language: the runbook says "yes".
            if input(_("Type 'yes' to continue: ")).strip().lower() not in ("yes", _("yes")):
                raise CommandError(_("Restore cancelled; nothing was changed."))
        try:
            safety = backup_restore(
                target, tables=tables, safety_backup=not no_safety_backup, without_ledger=without_ledger
            )
        except (BackupError, MaintenanceBusy) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(_("Restored %(scope)s from %(name)s.") % {"scope": scope, "name": target.file_name})
        )
        self.stdout.write(self.files_note(target, tables))
        if safety:
            self.stdout.write(_("Safety backup of the data it replaced: %(name)s") % {"name": safety.file_name})

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
