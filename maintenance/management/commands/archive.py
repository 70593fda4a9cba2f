import json

from django.core.management.base import BaseCommand, CommandError

from backups.locks import MaintenanceBusy
from beils.lib.commands import OperatorCommand
from maintenance.archive import archive_run
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
                if input("Apply these policies? [y/N] ").strip().lower() not in ("y", "yes"):
                    raise CommandError("Nothing was changed.")
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
    heading = "Dry run: nothing was changed." if run.dry_run else f"Done in {run.seconds:.1f} s."
    sections = run.detail.get("policies") or {"": run.counts}
    for name, tables in sections.items():
        if name:
            command.stdout.write(command.style.MIGRATE_HEADING(name))
        for table, figures in tables.items():
            for what, rows in figures.items():
                command.stdout.write(f"  {table:<32} {what:<18} {rows:>10,}")
        if not tables:
            command.stdout.write("  nothing to do")
    for label, count in run.detail.get("review", {}).items():
        command.stdout.write(f"  to review: {count} {label}")
    command.stdout.write(command.style.SUCCESS(heading) if not run.dry_run else command.style.WARNING(heading))


def run_as_dict(run: LifecycleRun) -> dict:
    return {
        "ok": run.outcome != "FAILURE", "run": run.pk, "kind": run.kind, "dry_run": run.dry_run,
        "seconds": run.seconds, "counts": run.counts, **run.detail,
    }  # fmt: skip
