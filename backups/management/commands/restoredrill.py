import json

from django.core.management.base import CommandError
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from audit.models import Outcome
from backups.drill import rto_tier
from backups.locks import MaintenanceBusy
from backups.models import RestoreDrill
from backups.services import BackupError, resolve
from beils.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Restore drill: restore the newest good backup (or BACKUP) into a scratch database, compare "
        "every table's rows and checksum with the manifest, verify the invoice hash chain in the "
        "restored copy, drop it, and record the measured recovery time against the recovery time "
        "objective (BACKUP_RTO_HOURS; tiers 1 h / 4 h / 24 h). Exits 1 when the drill fails or misses the RTO."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", nargs="?", help="Backup id or file name (default: the newest good backup).")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, backup=None, **options):
        from backups.drill import restore_drill

        try:
            drill = restore_drill(backup=resolve(backup) if backup else None)
        except (BackupError, MaintenanceBusy) as exc:
            failed = RestoreDrill.objects.filter(outcome=Outcome.FAILURE).order_by("-started_at").first()
            if options["json"]:
                self.stdout.write(json.dumps({"ok": False, "error": str(exc), "seconds": failed and failed.seconds}))
            raise CommandError(str(exc)) from exc
        result = {
            "ok": True, "file": drill.backup_file, "seconds": drill.seconds, "rto_hours": drill.rto_hours,
            "meets_rto": drill.meets_rto, "rto_tier_hours": rto_tier(drill.seconds), "tables": drill.tables,
            "rows": drill.rows, "invoices": drill.invoices,
            "restored_seconds": drill.detail.get("restored_seconds"),
        }  # fmt: skip
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            style = self.style.SUCCESS if drill.meets_rto else self.style.ERROR
            facts = {
                "name": drill.backup_file, "seconds": number_format(drill.seconds, 1), "tables": drill.tables,
                "rows": number_format(drill.rows, force_grouping=True), "invoices": drill.invoices,
                "rto": drill.rto_hours,
            }  # fmt: skip
            if drill.meets_rto:
                message = _(
                    "%(name)s: restored and verified in %(seconds)s s (%(tables)s tables, %(rows)s rows, %(invoices)s "
                    "invoices in an intact chain); RTO %(rto)s h met."
                )
            else:
                message = _(
                    "%(name)s: restored and verified in %(seconds)s s (%(tables)s tables, %(rows)s rows, %(invoices)s "
                    "invoices in an intact chain); RTO %(rto)s h MISSED."
                )
            self.stdout.write(style(message % facts))
        if not drill.meets_rto:
            raise SystemExit(1)
