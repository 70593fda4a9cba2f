import json

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from backups.locks import MaintenanceBusy
from beils.lib.commands import OperatorCommand
from maintenance.reaper import stale_work_reap


class Command(OperatorCommand):
    help = (
        "Mark stranded work failed: a backup or import/export job still RUNNING with no sign of life for "
        "STALE_WORK_MINUTES was killed. Its temporary files (a backup's .partial file, a job's progress "
        "file) and the credentials files of dead processes are removed, and the admins are mailed once per "
        "item. Celery beat runs this every five minutes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print what was reaped as JSON.")

    def handle(self, *args, **options):
        try:
            reaped = stale_work_reap()
        except MaintenanceBusy as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(reaped.as_dict(), indent=2))
            return
        for backup in reaped.backups:
            self.stdout.write(self.style.WARNING(_("backup %(file)s: marked failed") % {"file": backup.file_name}))
        for work in [*reaped.jobs, *reaped.runs]:
            self.stdout.write(self.style.WARNING(_("%(work)s: marked failed") % {"work": work}))
        for path in reaped.files:
            self.stdout.write(_("removed %(path)s") % {"path": path})
        if not (reaped.backups or reaped.jobs or reaped.runs or reaped.files):
            self.stdout.write(self.style.SUCCESS(_("No stranded work.")))
