import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backups.locks import MaintenanceBusy
from beils.lib.commands import OperatorCommand
from maintenance.archive import archive_run
from maintenance.lifecycle import count_label
from maintenance.models import LifecycleRun


class Command(OperatorCommand):
    help = (
        "Apply the retention policies (admin: Maintenance → Retention policies): completed sales older "
        "than the policy's age move, with their lines and payments, to the archive tables, in batches "
        "of 1 000, each batch one transaction; archived sales older than the purge age are deleted; "
        "staff and clients inactive for the policy's age are deactivated; audit entries, jobs and run "
        "records older than a year are rotated (entries about sales are kept as long as invoices). "
        "Shows what would change and asks first; safe to interrupt and run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Report per policy what would change; change nothing."
        )
        parser.add_argument("--json", action="store_true", help="Print the run as JSON.")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def handle(self, *args, dry_run, interactive, **options):
        try:
            preview = archive_run(dry_run=True)
            if dry_run:
                return self.report(preview, options["json"])
            if interactive and not options["json"]:
                self.report(preview, False)
                if not confirmed(input(_("Apply these policies? [y/N] "))):
                    raise CommandError(_("Nothing was changed."))
            self.report(archive_run(dry_run=False), options["json"])
        except MaintenanceBusy as exc:
            raise CommandError(str(exc)) from exc

    def report(self, run: LifecycleRun, as_json: bool) -> None:
        write_run(self, run, as_json)


def write_run(command: BaseCommand, run: LifecycleRun, as_json: bool) -> None:
    """Print a lifecycle run per policy (or per table) for people, or as JSON for scripts."""
    if as_json:
        command.stdout.write(json.dumps(run_as_dict(run), indent=2))
        return
    if run.dry_run:
        heading = _("Dry run: nothing was changed.")
    else:
        heading = _("Done in %(seconds)s s.") % {"seconds": formats.number_format(run.seconds, 1)}
    sections = run.detail.get("policies") or {"": run.counts}
    for name, tables in sections.items():
        if name:
            command.stdout.write(command.style.MIGRATE_HEADING(name))
        for table, figures in tables.items():
            for what, rows in figures.items():
                command.stdout.write(f"  {table:<32} {count_label(what):<22} {rows:>10,}")
        if not tables:
            command.stdout.write("  " + _("nothing to do"))
    for label, count in run.detail.get("review", {}).items():
        command.stdout.write("  " + _("to review: %(count)s %(what)s") % {"count": count, "what": review_label(label)})
    command.stdout.write(command.style.SUCCESS(heading) if not run.dry_run else command.style.WARNING(heading))


def confirmed(answer: str) -> bool:
    """A yes in English or Spanish ("y", "yes", "s", "sí", "si")."""
    return answer.strip().lower() in ("y", "yes", "s", "si", "sí")


#: The archive's review list (``run.detail["review"]``, English keys for scripts) for people.
REVIEW_LABELS = {
    "expired coupons": gettext_lazy("expired coupons"),
    "used-up or expired bonos": gettext_lazy("used-up or expired bonos"),
    "spent or expired gift cards": gettext_lazy("spent or expired gift cards"),
}


def review_label(key: str) -> str:
    return str(REVIEW_LABELS.get(key, key))


def run_as_dict(run: LifecycleRun) -> dict:
    return {
        "ok": run.outcome != "FAILURE", "run": run.pk, "kind": run.kind, "dry_run": run.dry_run,
        "seconds": run.seconds, "counts": run.counts, **run.detail,
    }  # fmt: skip
