import json

from django.core.management.base import CommandError
from django.utils.translation import ngettext

from beils.lib.commands import OperatorCommand
from sales.chain import invoice_chain_verify


class Command(OperatorCommand):
    help = (
        "Verify the invoices: numbers are gap-free and unique per series and year, every stored "
        "hash matches the invoice's issuer, number, date, total and previous hash, and every "
        "previous hash is the hash of the invoice issued before it. Names the first broken link "
        "and exits non-zero when anything is wrong."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        report = invoice_chain_verify()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        elif report.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    ngettext(
                        "%(count)s invoice: numbering gap-free and the hash chain intact.",
                        "%(count)s invoices: numbering gap-free and the hash chain intact.",
                        report.invoices,
                    )
                    % {"count": report.invoices}
                )
            )
        else:
            for problem in report.problems:
                self.stdout.write(self.style.ERROR(f"{problem.number}: {problem.problem}"))
        if not report.ok:
            first = report.first_broken
            problems = ngettext(
                "%(count)s problem in %(invoices)s invoices; first broken link: %(number)s (%(problem)s).",
                "%(count)s problems in %(invoices)s invoices; first broken link: %(number)s (%(problem)s).",
                len(report.problems),
            )
            raise CommandError(
                problems
                % {
                    "count": len(report.problems),
                    "invoices": report.invoices,
                    "number": first.number,
                    "problem": first.problem,
                }
            )
