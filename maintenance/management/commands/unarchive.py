from datetime import datetime

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from backups.locks import MaintenanceBusy
from beils.lib.commands import OperatorCommand
from maintenance.archive import archive_restore
from maintenance.management.commands.archive import confirmed, write_run


class Command(OperatorCommand):
    help = (
        "Move archived sales back to the live tables, with their lines and payments and the same ids: "
        "the sales given by --sale, or those completed between --from and --to. In batches of 1 000, "
        "each one transaction."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sale", type=int, action="append", dest="ids", help="An archived sale's id (repeatable).")
        parser.add_argument("--from", dest="after", type=_day, help="Completed on or after this day (YYYY-MM-DD).")
        parser.add_argument("--to", dest="before", type=_day, help="Completed before this day (YYYY-MM-DD).")
        parser.add_argument("--all", action="store_true", help="Every archived sale.")
        parser.add_argument("--dry-run", action="store_true", help="Say what would move back; move nothing.")
        parser.add_argument("--json", action="store_true", help="Print the run as JSON.")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def handle(self, *args, ids, after, before, dry_run, interactive, **options):
        if not (ids or after or before or options["all"]):
            raise CommandError(_("Say which sales to restore: --sale ID, --from/--to, or --all."))
        choice = {"ids": ids, "after": after, "before": before}
        try:
            preview = archive_restore(dry_run=True, **choice)
            if dry_run:
                return write_run(self, preview, options["json"])
            if interactive and not options["json"]:
                write_run(self, preview, False)
                if not confirmed(input(_("Move these back to the live tables? [y/N] "))):
                    raise CommandError(_("Nothing was changed."))
            write_run(self, archive_restore(dry_run=False, **choice), options["json"])
        except MaintenanceBusy as exc:
            raise CommandError(str(exc)) from exc


def _day(text: str):
    return timezone.make_aware(datetime.strptime(text, "%Y-%m-%d"))
