import json

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from backups.locks import MaintenanceBusy
from beils.lib.commands import OperatorCommand
from maintenance.cleanup import REMOVED, Trash, cleanup_run
from maintenance.lifecycle import count_label
from maintenance.models import LifecycleRun


class Command(OperatorCommand):
    help = (
        "Remove test records, find and fix orphaned rows, purge old trash. Every operation is previewed "
        "first (a dry run, recorded like any run) and asks before changing anything. "
        "--test-data: rows made by `seed` and rows matching CLEANUP_TEST_EMAIL_DOMAINS (clients, users) and "
        "CLEANUP_TEST_SKU_PREFIXES (products), with their own records, children first; issued invoices are "
        "never removed, so what they point at is kept ('kept: has invoices'). "
        "--orphans: rows whose parent row is missing, one query per foreign key; reported only, unless "
        "--fix applies each relation's rule (CASCADE deletes the row, SET_NULL or a nullable PROTECT nulls the "
        "reference, a required PROTECT needs a person). "
        "--purge-trash: deactivated rows older than TRASH_PURGE_DAYS, unless other records protect them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--test-data", action="store_true", help="Remove demo and test-pattern records.")
        parser.add_argument("--orphans", action="store_true", help="Find rows whose parent row is missing.")
        parser.add_argument("--fix", action="store_true", help="With --orphans: fix them by each relation's rule.")
        parser.add_argument("--purge-trash", action="store_true", help="Delete old deactivated rows for good.")
        parser.add_argument("--dry-run", action="store_true", help="Only the preview: change nothing.")
        parser.add_argument("--json", action="store_true", help="Print the previews and results as JSON.")
        parser.add_argument("--noinput", "--no-input", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, test_data, orphans, fix, purge_trash, dry_run, noinput, **options):
        as_json = options["json"]
        if not (test_data or orphans or purge_trash):
            raise CommandError(_("Say what to clean: --test-data, --orphans and/or --purge-trash."))
        if fix and not orphans:
            raise CommandError(_("--fix goes with --orphans."))
        if as_json and not (dry_run or noinput):
            raise CommandError(_("--json cannot ask for confirmation: add --dry-run or --noinput."))
        # Each part is previewed, confirmed and run on its own: (key, title, what to ask cleanup_run, changes?).
        parts = []
        if test_data:
            parts.append(("test_data", _("Test data"), {"test_data": True}, True))
        if orphans:
            parts.append(("orphans", _("Orphaned rows"), {"orphans": True, "fix_orphans": fix}, fix))
        if purge_trash:
            title = _("Trash older than %(days)s days") % {"days": settings.TRASH_PURGE_DAYS}
            parts.append(("trash", title, {"trash": Trash()}, True))
        report, failed = {}, None
        try:
            for key, title, part, changes in parts:
                report[key] = self.run(key, title, part, changes=changes, dry_run=dry_run, noinput=noinput)
        except (MaintenanceBusy, Exception) as exc:
            failed = exc
        if as_json:
            self.stdout.write(json.dumps({"ok": failed is None, "dry_run": dry_run, "operations": report,
                                          **({"error": str(failed)} if failed else {})}, indent=2))  # fmt: skip
        if isinstance(failed, CommandError):
            raise failed
        if failed is not None:
            raise CommandError(_("Cleanup failed: %(error)s") % {"error": failed}) from failed

    def run(self, key: str, title: str, part: dict, *, changes: bool, dry_run: bool, noinput: bool) -> dict:
        preview = cleanup_run(dry_run=True, **part)[key]
        result = {"preview": self.as_dict(preview)}
        self.show(_("%(part)s: preview") % {"part": title}, preview)
        if dry_run or not changes:
            return result
        if not self.to_change(preview):
            self.say(_("Nothing to change."))
            return result
        if not noinput and input(_("Type 'yes' to go ahead: ")).strip().lower() not in ("yes", str(_("yes"))):
            self.say(self.style.WARNING(_("Cancelled: nothing changed.")))
            result["cancelled"] = True
            return result
        done = cleanup_run(dry_run=False, **part)[key]
        result["result"] = self.as_dict(done)
        self.show(_("%(part)s: done") % {"part": title}, done)
        return result

    @staticmethod
    def to_change(run: LifecycleRun) -> bool:
        return any(figures.get(REMOVED) or figures.get("nulled") for figures in run.counts.values())

    def say(self, text: str) -> None:
        if not self.as_json:
            self.stdout.write(text)

    def show(self, title: str, run: LifecycleRun) -> None:
        self.say(self.style.MIGRATE_HEADING(title))
        for orphans in run.detail.get("orphans", []):
            missing = ngettext(
                "%(rows)s row missing its %(parent)s", "%(rows)s rows missing their %(parent)s", orphans["rows"]
            ) % {"rows": orphans["rows"], "parent": orphans["parent"]}
            self.say(f"  {orphans['relation']:<40} {missing}  -> {count_label(orphans['rule'])}")
        if not run.counts:
            self.say("  " + _("nothing"))
        for table, figures in sorted(run.counts.items()):
            self.say(
                f"  {table:<40} " + ", ".join(f"{count_label(what)} {rows}" for what, rows in sorted(figures.items()))
            )

    def execute(self, *args, **options):
        self.as_json = options.get("json", False)
        return super().execute(*args, **options)

    @staticmethod
    def as_dict(run: LifecycleRun) -> dict:
        return {"run": run.pk, "outcome": run.outcome, "counts": run.counts, **run.detail}
