import json
from urllib.parse import urlsplit

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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
                self.style.WARNING(_("The password in --from shows in the process list and shell history; "
                                     "prefer LEGACY_DATABASE_PASSWORD or --defaults-file."))
            )  # fmt: skip
        try:
            report = legacy_import(url=url, defaults_file=defaults_file, dry_run=dry_run, batch_size=batch_size)
        except LegacyError as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:
            raise CommandError(
                _("The import failed and can be resumed by running it again: %(error)s") % {"error": exc}
            ) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))
        else:
            self.print_report(report)
        if not report["reconciled"]:
            raise CommandError(_("Some totals do not reconcile with the legacy database (see above)."))

    def print_report(self, r: dict) -> None:
        out, style = self.stdout, self.style
        heading = _("Dry run (nothing written) from %(source)s") if r["dry_run"] else _("Import from %(source)s")
        out.write(style.MIGRATE_HEADING(heading % {"source": r["source"]}))
        if r["resumed"]:
            out.write(
                _("Resumed: %(entities)s were done by the interrupted run.") % {"entities": ", ".join(r["resumed"])}
            )
        columns = (_("entity"), _("read"), _("created"), _("updated"), _("same"), _("skipped"))
        out.write(f"{columns[0]:<24}" + "".join(f"{column:>10}" for column in columns[1:]))
        for entity, c in r["counts"].items():
            out.write(
                f"{entity:<24}{c['read']:>10}{c['created']:>10}{c['updated']:>10}{c['unchanged']:>10}{c['skipped']:>10}"
            )
        out.write(style.MIGRATE_HEADING(_("Reconciliation")))
        for check in r["checks"]:
            mark = style.SUCCESS(_("ok")) if check["ok"] else style.ERROR(_("DIFFERS"))
            out.write(
                f"  {check['name']:<48} " + _("legacy") + f" {check['legacy']:>14}  beils {check['beils']:>14}  {mark}"
            )
        series = r["legacy_series"]
        line = _("Legacy invoices kept as a closed series: %(invoices)s, seal %(seal)s…") % {
            "invoices": series["invoices"], "seal": series["seal_sha256"][:16],
        }  # fmt: skip
        if series["gaps"]:
            line += "; " + _("numbers missing in the old series: %(gaps)s") % {"gaps": ", ".join(series["gaps"][:10])}
        out.write(line)
        future = r["future_bookings"]
        out.write(
            _("Future bookings: %(legacy)s in the old database; imported by status: %(beils)s")
            % {"legacy": future["legacy"], "beils": future["beils_by_status"]}
        )
        if r["problems"]:
            out.write(style.MIGRATE_HEADING(_("Rows to look at")))
            for p in r["problems"]:
                examples = ", ".join(p["examples"][:3])
                out.write(f"  [{p['level']}] {p['entity']}: {p['reason']} × {p['count']} → {p['action']}"
                          + ((" (" + _("e.g. %(examples)s") % {"examples": examples} + ")") if examples else ""))  # fmt: skip
        if r["duplicates"]:
            groups = len(r["duplicates"])
            out.write(
                style.MIGRATE_HEADING(
                    ngettext(
                        "Likely duplicate clients (%(count)s group; merge them in the admin)",
                        "Likely duplicate clients (%(count)s groups; merge them in the admin)",
                        groups,
                    ) % {"count": groups}
                )
            )  # fmt: skip
            for group in r["duplicates"][:20]:
                people = ", ".join(f"#{pk}" for pk in group["clients"])
                out.write("  " + _("same %(field)s: %(clients)s") % {"field": group["by"], "clients": people})
        if r["password_steps"]:
            out.write(style.MIGRATE_HEADING(_("Staff accounts: passwords were not carried over; set one for each")))
            for step in r["password_steps"]:
                line = f"  {step['email']}: {step['command']}"
                if step["admin_url"]:
                    line += "  " + _("or %(url)s") % {"url": step["admin_url"]}
                out.write(line)
        out.write(_("%(seconds)s s.") % {"seconds": f"{r['seconds']:.1f}"})
        if r["reconciled"]:
            out.write(style.SUCCESS(_("Every total reconciles to the cent.")))
