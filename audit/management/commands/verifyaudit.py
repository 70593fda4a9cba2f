import json

from django.core.management.base import CommandError

from audit.chain import audit_chain_verify
from beils.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Verify the audit trail's hash chain: every entry's hash matches its contents, every entry "
        "links to the one before it (or to the stretch rotated away before it), and the newest "
        "entry is the one the chain's head names. Names the first broken link (id, time, action) "
        "and exits non-zero when anything is wrong."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        report = audit_chain_verify()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        elif report.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{report.entries} entries ({report.rotated} rotated away): the audit trail's hash chain is intact."
                )
            )
        else:
            for problem in report.problems:
                self.stdout.write(self.style.ERROR(str(problem)))
        if not report.ok:
            raise CommandError(
                f"{len(report.problems)} problem(s) in {report.entries} audit entries; "
                f"first broken link: {report.first_broken}."
            )
