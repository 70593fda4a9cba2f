import json
import time
from datetime import date

from django.core.management.base import CommandError
from django.utils import formats
from django.utils.translation import gettext as _

from audit.models import Outcome
from audit.services import audit_log
from beils.lib.commands import OperatorCommand
from demo.services import demo_data_seed


class Command(OperatorCommand):
    help = (
        "Load deterministic demo data: staff users, clients with consents and questionnaires, the "
        "catalogue, marketing, three years of sales, debts and bookings. Runs once: if demo data "
        "exists it does nothing, unless --flush deletes the demo rows (and only those) first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=300, help="How many clients (default 300).")
        parser.add_argument("--flush", action="store_true", help="Delete existing demo data and seed again.")
        parser.add_argument("--random-seed", type=int, default=42, help="Same seed, same data (default 42).")
        parser.add_argument(
            "--anchor", type=date.fromisoformat, help="The 'today' of the data, YYYY-MM-DD (default today)."
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, clients, flush, random_seed, anchor, **options):
        if clients < 0:
            raise CommandError(_("--clients cannot be negative."))
        started = time.monotonic()
        try:
            report = demo_data_seed(clients=clients, random_seed=random_seed, anchor=anchor, flush=flush)
        except Exception as exc:
            audit_log(action="maintenance.seed.failed", outcome=Outcome.FAILURE, detail={"error": str(exc)})
            raise CommandError(_("Seeding failed, nothing was written: %(error)s") % {"error": exc}) from exc
        result = {**report.as_dict(), "seconds": round(time.monotonic() - started, 2)}
        if not report.skipped:
            audit_log(action="maintenance.seed.created", detail=result)
        self.print_report(report, result, as_json=options["json"])

    def print_report(self, report, result: dict, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(result, indent=2))
        elif report.skipped:
            self.stdout.write(_("Demo data is already loaded; nothing to do (use --flush to recreate it)."))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    _(
                        "Seeded %(rows)s rows for %(clients)s clients in %(seconds)s s "
                        "(random seed %(seed)s, anchor %(anchor)s)."
                    ) % {
                        "rows": formats.number_format(result["total_rows"], force_grouping=True),
                        "clients": formats.number_format(report.clients, force_grouping=True),
                        "seconds": formats.number_format(result["seconds"], 2),
                        "seed": report.random_seed,
                        "anchor": formats.date_format(report.anchor, "SHORT_DATE_FORMAT"),
                    }
                )
            )  # fmt: skip
            for label, count in result["rows"].items():
                self.stdout.write(f"  {label:<32} {count:>10,}")
