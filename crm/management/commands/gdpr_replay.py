import json

from beils.lib.commands import OperatorCommand
from crm.erasure import erasure_replay, ledger_path


class Command(OperatorCommand):
    help = (
        "Re-apply every GDPR erasure recorded in the erasure ledger (ERASURE_LEDGER_PATH) to the "
        "database. `restore` does this by itself; run it after restoring by other means (the bare-"
        "server path, `gunzip | mariadb`) and before the salon works again. Safe to run any number of "
        "times: an erased client is erased again and nothing else changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List what would be erased again; change nothing.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, dry_run, json, **options):
        result = erasure_replay(actor="manage.py gdpr_replay", dry_run=dry_run)
        if json:
            self.stdout.write(_dumps({"dry_run": dry_run, "ledger": str(ledger_path()), **result.as_detail()}))
            return
        verb = "Would erase" if dry_run else "Erased"
        self.stdout.write(f"Erasure ledger {ledger_path()}: {result.entries} erasure(s).")
        self.stdout.write(f"{verb} {len(result.erased)} client(s) again; {result.absent} no longer in the database.")
        if result.returned:
            self.stdout.write(
                self.style.WARNING(f"{len(result.returned)} erased client(s) had come back whole: {result.returned}")
            )
        if result.reused_ids:
            self.stdout.write(self.style.WARNING(f"Left alone, their id now names another client: {result.reused_ids}"))


def _dumps(data) -> str:
    return json.dumps(data, indent=2)
