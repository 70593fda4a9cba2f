import json
from urllib.parse import urlsplit

from django.core.management.base import CommandError

from beils.lib.commands import OperatorCommand
from legacy.models import LegacyError
from legacy.services import legacy_import
from legacy.source import BATCH


class Command(OperatorCommand):
    help = (
        "Bring a salon over from the previous Beils Dashboard database (MariaDB/MySQL), read directly. "
        "Clients, staff (with unusable passwords: each sets a new one), consents, catalogue, bonos, bookings, "
        "sales with their lines, payments and debts, the old invoices as a closed series, coupons and gift "
        "cards. Each table is written in batches, one transaction each; old ids are remembered, so running "
        "it again updates instead of duplicating, and an interrupted run is resumed. Ends with a "
        "reconciliation to the cent (sales per year, open debt, bono sessions, gift card balances) and exits "
        "non-zero when a total differs. The password comes from LEGACY_DATABASE_PASSWORD or --defaults-file, "
        "never from the command line."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from", dest="url", metavar="URL",
            help="mysql://user@host:3306/dbname (default: LEGACY_DATABASE_URL). A password in the URL works "
            "but shows in the process list: prefer LEGACY_DATABASE_PASSWORD or --defaults-file.",
        )  # fmt: skip
        parser.add_argument("--defaults-file", help="An option file with a [client] group (user, password…).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Import and reconcile, then roll back: writes nothing."
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument("--batch-size", type=int, default=BATCH)

    def handle(self, *args, url, defaults_file, dry_run, batch_size, **options):
        if url and urlsplit(url).password:
            self.stderr.write(
                self.style.WARNING("The password in --from shows in the process list and shell history; "
                                   "prefer LEGACY_DATABASE_PASSWORD or --defaults-file.")
            )  # fmt: skip
        try:
            report = legacy_import(url=url, defaults_file=defaults_file, dry_run=dry_run, batch_size=batch_size)
        except LegacyError as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:
            raise CommandError(f"The import failed and can be resumed by running it again: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))
        else:
            self.print_report(report)
        if not report["reconciled"]:
            raise CommandError("Some totals do not reconcile with the legacy database (see above).")

    def print_report(self, r: dict) -> None:
        out, style = self.stdout, self.style
        out.write(
            style.MIGRATE_HEADING(f"{'Dry run (nothing written)' if r['dry_run'] else 'Import'} from {r['source']}")
        )
        if r["resumed"]:
            out.write(f"Resumed: {', '.join(r['resumed'])} were done by the interrupted run.")
        out.write(f"{'entity':<24}{'read':>9}{'created':>9}{'updated':>9}{'same':>9}{'skipped':>9}")
        for entity, c in r["counts"].items():
            out.write(
                f"{entity:<24}{c['read']:>9}{c['created']:>9}{c['updated']:>9}{c['unchanged']:>9}{c['skipped']:>9}"
            )
        out.write(style.MIGRATE_HEADING("Reconciliation"))
        for check in r["checks"]:
            mark = style.SUCCESS("ok") if check["ok"] else style.ERROR("DIFFERS")
            out.write(f"  {check['name']:<48} legacy {check['legacy']:>14}  beils {check['beils']:>14}  {mark}")
        series = r["legacy_series"]
        out.write(f"Legacy invoices kept as a closed series: {series['invoices']}, seal {series['seal_sha256'][:16]}…"
                  + (f"; numbers missing in the old series: {', '.join(series['gaps'][:10])}" if series["gaps"] else ""))  # fmt: skip
        future = r["future_bookings"]
        out.write(
            f"Future bookings: {future['legacy']} in the old database; imported by status: {future['beils_by_status']}"
        )
        if r["problems"]:
            out.write(style.MIGRATE_HEADING("Rows to look at"))
            for p in r["problems"]:
                examples = ", ".join(p["examples"][:3])
                out.write(f"  [{p['level']}] {p['entity']}: {p['reason']} × {p['count']} → {p['action']}"
                          + (f" (e.g. {examples})" if examples else ""))  # fmt: skip
        if r["duplicates"]:
            out.write(
                style.MIGRATE_HEADING(
                    f"Likely duplicate clients ({len(r['duplicates'])} groups; merge them in the admin)"
                )
            )
            for group in r["duplicates"][:20]:
                people = ", ".join(f"#{pk}" for pk in group["clients"])
                out.write(f"  same {group['by']}: {people}")
        if r["password_steps"]:
            out.write(style.MIGRATE_HEADING("Staff accounts: passwords were not carried over; set one for each"))
            for step in r["password_steps"]:
                out.write(
                    f"  {step['email']}: {step['command']}" + (f"  or {step['admin_url']}" if step["admin_url"] else "")
                )
        out.write(f"{r['seconds']:.1f} s.")
        if r["reconciled"]:
            out.write(style.SUCCESS("Every total reconciles to the cent."))
