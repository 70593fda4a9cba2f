import json

from django.utils.translation import gettext as _

from beils.lib.commands import OperatorCommand
from maintenance.alerts import alerts_check


class Command(OperatorCommand):
    help = (
        "Check the alert thresholds now (disk below ALERT_DISK_FREE_PERCENT free, no good backup within "
        "the RPO, no restore test within ALERT_RESTORE_TEST_DAYS, a table growing abnormally, Celery beat "
        "silent): open new alerts and mail the admins once, resolve the ones that cleared. Celery beat runs "
        "this every fifteen minutes; run it from the system's cron too, as a watchdog that works when beat "
        "itself is down. Exits 1 while any alert is open."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print opened, resolved and open alerts as JSON.")

    def handle(self, *args, **options):
        result = alerts_check()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        else:
            for alert in result.opened:
                self.stdout.write(self.style.ERROR(_("opened: %(message)s") % {"message": alert.message}))
            for alert in result.resolved:
                self.stdout.write(self.style.SUCCESS(_("resolved: %(message)s") % {"message": alert.message}))
            for alert in result.still_open:
                if alert not in result.opened:
                    self.stdout.write(self.style.WARNING(_("open: %(message)s") % {"message": alert.message}))
            if not result.still_open:
                self.stdout.write(self.style.SUCCESS(_("No open alerts.")))
        if result.still_open:
            raise SystemExit(1)
