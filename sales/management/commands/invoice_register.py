import io
import shutil
from datetime import date

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from beils.lib.commands import OperatorCommand
from beils.lib.money import format_money
from beils.lib.private import private_open
from sales.models import SalesError
from sales.register import (
    FORMATS,
    invoice_register,
    invoice_register_export,
    month_period,
    previous_month,
    register_reconciliation,
)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(_("Write dates as YYYY-MM-DD: %(value)s") % {"value": value}) from error


class Command(OperatorCommand):
    help = (
        "The register of issued invoices of a period (issue dates, both days included; last month by "
        "default) as CSV or XLSX, or each invoice's Veri*Factu record as JSON with the hash chain checked "
        "in its header. Written to -o FILE (readable by this account only) or, CSV and JSON, to the output. "
        "Audited. Exits non-zero on a bad period, or when the JSON finds the chain broken."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", help="Last day, YYYY-MM-DD (included).")
        parser.add_argument("--month", help="A whole month, YYYY-MM (instead of --from/--to).")
        parser.add_argument("--format", choices=FORMATS, default="csv", help="csv (default), xlsx or json.")
        parser.add_argument("-o", "--output", help="Write to this file (created 0600).")
        parser.add_argument(
            "--reconcile",
            action="store_true",
            help="Print instead how the register's total follows from the sales report's revenue of the period.",
        )

    def handle(self, *args, **options):
        start, end = self._period(options)
        fmt, output = options["format"], options["output"]
        if options["reconcile"]:
            return self._reconcile(start, end)
        if fmt == "xlsx" and not output:
            raise CommandError(_("XLSX is a binary file: name it with -o FILE."))
        try:
            exported = invoice_register_export(start=start, end=end, fmt=fmt, via="command")
        except SalesError as error:
            raise CommandError(str(error)) from error
        try:
            if output:
                with private_open(output, "wb") as handle:
                    shutil.copyfileobj(exported.file, handle, 1 << 20)
                self.stdout.write(
                    self.style.SUCCESS(
                        ngettext(
                            "%(rows)s invoice from %(start)s to %(end)s written to %(file)s.",
                            "%(rows)s invoices from %(start)s to %(end)s written to %(file)s.",
                            exported.rows,
                        )
                        % {"rows": exported.rows, "start": start, "end": end, "file": output}
                    )
                )
            else:
                text = io.TextIOWrapper(exported.file, encoding="utf-8-sig")
                while chunk := text.read(1 << 20):
                    self.stdout.write(chunk, ending="")
        finally:
            exported.close()
        if fmt == "json" and not exported.chain_ok:
            raise CommandError(_("The invoices' hash chain is broken: see the header's first_broken."))

    def _reconcile(self, start: date, end: date) -> None:
        try:
            reconciliation = register_reconciliation(invoice_register(start=start, end=end))
        except SalesError as error:
            raise CommandError(str(error)) from error
        labels = {
            "report_revenue": _("Sales report revenue (sales completed in the period)"),
            "sales_not_invoiced_in_period": _("− sales of the period not invoiced in it"),
            "invoices_of_sales_not_in_report": _("+ invoices of sales the report does not count"),
            "rectifying_invoices": _("+ rectifying invoices"),
            "register_total": _("= register total"),
        }
        for key, label in labels.items():
            self.stdout.write(f"{label}: {format_money(reconciliation[key])}")
        if not reconciliation["reconciled"]:
            raise CommandError(
                _("The register does not reconcile with the sales report: an invoice's total differs from its sale's.")
            )
        self.stdout.write(self.style.SUCCESS(_("Reconciled to the cent.")))

    def _period(self, options) -> tuple[date, date]:
        if options["month"]:
            if options["start"] or options["end"]:
                raise CommandError(_("Give either --month or --from/--to, not both."))
            try:
                return month_period(options["month"])
            except SalesError as error:
                raise CommandError(str(error)) from error
        if options["start"] or options["end"]:
            if not (options["start"] and options["end"]):
                raise CommandError(_("Give both --from and --to."))
            return _day(options["start"]), _day(options["end"])
        return previous_month(timezone.localdate())
