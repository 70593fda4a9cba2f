import json
from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from beils.lib.commands import OperatorCommand
from beils.lib.formats import file_too_large_message, max_import_bytes
from legacy.peers.engine import peers_import
from legacy.peers.profiles import profiles
from legacy.peers.reading import PeersError
from legacy.peers.report import report_lines
from legacy.peers.targets import ENTITIES


class Command(OperatorCommand):
    help = (
        "Import another salon system's exports (CSV or XLSX): clients, appointments, services, products, sales and "
        "gift card or bono balances. PROFILE is fresha, phorest, timely, booksy, square or generic (any file, its "
        "columns guessed from the headers). Every file and row is checked first: one bad row and nothing is "
        "written. Each source row is remembered, so a second run creates nothing and an interrupted run carries on. "
        "Ends with a reconciliation per entity and of the money, to the cent; exits non-zero when a row is refused "
        "or a total differs."
    )

    def add_arguments(self, parser):
        parser.add_argument("profile", help=", ".join(profiles()))
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and reconcile, then roll back: writes nothing."
        )
        parser.add_argument("--entity", choices=ENTITIES, help="What the files hold, when their headers do not say.")
        parser.add_argument("--source", help="The name of the files' source whose remembered column mapping is used.")
        parser.add_argument(
            "--map", action="append", default=[], metavar="HEADER=FIELD",
            help='Map a column by hand, e.g. --map "Correo electrónico=email"; FIELD empty to ignore the column.',
        )  # fmt: skip
        parser.add_argument(
            "--skip-invalid", action="store_true",
            help="Import the valid rows and list the unreadable ones as skipped, instead of refusing everything.",
        )  # fmt: skip
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, profile, files, dry_run, entity, source, map, skip_invalid, **options):
        overrides = {}
        for item in map:
            header, sep, field = item.partition("=")
            if not sep or not header.strip():
                raise CommandError(_('--map takes "Column header=field", not “%(value)s”.') % {"value": item})
            overrides[header.strip()] = field.strip()
        contents = []
        for name in files:
            path = Path(name)
            if not path.is_file():
                raise CommandError(_("No such file: %(file)s") % {"file": name})
            if path.stat().st_size > max_import_bytes():
                raise CommandError(f"{name}: {file_too_large_message(path.stat().st_size)}")
            contents.append((path.name, path.read_bytes()))
        try:
            report = peers_import(profile=profile, files=contents, dry_run=dry_run, entity=entity, source=source,
                                  overrides=overrides, skip_invalid=skip_invalid)  # fmt: skip
        except PeersError as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:
            raise CommandError(
                _("The import stopped and can be carried on by running it again: %(error)s") % {"error": exc}
            ) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))
        else:
            styles = {"heading": self.style.MIGRATE_HEADING, "ok": self.style.SUCCESS, "error": self.style.ERROR}
            for style, line in report_lines(report):
                self.stdout.write(styles.get(style, str)(line))
        if report["errors"]:
            raise CommandError(_("Nothing was imported: some rows cannot be imported (see above)."))
        if not report["reconciled"]:
            raise CommandError(_("Some totals do not reconcile (see above)."))
