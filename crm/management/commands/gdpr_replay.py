import json

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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
        entries = result.entries
        self.stdout.write(
            ngettext(
                "Erasure ledger %(ledger)s: %(count)s erasure.",
                "Erasure ledger %(ledger)s: %(count)s erasures.",
                entries,
            )
            % {"ledger": ledger_path(), "count": entries}
        )
        again = len(result.erased)
        if dry_run:
            done = ngettext("Would erase %(count)s client again", "Would erase %(count)s clients again", again)
        else:
            done = ngettext("Erased %(count)s client again", "Erased %(count)s clients again", again)
        absent = ngettext(
            "%(absent)s no longer in the database.", "%(absent)s no longer in the database.", result.absent
        ) % {"absent": result.absent}
        self.stdout.write(_("%(done)s; %(absent)s") % {"done": done % {"count": again}, "absent": absent})
        if result.returned:
            returned = ngettext(
                "%(count)s erased client had come back whole: %(ids)s",
                "%(count)s erased clients had come back whole: %(ids)s",
                len(result.returned),
            ) % {"count": len(result.returned), "ids": _ids(result.returned)}
            self.stdout.write(self.style.WARNING(returned))
        if result.reused_ids:
            self.stdout.write(
                self.style.WARNING(
                    _("Left alone, their id now names another client: %(ids)s") % {"ids": _ids(result.reused_ids)}
                )
            )


def _ids(ids: list[int]) -> str:
    return ", ".join(f"#{pk}" for pk in ids)


def _dumps(data) -> str:
    return json.dumps(data, indent=2)
