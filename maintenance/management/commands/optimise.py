import json

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from beils.lib.commands import OperatorCommand
from maintenance.optimise import OptimiseError, fragmented_tables, optimise_run


class Command(OperatorCommand):
    help = (
        "Give fragmented tables their free space back: OPTIMIZE TABLE on MariaDB, VACUUM on SQLite (the "
        "whole file). With no TABLE, the most fragmented tables (at least OPTIMISE_MIN_FREE_BYTES free "
        "inside, at most OPTIMISE_MAX_TABLES). Refused while a backup, restore or migration runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("tables", nargs="*", metavar="TABLE")
        parser.add_argument("--dry-run", action="store_true", help="List what would be optimised, do nothing.")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, tables, dry_run, **options):
        candidates = fragmented_tables()
        tables = tables or [t["table"] for t in candidates]
        if dry_run or not tables:
            if options["json"]:
                self.stdout.write(json.dumps({"dry_run": True, "tables": tables, "fragmented": candidates}))
            else:
                if tables:
                    self.stdout.write(_("Would optimise: %(tables)s") % {"tables": ", ".join(tables)})
                else:
                    self.stdout.write(_("Would optimise: nothing (no table is fragmented)"))
            return
        try:
            results = optimise_run(tables=tables)
        except OptimiseError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"dry_run": False, "results": results}))
        else:
            for table, message in results.items():
                self.stdout.write(self.style.SUCCESS(f"{table}: {message}"))
